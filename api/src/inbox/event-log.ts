// Reading a recipient's inbox events with their notifications in one round trip (a Prisma include
// would be two): every live event costs each of its streams one read, so this is a hot path.
import type { InboxEvent, Notification, PrismaClient } from '@pigeon/schema';
import { notificationFields, notificationSelectList } from '../notification-columns.ts';

export type InboxEventRow = InboxEvent & { notification: Notification | null };

const notificationColumns = notificationSelectList({ table: 'n', prefix: 'n.' });

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
