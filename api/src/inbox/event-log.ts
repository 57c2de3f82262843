// Reading a recipient's inbox events with their notifications in one round trip (a Prisma include
// would be two): every live event costs each of its streams one read, so this is a hot path.
import { type InboxEvent, type Notification, Prisma, type PrismaClient } from '@pigeon/schema';

export type InboxEventRow = InboxEvent & { notification: Notification | null };

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Every scalar field of Notification, as `n.<column> AS "n.<field>"`. Built from Prisma's own field
 * list (columns are the snake_case of the fields, by the schema's @map convention), so a field
 * added to the model is read here too; a test compares the result with Prisma's own read.
 */
const notificationFields = Object.values(Prisma.NotificationScalarFieldEnum);
const notificationColumns = Prisma.raw(
  notificationFields
    .map((field) => {
      const column = `n.${snake(field)}`;
      // Enums and uuids come back as text, like Prisma's own reads.
      const cast = field === 'status' || field === 'id' || field.endsWith('Id') ? '::text' : '';
      return `${column}${cast} AS "n.${field}"`;
    })
    .join(', '),
);

type RawRow = Record<string, unknown> & {
  recipientId: string;
  seq: number;
  environmentId: string;
  type: InboxEvent['type'];
  notificationId: string | null;
  unreadCount: number;
  unseenCount: number;
  upToSeq: number | null;
  createdAt: Date;
};

export async function readInboxEvents(
  prisma: PrismaClient,
  recipientId: string,
  afterSeq: number,
  limit: number,
): Promise<InboxEventRow[]> {
  const rows = await prisma.$queryRaw<RawRow[]>`
    /* prepared */ SELECT e.recipient_id::text AS "recipientId", e.seq, e.environment_id::text AS "environmentId", e.type::text AS type,
           e.notification_id::text AS "notificationId", e.unread_count AS "unreadCount", e.unseen_count AS "unseenCount",
           e.up_to_seq AS "upToSeq", e.created_at AS "createdAt", ${notificationColumns}
      FROM inbox_events AS e
      LEFT JOIN notifications AS n ON n.id = e.notification_id
     WHERE e.recipient_id = ${recipientId}::uuid AND e.seq > ${afterSeq}
     ORDER BY e.seq
     LIMIT ${limit}`;
  return rows.map((row) => {
    let notification: Notification | null = null;
    if (row['n.id'] != null) {
      notification = Object.fromEntries(notificationFields.map((f) => [f, row[`n.${f}`]])) as unknown as Notification;
    }
    return {
      recipientId: row.recipientId,
      seq: row.seq,
      environmentId: row.environmentId,
      type: row.type,
      notificationId: row.notificationId,
      unreadCount: row.unreadCount,
      unseenCount: row.unseenCount,
      upToSeq: row.upToSeq,
      createdAt: row.createdAt,
      notification,
    };
  });
}
