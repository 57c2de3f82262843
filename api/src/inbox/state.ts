// Changes to one recipient's inbox. Each change is an inbox event with the recipient's next sequence
// number, written in the transaction that makes the change, under the recipient's row lock — so the
// sequence has no holes and its order is commit order (the render worker takes the same lock first).
//
// What the counters count (and what `unreadCount` / `unseenCount` always equal exactly):
//   unread = DELIVERED notifications with read_at IS NULL and archived_at IS NULL
//   unseen = DELIVERED notifications with seen_at IS NULL and archived_at IS NULL
// Reading a notification also marks it seen (a person who read it has seen it).
import { type Notification, Prisma, type PrismaClient } from '@pigeon/schema';
import { INBOX_ACTION_EVENTS, type WakeUpPublisher, type WebhookJobRequest } from '@pigeon/worker';
import { NotFoundError, ValidationError } from '../errors.ts';
import { isUuid } from '../uuid.ts';
import { decodeInboxCursor } from './cursor.ts';

export type InboxAction = 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED';

/** At most this many ids per call: one transaction must stay short. */
export const MAX_IDS_PER_CHANGE = 100;

export interface InboxOwner {
  environmentId: string;
  recipientId: string;
}

export interface InboxSnapshot extends InboxOwner {
  lastSeq: number;
  unreadCount: number;
  unseenCount: number;
}

export interface InboxChange {
  /** Notifications whose state this call changed (already-read ids marked read again are not here). */
  changed: Notification[];
  /** How many notifications the call changed. */
  changedCount: number;
  inbox: InboxSnapshot;
  /** Webhook deliveries the change created (in its transaction), to enqueue after commit. */
  webhooks: WebhookJobRequest[];
}

interface RowState {
  id: string;
  read: boolean;
  seen: boolean;
  archived: boolean;
}

/** Whether `action` changes a notification in `state`, and by how much each counter moves. */
function transition(action: InboxAction, s: RowState): { unread: number; unseen: number } | null {
  const visible = s.archived ? 0 : 1;
  switch (action) {
    case 'READ':
      return s.read ? null : { unread: -visible, unseen: s.seen ? 0 : -visible };
    case 'UNREAD':
      return s.read ? { unread: visible, unseen: 0 } : null;
    case 'SEEN':
      return s.seen ? null : { unread: 0, unseen: -visible };
    case 'ARCHIVED':
      return s.archived ? null : { unread: s.read ? 0 : -1, unseen: s.seen ? 0 : -1 };
    case 'UNARCHIVED':
      return s.archived ? { unread: s.read ? 0 : 1, unseen: s.seen ? 0 : 1 } : null;
  }
}

function assignment(action: InboxAction, now: Date): Prisma.Sql {
  switch (action) {
    case 'READ':
      return Prisma.sql`read_at = ${now}, seen_at = COALESCE(seen_at, ${now})`;
    case 'UNREAD':
      return Prisma.sql`read_at = NULL`;
    case 'SEEN':
      return Prisma.sql`seen_at = ${now}`;
    case 'ARCHIVED':
      return Prisma.sql`archived_at = ${now}`;
    case 'UNARCHIVED':
      return Prisma.sql`archived_at = NULL`;
  }
}

type Tx = Prisma.TransactionClient;

async function lockInbox(tx: Tx, owner: InboxOwner): Promise<InboxSnapshot> {
  const [row] = await tx.$queryRaw<{ last_seq: number; unread_count: number; unseen_count: number }[]>`
    SELECT last_seq, unread_count, unseen_count FROM recipients
     WHERE id = ${owner.recipientId}::uuid AND environment_id = ${owner.environmentId}::uuid
       FOR NO KEY UPDATE`;
  if (!row) throw new NotFoundError('Recipient', owner.recipientId);
  return { ...owner, lastSeq: row.last_seq, unreadCount: row.unread_count, unseenCount: row.unseen_count };
}

async function saveCounters(tx: Tx, inbox: InboxSnapshot): Promise<void> {
  await tx.$executeRaw`
    UPDATE recipients SET last_seq = ${inbox.lastSeq}, unread_count = ${inbox.unreadCount}, unseen_count = ${inbox.unseenCount}
     WHERE id = ${inbox.recipientId}::uuid`;
}

function validIds(ids: readonly string[]): string[] {
  if (ids.length === 0) throw new ValidationError([{ path: 'ids', message: 'Give at least one notification id.' }]);
  if (ids.length > MAX_IDS_PER_CHANGE) {
    throw new ValidationError([{ path: 'ids', message: `At most ${MAX_IDS_PER_CHANGE} ids per call.` }]);
  }
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const malformed = unique.find((id) => !isUuid(id));
  if (malformed !== undefined) throw new NotFoundError('Notification', malformed);
  return unique;
}

/**
 * Applies `action` to the given notifications of one inbox. Ids that are not delivered
 * notifications of this very recipient (unknown, another recipient's, another environment's, not
 * yet delivered) reject the whole call with NOT_FOUND and change nothing.
 */
export async function changeNotifications(
  prisma: PrismaClient,
  owner: InboxOwner,
  action: InboxAction,
  ids: readonly string[],
): Promise<InboxChange> {
  const wanted = validIds(ids);
  const now = new Date();
  return prisma.$transaction(async (tx) => {
    const inbox = await lockInbox(tx, owner);
    const rows = await tx.$queryRaw<{ id: string; read: boolean; seen: boolean; archived: boolean }[]>`
      SELECT id::text AS id, read_at IS NOT NULL AS read, seen_at IS NOT NULL AS seen, archived_at IS NOT NULL AS archived
        FROM notifications
       WHERE recipient_id = ${owner.recipientId}::uuid AND environment_id = ${owner.environmentId}::uuid
         AND status = 'DELIVERED' AND id = ANY(${wanted}::uuid[])
         FOR NO KEY UPDATE`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const missing = wanted.find((id) => !byId.has(id));
    if (missing !== undefined) throw new NotFoundError('Notification', missing);

    const events: Prisma.InboxEventCreateManyInput[] = [];
    const changedIds: string[] = [];
    for (const id of wanted) {
      const delta = transition(action, byId.get(id) as RowState);
      if (!delta) continue;
      inbox.lastSeq += 1;
      inbox.unreadCount += delta.unread;
      inbox.unseenCount += delta.unseen;
      changedIds.push(id);
      events.push({
        recipientId: owner.recipientId,
        seq: inbox.lastSeq,
        environmentId: owner.environmentId,
        type: action,
        notificationId: id,
        unreadCount: inbox.unreadCount,
        unseenCount: inbox.unseenCount,
      });
    }
    if (changedIds.length === 0) return { changed: [], changedCount: 0, inbox, webhooks: [] };

    await tx.$executeRaw`
      UPDATE notifications SET ${assignment(action, now)}, updated_at = ${now} WHERE id = ANY(${changedIds}::uuid[])`;
    await tx.inboxEvent.createMany({ data: events });
    await saveCounters(tx, inbox);
    const webhooks = await fanOut(tx, owner, INBOX_ACTION_EVENTS[action], changedIds);
    const changed = await tx.notification.findMany({ where: { id: { in: changedIds } }, orderBy: { id: 'desc' } });
    return { changed, changedCount: changedIds.length, inbox, webhooks };
  });
}

/**
 * Marks read (or seen) every notification delivered at or before `upTo` (an inbox cursor; default:
 * everything delivered when the call takes the inbox lock). A notification delivered later — even
 * one racing this call — keeps its state: the cursor's sequence, not the clock, draws the line.
 */
export async function markAllUpTo(
  prisma: PrismaClient,
  owner: InboxOwner,
  kind: 'ALL_READ' | 'ALL_SEEN',
  upTo: string | null | undefined,
): Promise<InboxChange> {
  let upToSeq: number | null = null;
  if (upTo != null) {
    const position = decodeInboxCursor(upTo);
    if (!position || position.recipientId !== owner.recipientId) {
      throw new ValidationError([{ path: 'upTo', message: 'Not a cursor of this inbox (use inbox.cursor or an event cursor).' }]);
    }
    upToSeq = position.seq;
  }
  const now = new Date();
  return prisma.$transaction(async (tx) => {
    const inbox = await lockInbox(tx, owner);
    if (upToSeq !== null && upToSeq > inbox.lastSeq) {
      throw new ValidationError([{ path: 'upTo', message: 'The cursor is ahead of this inbox.' }]);
    }
    const limit = upToSeq ?? inbox.lastSeq;
    const rows =
      kind === 'ALL_READ'
        ? await tx.$queryRaw<{ id: string; was_unseen: boolean; archived: boolean }[]>`
            WITH target AS (
              SELECT id, seen_at IS NULL AS was_unseen, archived_at IS NOT NULL AS archived FROM notifications
               WHERE recipient_id = ${owner.recipientId}::uuid AND environment_id = ${owner.environmentId}::uuid
                 AND status = 'DELIVERED' AND read_at IS NULL AND COALESCE(delivered_seq, 0) <= ${limit}
                 FOR NO KEY UPDATE)
            UPDATE notifications AS n
               SET read_at = ${now}, seen_at = COALESCE(n.seen_at, ${now}), updated_at = ${now}
              FROM target WHERE n.id = target.id
         RETURNING n.id::text AS id, target.was_unseen, target.archived`
        : await tx.$queryRaw<{ id: string; was_unseen: boolean; archived: boolean }[]>`
            WITH target AS (
              SELECT id, archived_at IS NOT NULL AS archived FROM notifications
               WHERE recipient_id = ${owner.recipientId}::uuid AND environment_id = ${owner.environmentId}::uuid
                 AND status = 'DELIVERED' AND seen_at IS NULL AND COALESCE(delivered_seq, 0) <= ${limit}
                 FOR NO KEY UPDATE)
            UPDATE notifications AS n SET seen_at = ${now}, updated_at = ${now}
              FROM target WHERE n.id = target.id
         RETURNING n.id::text AS id, true AS was_unseen, target.archived`;
    if (rows.length === 0) return { changed: [], changedCount: 0, inbox, webhooks: [] };
    for (const row of rows) {
      if (row.archived) continue;
      if (kind === 'ALL_READ') inbox.unreadCount -= 1;
      if (row.was_unseen) inbox.unseenCount -= 1;
    }
    inbox.lastSeq += 1;
    await tx.inboxEvent.create({
      data: {
        recipientId: owner.recipientId,
        seq: inbox.lastSeq,
        environmentId: owner.environmentId,
        type: kind,
        upToSeq: limit,
        unreadCount: inbox.unreadCount,
        unseenCount: inbox.unseenCount,
      },
    });
    await saveCounters(tx, inbox);
    // One webhook per notification changed, as if each had been marked on its own.
    const webhooks = await fanOut(
      tx,
      owner,
      INBOX_ACTION_EVENTS[kind],
      rows.map((r) => r.id),
    );
    // The changed rows are not listed (there may be thousands); `changedCount` says how many.
    return { changed: [], changedCount: rows.length, inbox, webhooks };
  });
}

/** Creates the webhook deliveries reporting a change, in its transaction (after the change itself). */
async function fanOut(tx: Tx, owner: InboxOwner, type: string, ids: readonly string[]): Promise<WebhookJobRequest[]> {
  const rows = await tx.$queryRaw<{ delivery_id: string; endpoint_id: string }[]>`
    SELECT delivery_id::text, endpoint_id::text FROM pigeon_webhook_fanout(${type}, ${ids}::uuid[])`;
  return rows.map((r) => ({ deliveryId: r.delivery_id, endpointId: r.endpoint_id, environmentId: owner.environmentId, attemptCount: 0 }));
}

/** After commit: wake the recipient's live streams (best effort; streams re-read Postgres anyway). */
export function announce(wakeUps: WakeUpPublisher, change: InboxChange, onError: (error: unknown) => void): void {
  if (change.changedCount === 0) return;
  const { environmentId, recipientId, lastSeq } = change.inbox;
  // Not awaited: a slow or absent Redis must not hold up the answer (streams recheck Postgres).
  wakeUps.publish({ environmentId, recipientId, seq: lastSeq }).catch(onError);
}
