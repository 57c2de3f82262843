// One subscriber's stream of inbox events: strictly contiguous sequence numbers, no gap and no
// duplicate, across the seam between replay and live and across anything Redis does.
//
// How: attach to the live wake-ups first, then read Postgres for every event after the last one
// sent — at the start (the replay) and again whenever a wake-up or a recheck says the recipient is
// ahead. Because every read starts right after the last event sent, a wake-up that arrives during
// the replay, a dropped or reordered publish, or a Redis reconnect can delay an event but never
// skip or repeat one: Postgres decides what comes next, Redis only says "look now".

import { Repeater } from '@graphql-yoga/subscription';
import type { InboxEvent, Notification, PrismaClient } from '@pigeon/schema';
import type { Logger } from '@pigeon/worker';
import { decodeInboxCursor } from './cursor.ts';
import { type InboxEventRow, readInboxEvents } from './event-log.ts';
import type { InboxHub } from './live.ts';
import type { InboxOwner } from './state.ts';

export type InboxEventTypeName = InboxEvent['type'] | 'RESYNC' | 'CONNECTED';

/** What the GraphQL InboxEvent type shows. */
export interface InboxEventView {
  recipientId: string;
  seq: number;
  type: InboxEventTypeName;
  notification: Notification | null;
  unreadCount: number;
  unseenCount: number;
  upToSeq: number | null;
  occurredAt: Date;
  /** RESYNC: why the client has to refetch. */
  reason: string | null;
}

export type InboxStreamItem =
  | { kind: 'event'; view: InboxEventView }
  /** The token expired: the stream ends with an UNAUTHENTICATED error. */
  | { kind: 'expired' }
  /** The token's recipient does not exist (a hand-made token): the stream ends with UNAUTHENTICATED. */
  | { kind: 'gone' }
  /** Something unexpected failed (logged): the stream ends with a masked error. */
  | { kind: 'error' };

export interface InboxStreamHooks {
  /** Runs after the stream is attached to live wake-ups and before it reads Postgres (tests pause here). */
  afterAttach?: (owner: InboxOwner) => Promise<void>;
  /** Sees every batch of events a stream reads (tests count them). */
  onRead?: (owner: InboxOwner, events: number) => void;
}

/**
 * The client's connection as far as backpressure goes (Node's ServerResponse fits). graphql-sse
 * takes events from the stream as fast as they come and queues them in memory until the socket
 * takes them; pausing reads while the connection is congested keeps that queue to about a batch.
 */
export interface StreamConnection {
  readonly writableNeedDrain: boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

export interface InboxStreamOptions {
  prisma: PrismaClient;
  hub: InboxHub;
  log: Logger;
  owner: InboxOwner;
  after: string | null | undefined;
  /** The client token's expiry: the stream ends with an UNAUTHENTICATED error then. */
  expiresAt: Date;
  hooks?: InboxStreamHooks;
  /** The HTTP response carrying the stream, when there is one (in-process requests have none). */
  connection?: StreamConnection;
  batchSize?: number;
}

const READ_RETRY_MS = 1_000;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2_147_483_647;

export function eventView(row: InboxEventRow): InboxEventView {
  return {
    recipientId: row.recipientId,
    seq: row.seq,
    type: row.type,
    notification: row.notification,
    unreadCount: row.unreadCount,
    unseenCount: row.unseenCount,
    upToSeq: row.upToSeq,
    occurredAt: row.createdAt,
    reason: null,
  };
}

export function inboxEventStream(options: InboxStreamOptions): Repeater<InboxStreamItem> {
  const { prisma, hub, owner, log, hooks, batchSize = 200 } = options;
  return new Repeater<InboxStreamItem>(async (push, stop) => {
    let stopped = false;
    let lastSent = Number.MAX_SAFE_INTEGER; // nothing is "ahead" until the start position is known
    let woken = false;
    let resume: () => void = () => {};
    // One reaction on `stop` for the stream's whole life (a race against `stop` per wait would add
    // one per event, kept until the stream ends).
    void stop.then(() => {
      stopped = true;
      resume();
    });
    const wake = () => {
      woken = true;
      resume();
    };
    /** Until a wake-up, the stop, or `ms` (when given). */
    const nextWake = (ms?: number) =>
      new Promise<void>((resolve) => {
        const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
        resume = () => {
          clearTimeout(timer);
          resolve();
        };
        if (stopped) resume();
      }).then(() => {
        resume = () => {};
      });
    /** Runs a database read until it succeeds (a blip must not end every stream), or the stream stops. */
    const retrying = async <T>(what: string, read: () => Promise<T>): Promise<{ value: T } | null> => {
      while (!stopped) {
        try {
          return { value: await read() };
        } catch (error) {
          log.warn(`inbox stream ${what} failed; retrying`, { recipientId: owner.recipientId, error });
          await nextWake(READ_RETRY_MS);
        }
      }
      return null;
    };

    /** Waits while the client's connection has more unsent data than its buffer holds. */
    const uncongested = async () => {
      const c = options.connection;
      while (c?.writableNeedDrain && !stopped) {
        await new Promise<void>((resolve) => {
          const done = () => {
            c.off('drain', done);
            c.off('close', done);
            resume = () => {};
            resolve();
          };
          c.once('drain', done);
          c.once('close', done);
          resume = done;
        });
      }
    };

    const detach = await hub.attach(
      owner.environmentId,
      owner.recipientId,
      (seq) => {
        if (seq > lastSent) wake();
      },
      () => stop(),
    );
    // Tokens live at most 24 h, well inside setTimeout's range.
    const expiryTimer = setTimeout(wake, Math.max(0, Math.min(options.expiresAt.getTime() - Date.now(), MAX_TIMER_MS)));

    /** The inbox's current position as a CONNECTED or RESYNC event; null when the stream stopped. */
    const snapshot = async (type: 'RESYNC' | 'CONNECTED', reason: string | null): Promise<InboxEventView | 'gone' | null> => {
      const read = await retrying('snapshot', () =>
        prisma.recipient.findFirst({
          where: { id: owner.recipientId, environmentId: owner.environmentId },
          select: { lastSeq: true, unreadCount: true, unseenCount: true },
        }),
      );
      if (!read) return null;
      const r = read.value;
      if (!r) return 'gone';
      return {
        recipientId: owner.recipientId,
        seq: r.lastSeq,
        type,
        notification: null,
        unreadCount: r.unreadCount,
        unseenCount: r.unseenCount,
        upToSeq: null,
        occurredAt: new Date(),
        reason,
      };
    };
    /** Sends CONNECTED or RESYNC and continues from there; false when the stream must end. */
    const announcePosition = async (type: 'RESYNC' | 'CONNECTED', reason: string | null): Promise<boolean> => {
      const view = await snapshot(type, reason);
      if (view === null) return false;
      if (view === 'gone') {
        await push({ kind: 'gone' });
        return false;
      }
      lastSent = view.seq;
      await push({ kind: 'event', view });
      return true;
    };

    try {
      await hooks?.afterAttach?.(owner);
      if (stopped) return;

      // Where to start. `mustFind`: the first read has to return the event right after the cursor.
      let mustFind = false;
      const position = options.after == null ? null : decodeInboxCursor(options.after);
      if (options.after == null) {
        if (!(await announcePosition('CONNECTED', null))) return;
      } else if (!position) {
        if (!(await announcePosition('RESYNC', 'The cursor is malformed.'))) return;
      } else if (position.recipientId !== owner.recipientId) {
        if (!(await announcePosition('RESYNC', 'The cursor belongs to another inbox.'))) return;
      } else {
        const view = await snapshot('CONNECTED', null);
        if (view === null) return;
        if (view === 'gone') return void (await push({ kind: 'gone' }));
        if (position.seq > view.seq) {
          if (!(await announcePosition('RESYNC', 'The cursor is ahead of this inbox.'))) return;
        } else {
          lastSent = position.seq;
          mustFind = position.seq < view.seq;
        }
      }

      while (!stopped) {
        if (Date.now() >= options.expiresAt.getTime()) {
          await push({ kind: 'expired' });
          return;
        }
        await uncongested();
        if (stopped) return;
        woken = false;
        const read = await retrying('read', () => readInboxEvents(prisma, owner.recipientId, lastSent, batchSize));
        if (!read) return;
        const rows = read.value;
        hooks?.onRead?.(owner, rows.length);
        // Sequence numbers have no holes, so a missing one can only have been pruned (retention):
        // the events the client needs are gone. Checked for every row, not just the first.
        const broken = (mustFind && rows.length === 0) || rows.some((row, i) => row.seq !== lastSent + 1 + i);
        mustFind = false;
        if (broken) {
          if (!(await announcePosition('RESYNC', 'Events after the cursor are older than the retention window.'))) return;
          continue;
        }
        for (const row of rows) {
          if (stopped) return;
          lastSent = row.seq;
          await push({ kind: 'event', view: eventView(row) });
        }
        if (rows.length === batchSize || woken || stopped) continue;
        await nextWake();
      }
    } catch (error) {
      // Nothing may escape: a rejected stream would surface as an unhandled rejection in the SSE
      // layer and take the process down. The client gets a masked error and resubscribes.
      log.error('inbox stream failed', { recipientId: owner.recipientId, error });
      await push({ kind: 'error' });
    } finally {
      detach();
      clearTimeout(expiryTimer);
      stop();
    }
  });
}
