// The live inbox over real HTTP/SSE: a real API server (startServer, in-process) with its real render
// worker, subscribed to with the official graphql-sse client (and urql on top of it). Proves the
// stream's promise: every event after a cursor replayed from Postgres, then live, strictly
// contiguous; RESYNC for cursors it cannot honour; the seam between replay and live; token expiry;
// refusals; and that closed streams give their Redis subscriptions back.
import { type Database, openPostgres } from '@pigeon/schema';
import { createLogger, createRenderQueue, createWebhookQueue, inboxChannel, pruneInboxEvents } from '@pigeon/worker';
import { cacheExchange, createClient as createUrqlClient, subscriptionExchange } from '@urql/core';
import { createClient as createSseClient } from 'graphql-sse';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { encodeInboxCursor } from '../src/inbox/cursor.ts';
import { createInboxRuntime } from '../src/inbox/runtime.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import {
  bearer,
  createTenant,
  createTestDatabase,
  flushPrefix,
  type GqlClient,
  httpClient,
  mintClientToken,
  TEST_REDIS_URL,
  type Tenant,
  testEnv,
  uniqueName,
} from './harness.ts';
import { mulberry32 } from './random.ts';
import { type InboxEventData, type InboxStream, streamUrl, subscribeInbox } from './sse-client.ts';

const SEED = Number(process.env.PIGEON_TEST_SEED ?? Date.now() % 2 ** 31);
const seedNote = `(seed ${SEED}; replay with PIGEON_TEST_SEED=${SEED})`;

const prefix = uniqueName('pigeoninbox');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let server: RunningServer;
let base: string;
let redis: Redis;
let tenant: Tenant;
const openStreams = new Set<InboxStream>();

/** The afterAttach pause: when set for a recipient, its next stream waits here after attaching to live. */
const pauses = new Map<string, { paused: () => void; release: Promise<void> }>();

/** The harness's gql(), over real HTTP to the running server (its tenant and token helpers use it). */
const api: GqlClient = { gql: (query, variables, headers) => httpClient(base).gql(query, variables, headers) };
const gql = api.gql;

beforeAll(async () => {
  database = await createTestDatabase();
  db = openPostgres({ url: database.url, poolSize: 10 });
  const env = testEnv(database.url, prefix, {
    // Rechecks are the safety net, not the mechanism under test: keep them out of the way.
    INBOX_RECHECK_INTERVAL_MS: '60000',
    WORKER_CONCURRENCY: '4',
    RENDER_THREADS: '1',
  });
  server = await startServer({
    env,
    db,
    log: createLogger('silent'),
    withWorkers: true,
    hooks: {
      inboxStream: {
        afterAttach: async (owner) => {
          const pause = pauses.get(owner.recipientId);
          if (!pause) return;
          pauses.delete(owner.recipientId);
          pause.paused();
          await pause.release;
        },
      },
    },
  });
  base = server.url.replace('//localhost:', '//127.0.0.1:');
  redis = new Redis(TEST_REDIS_URL);
  tenant = await createTenant(api);
  // The 1,000-cycle test subscribes far more often than a person's budget (600/min) allows.
  await db.prisma.environment.update({ where: { id: tenant.developmentId }, data: { clientTokenOpsPerMinute: 1_000_000 } });
}, 60_000);

afterAll(async () => {
  await Promise.all([...openStreams].map((s) => s.close()));
  await server?.stop();
  await db?.close();
  if (redis) {
    await flushPrefix(redis, prefix);
    await redis.quit();
  }
  await database?.drop();
});

// ---------------------------------------------------------------------------------------------
// helpers

function subscribe(token: string | undefined, options: { after?: string | null; headers?: Record<string, string> } = {}) {
  const stream = subscribeInbox(base, token, options);
  openStreams.add(stream);
  void stream.ended.then(() => openStreams.delete(stream));
  return stream;
}

async function clientToken(recipient: string, ttlSeconds?: number) {
  return mintClientToken(api, tenant.apiKey, recipient, ttlSeconds);
}

async function send(to: string, title: string): Promise<string> {
  const { body } = await gql(
    `mutation($input: SendInput!) { send(input: $input) { __typename ... on SendSuccess { notification { id } } ... on Error { code message } } }`,
    { input: { to, title, body: `body of ${title}` } },
    bearer(tenant.apiKey),
  );
  expect(body.data?.send?.__typename, JSON.stringify(body)).toBe('SendSuccess');
  return body.data.send.notification.id as string;
}

async function delivered(id: string) {
  await expect
    .poll(async () => (await db.prisma.notification.findUniqueOrThrow({ where: { id } })).status, { timeout: 15_000, interval: 25 })
    .toBe('DELIVERED');
  return db.prisma.notification.findUniqueOrThrow({ where: { id } });
}

async function sendDelivered(to: string, title: string) {
  return delivered(await send(to, title));
}

type ChangeField = 'markRead' | 'markUnread' | 'markSeen' | 'archive' | 'unarchive';

async function change(token: string, field: ChangeField, ids: string[]) {
  const { body } = await gql(
    `mutation($ids: [ID!]!) { r: ${field}(ids: $ids) { __typename ... on InboxChange { seq cursor unreadCount unseenCount changedCount } ... on Error { code message } } }`,
    { ids },
    bearer(token),
  );
  expect(body.data?.r?.__typename, JSON.stringify(body)).toBe('InboxChange');
  return body.data.r as { seq: number; cursor: string; unreadCount: number; unseenCount: number; changedCount: number };
}

async function markAllRead(token: string, upTo?: string) {
  const { body } = await gql(
    `mutation($upTo: String) { markAllRead(upTo: $upTo) { __typename ... on InboxChange { seq cursor unreadCount unseenCount changedCount } ... on Error { code message } } }`,
    { upTo },
    bearer(token),
  );
  expect(body.data?.markAllRead?.__typename, JSON.stringify(body)).toBe('InboxChange');
  return body.data.markAllRead as { seq: number; cursor: string; unreadCount: number; unseenCount: number; changedCount: number };
}

async function inbox(token: string) {
  const { body } = await gql(`{ inbox { recipientId cursor seq unreadCount unseenCount } }`, {}, bearer(token));
  expect(body.data?.inbox, JSON.stringify(body)).toBeTruthy();
  return body.data.inbox as { recipientId: string; cursor: string; seq: number; unreadCount: number; unseenCount: number };
}

/** The stored events of a recipient, as the stream should show them. */
async function storedEvents(recipientId: string, afterSeq = 0) {
  const rows = await db.prisma.inboxEvent.findMany({ where: { recipientId, seq: { gt: afterSeq } }, orderBy: { seq: 'asc' } });
  return rows.map((r) => ({
    seq: r.seq,
    type: r.type as string,
    notificationId: r.notificationId,
    unreadCount: r.unreadCount,
    unseenCount: r.unseenCount,
    upToSeq: r.upToSeq,
  }));
}

function shown(events: InboxEventData[]) {
  return events.map((e) => ({
    seq: e.seq,
    type: e.type,
    notificationId: e.notification?.id ?? null,
    unreadCount: e.unreadCount,
    unseenCount: e.unseenCount,
    upToSeq: e.upToSeq,
  }));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Redis's count of subscribers to one channel, across every connection. */
async function numsub(channel: string): Promise<number> {
  const reply = (await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

async function inboxChannels(): Promise<string[]> {
  return ((await redis.call('PUBSUB', 'CHANNELS', `${prefix}:inbox:*`)) as string[]).sort();
}

function channelOf(recipientId: string) {
  return inboxChannel(prefix, tenant.developmentId, recipientId);
}

/** Pauses the next stream of `recipientId` right after it attached to live, until `release()`. */
function pauseNextStream(recipientId: string) {
  let paused!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    paused = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  pauses.set(recipientId, { paused, release: released });
  return { reached, release };
}

// ---------------------------------------------------------------------------------------------

describe('inboxEvents without `after`', () => {
  it('starts with CONNECTED (current cursor, seq and counts), then each delivery arrives live as DELIVERED', async () => {
    const recipient = uniqueName('live');
    const { token, recipientId } = await clientToken(recipient);
    const before = [await sendDelivered(recipient, 'old 1'), await sendDelivered(recipient, 'old 2')];
    await change(token, 'markRead', [before[0]?.id as string]);
    const now = await inbox(token);
    expect(now).toMatchObject({ seq: 3, unreadCount: 1, unseenCount: 1 });

    const stream = subscribe(token);
    const [connected] = await stream.waitForEvents(1);
    expect(connected).toEqual({
      cursor: now.cursor,
      seq: 3,
      type: 'CONNECTED',
      unreadCount: 1,
      unseenCount: 1,
      upToSeq: null,
      reason: null,
      notification: null,
    });
    expect(await inboxChannels()).toContain(channelOf(recipientId));

    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      ids.push(await send(recipient, `live ${i}`));
      await stream.waitForEvents(1 + i);
    }
    const live = stream.events.slice(1);
    expect(live.map((e) => e.type)).toEqual(['DELIVERED', 'DELIVERED', 'DELIVERED']);
    expect(live.map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(live.map((e) => e.notification?.id)).toEqual(ids);
    expect(live.map((e) => e.notification?.title)).toEqual(['live 1', 'live 2', 'live 3']);
    expect(live.map((e) => [e.unreadCount, e.unseenCount])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    expect(live.map((e) => e.cursor)).toEqual(live.map((e) => encodeInboxCursor({ recipientId, seq: e.seq })));
    expect(shown(live)).toEqual(await storedEvents(recipientId, 3));
    // The last event's cursor is the inbox's cursor: a client can resubscribe from it.
    expect(live.at(-1)?.cursor).toBe((await inbox(token)).cursor);
    expect(stream.end).toBeNull();
    await stream.close();
  });

  it('delivers changes made through the API (read, unread, seen, archive, unarchive, all read), not only deliveries', async () => {
    const recipient = uniqueName('changes');
    const { token, recipientId } = await clientToken(recipient);
    const [a, b, c] = [await sendDelivered(recipient, 'a'), await sendDelivered(recipient, 'b'), await sendDelivered(recipient, 'c')];
    const ids = [a, b, c].map((n) => n?.id as string);
    const stream = subscribe(token);
    await stream.waitForEvents(1);

    await change(token, 'markRead', [ids[0] as string]);
    await change(token, 'markUnread', [ids[0] as string]);
    await change(token, 'markSeen', [ids[1] as string]);
    await change(token, 'archive', [ids[2] as string]);
    await change(token, 'unarchive', [ids[2] as string]);
    const all = await markAllRead(token);
    const events = await stream.waitForEvents(7);
    expect(events.map((e) => [e.type, e.seq, e.notification?.id ?? null, e.unreadCount, e.unseenCount])).toEqual([
      ['CONNECTED', 3, null, 3, 3],
      ['READ', 4, ids[0], 2, 2],
      ['UNREAD', 5, ids[0], 3, 2],
      ['SEEN', 6, ids[1], 3, 1],
      ['ARCHIVED', 7, ids[2], 2, 0],
      ['UNARCHIVED', 8, ids[2], 3, 1],
      ['ALL_READ', 9, null, 0, 0],
    ]);
    expect(events.at(-1)?.upToSeq).toBe(8);
    expect(all).toMatchObject({ seq: 9, unreadCount: 0, unseenCount: 0, changedCount: 3 });
    expect(shown(events.slice(1))).toEqual(await storedEvents(recipientId, 3));
    await stream.close();
  });
});

describe('inboxEvents(after)', () => {
  it('replays every event after the cursor from Postgres with the counts of their time, then continues live', async () => {
    const recipient = uniqueName('replay');
    const { token, recipientId } = await clientToken(recipient);
    const start = await inbox(token);
    expect(start.seq).toBe(0);
    const n1 = await sendDelivered(recipient, 'one');
    const afterFirst = (await inbox(token)).cursor;
    const n2 = await sendDelivered(recipient, 'two');
    await change(token, 'markRead', [n1.id]);
    await sendDelivered(recipient, 'three');
    await change(token, 'archive', [n2.id]);
    const stored = await storedEvents(recipientId);
    expect(stored.map((e) => [e.type, e.unreadCount, e.unseenCount])).toEqual([
      ['DELIVERED', 1, 1],
      ['DELIVERED', 2, 2],
      ['READ', 1, 1],
      ['DELIVERED', 2, 2],
      ['ARCHIVED', 1, 1],
    ]);

    // From the very beginning (cursor at seq 0): all five, no CONNECTED, then live.
    const fromStart = subscribe(token, { after: start.cursor });
    const replayed = await fromStart.waitForEvents(5);
    expect(shown(replayed)).toEqual(stored);
    // A replay shows what was true then (unread 2 after the 2nd delivery), not today's counts.
    expect((await inbox(token)).unreadCount).toBe(1);

    // From after the first event: events 2..5 only.
    const fromFirst = subscribe(token, { after: afterFirst });
    expect(shown(await fromFirst.waitForEvents(4))).toEqual(stored.slice(1));

    // From the newest cursor: nothing to replay, and no CONNECTED either.
    const fromNow = subscribe(token, { after: (await inbox(token)).cursor });

    const n4 = await send(recipient, 'four');
    for (const [stream, count] of [
      [fromStart, 6],
      [fromFirst, 5],
      [fromNow, 1],
    ] as const) {
      const events = await stream.waitForEvents(count);
      expect(events.map((e) => e.seq)).toEqual(range(6 - count + 1, 6));
      expect(events.at(-1)).toMatchObject({ type: 'DELIVERED', seq: 6, unreadCount: 2, unseenCount: 2, notification: { id: n4 } });
    }
    await Promise.all([fromStart.close(), fromFirst.close(), fromNow.close()]);
  });

  it('replays more events than one read batch (200) contiguously', async () => {
    const recipient = uniqueName('batch');
    const { token, recipientId } = await clientToken(recipient);
    const n = await sendDelivered(recipient, 'only');
    const start = await inbox(token);
    // 250 changes: read/unread flips of one notification (cheap, and each one is an event).
    for (let i = 0; i < 125; i++) {
      await change(token, 'markRead', [n.id]);
      await change(token, 'markUnread', [n.id]);
    }
    const stream = subscribe(token, { after: start.cursor });
    const events = await stream.waitForEvents(250, 20_000);
    expect(events.map((e) => e.seq)).toEqual(range(2, 251));
    expect(shown(events)).toEqual(await storedEvents(recipientId, 1));
    await stream.close();
  });
});

describe('RESYNC', () => {
  /** The first event is RESYNC at the inbox's current position; a delivery then follows contiguously. */
  async function expectResyncThenLive(stream: InboxStream, token: string, recipient: string, reason: RegExp) {
    const now = await inbox(token);
    const [first] = await stream.waitForEvents(1);
    expect(first).toMatchObject({
      type: 'RESYNC',
      seq: now.seq,
      cursor: now.cursor,
      unreadCount: now.unreadCount,
      unseenCount: now.unseenCount,
      notification: null,
    });
    expect(first?.reason).toMatch(reason);
    const id = await send(recipient, 'after resync');
    const events = await stream.waitForEvents(2);
    expect(events.map((e) => [e.type, e.seq])).toEqual([
      ['RESYNC', now.seq],
      ['DELIVERED', now.seq + 1],
    ]);
    expect(events[1]?.notification?.id).toBe(id);
    await stream.close();
  }

  it('answers a malformed cursor with RESYNC first, then continues from its cursor', async () => {
    const recipient = uniqueName('malformed');
    const { token } = await clientToken(recipient);
    await sendDelivered(recipient, 'x');
    for (const after of ['not-a-cursor', '', '!!!', Buffer.from('i1:nope:3').toString('base64url'), 'a'.repeat(500)]) {
      await expectResyncThenLive(subscribe(token, { after }), token, recipient, /malformed/);
    }
  });

  it("answers another recipient's cursor with RESYNC", async () => {
    const recipient = uniqueName('mine');
    const { token } = await clientToken(recipient);
    const other = await clientToken(uniqueName('theirs'));
    await sendDelivered(recipient, 'x');
    const theirs = await inbox(other.token);
    await expectResyncThenLive(subscribe(token, { after: theirs.cursor }), token, recipient, /another inbox/);
  });

  it('answers a cursor ahead of the inbox with RESYNC', async () => {
    const recipient = uniqueName('ahead');
    const { token, recipientId } = await clientToken(recipient);
    await sendDelivered(recipient, 'x');
    const ahead = encodeInboxCursor({ recipientId, seq: 50 });
    await expectResyncThenLive(subscribe(token, { after: ahead }), token, recipient, /ahead/);
  });

  it('answers a cursor older than retention (earliest events deleted in SQL) with RESYNC', async () => {
    const recipient = uniqueName('pruned-sql');
    const { token, recipientId } = await clientToken(recipient);
    const start = await inbox(token);
    await sendDelivered(recipient, '1');
    const afterFirst = (await inbox(token)).cursor;
    for (const t of ['2', '3', '4']) await sendDelivered(recipient, t);
    // What the pruner does to a long-idle inbox: its earliest events are gone.
    const deleted = await db.prisma.$executeRaw`DELETE FROM inbox_events WHERE recipient_id = ${recipientId}::uuid AND seq <= 2`;
    expect(deleted).toBe(2);
    await expectResyncThenLive(subscribe(token, { after: start.cursor }), token, recipient, /retention/);
    await expectResyncThenLive(subscribe(token, { after: afterFirst }), token, recipient, /retention/);
    // A cursor at or after the oldest kept event's predecessor loses nothing: a plain replay.
    const kept = subscribe(token, { after: encodeInboxCursor({ recipientId, seq: 2 }) });
    const events = await kept.waitForEvents(4);
    expect(events.map((e) => [e.type, e.seq])).toEqual([
      ['DELIVERED', 3],
      ['DELIVERED', 4],
      ['DELIVERED', 5],
      ['DELIVERED', 6],
    ]);
    await kept.close();
  });

  it('answers a cursor whose events the real pruner removed with RESYNC', async () => {
    const recipient = uniqueName('pruned');
    const { token, recipientId } = await clientToken(recipient);
    const start = await inbox(token);
    for (const t of ['1', '2', '3']) await sendDelivered(recipient, t);
    const afterThird = (await inbox(token)).cursor;
    // Backdate only this recipient's events past the 72 h retention, then run the worker's pruner.
    await db.prisma.$executeRaw`UPDATE inbox_events SET created_at = now() - interval '73 hours' WHERE recipient_id = ${recipientId}::uuid`;
    const pruned = await pruneInboxEvents(db.prisma, { retentionHours: 72 });
    expect(pruned).toBe(3);
    expect(await storedEvents(recipientId)).toEqual([]);
    // Every event after the cursor is gone (none kept at all): RESYNC, not silence.
    await expectResyncThenLive(subscribe(token, { after: start.cursor }), token, recipient, /retention/);
    // A cursor at the last pruned event needs nothing that was pruned (event 4, delivered after
    // the RESYNC above, is kept): a plain replay, then live.
    const current = subscribe(token, { after: afterThird });
    const id = await send(recipient, 'live');
    const events = await current.waitForEvents(2);
    expect(events.map((e) => [e.type, e.seq])).toEqual([
      ['DELIVERED', 4],
      ['DELIVERED', 5],
    ]);
    expect(events[1]?.notification?.id).toBe(id);
    await current.close();
  });
});

describe('the seam between replay and live', () => {
  it('neither loses nor doubles events produced while a stream is paused between attaching and replaying', async () => {
    const rnd = mulberry32(SEED);
    const recipient = uniqueName('seam');
    const { token, recipientId } = await clientToken(recipient);
    const delivered1 = await sendDelivered(recipient, 'before 1');
    const from = (await inbox(token)).cursor; // seq 1: replay must start at 2
    const existing = [delivered1.id, (await sendDelivered(recipient, 'before 2')).id, (await sendDelivered(recipient, 'before 3')).id];

    // Watch the recipient's channel ourselves, to know each wake-up was published while paused.
    const watcher = new Redis(TEST_REDIS_URL);
    const wakeUps: number[] = [];
    watcher.on('message', (_channel, message) => wakeUps.push((JSON.parse(message) as { seq: number }).seq));
    await watcher.subscribe(channelOf(recipientId));

    try {
      const pause = pauseNextStream(recipientId);
      const stream = subscribe(token, { after: from });
      await pause.reached;
      // Attached to live before the pause: the API process holds the channel (and so do we).
      expect(await numsub(channelOf(recipientId))).toBe(2);

      // While paused: a seeded mix of deliveries (by the worker) and inbox changes (by the API).
      const ids = [...existing];
      const steps = 6 + Math.floor(rnd() * 5);
      const plan: string[] = [];
      for (let i = 0; i < steps; i++) {
        const before = (await inbox(token)).seq;
        if (rnd() < 0.5) {
          plan.push('send');
          ids.push((await sendDelivered(recipient, `paused ${i}`)).id);
        } else {
          const id = ids[Math.floor(rnd() * ids.length)] as string;
          const field = (['markRead', 'markUnread', 'markSeen', 'archive', 'unarchive'] as const)[Math.floor(rnd() * 5)] as ChangeField;
          plan.push(field);
          await change(token, field, [id]);
        }
        const after = (await inbox(token)).seq;
        // Each change that made an event was announced on the channel while the stream was paused.
        if (after > before) await expect.poll(() => wakeUps.includes(after), { timeout: 10_000 }).toBe(true);
      }
      const pausedAt = (await inbox(token)).seq;
      expect(stream.events, seedNote).toEqual([]);

      // Release with nothing else happening: the replay alone must bring everything up to now — the
      // wake-ups of events made during the pause must not be needed again (rechecks are 60 s away).
      pause.release();
      await stream.waitFor(
        (r) => r.some((x) => x.data?.inboxEvents?.seq === pausedAt),
        15_000,
        `seq ${pausedAt} from the replay ${seedNote} plan=${plan.join(',')}`,
      );
      // Then live: concurrent deliveries and a change.
      const racing = await Promise.all([
        send(recipient, 'racing 1'),
        send(recipient, 'racing 2'),
        change(token, 'markSeen', [ids[0] as string]),
      ]);
      await Promise.all(racing.slice(0, 2).map((id) => delivered(id as string)));
      // A sentinel last: once it arrives, anything lost or doubled before it would already show.
      const sentinel = await send(recipient, 'sentinel');
      await delivered(sentinel);
      const last = (await inbox(token)).seq;
      await stream.waitFor(
        (r) => r.some((x) => x.data?.inboxEvents?.notification?.id === sentinel),
        15_000,
        `the sentinel ${seedNote} plan=${plan.join(',')}`,
      );
      const events = stream.events;
      expect(
        events.map((e) => e.seq),
        `${seedNote} plan=${plan.join(',')} pausedAt=${pausedAt}`,
      ).toEqual(range(2, last));
      expect(shown(events), seedNote).toEqual(await storedEvents(recipientId, 1));
      expect(
        stream.results.filter((r) => r.errors),
        seedNote,
      ).toEqual([]);
      await stream.close();
    } finally {
      await watcher.quit();
    }
  });

  it('starts a paused stream without `after` with CONNECTED at the position after the pause, then continues', async () => {
    const recipient = uniqueName('seam-connected');
    const { token, recipientId } = await clientToken(recipient);
    await sendDelivered(recipient, 'before');
    const pause = pauseNextStream(recipientId);
    const stream = subscribe(token);
    await pause.reached;
    await sendDelivered(recipient, 'while paused');
    pause.release();
    const [connected] = await stream.waitForEvents(1);
    expect(connected).toMatchObject({ type: 'CONNECTED', seq: 2, unreadCount: 2 });
    const id = await send(recipient, 'after');
    const events = await stream.waitForEvents(2);
    expect(events.map((e) => [e.type, e.seq, e.notification?.id ?? null])).toEqual([
      ['CONNECTED', 2, null],
      ['DELIVERED', 3, id],
    ]);
    await stream.close();
  });
});

describe('token expiry', () => {
  it('ends the stream with an UNAUTHENTICATED error when the token expires; a fresh token resumes from the last cursor with no gap', async () => {
    const recipient = uniqueName('expiry');
    const { recipientId } = await clientToken(recipient);
    const environment = await db.prisma.environment.findUniqueOrThrow({ where: { id: tenant.developmentId } });
    // 3–4 s of life (whole seconds): room for one live delivery first, even on a busy machine.
    const lifetimeSeconds = 4;
    const iat = Math.floor(Date.now() / 1000);
    const shortLived = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('pigeon')
      .setAudience(`pigeon:environment:${tenant.developmentId}`)
      .setSubject(recipientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetimeSeconds)
      .sign(new TextEncoder().encode(environment.clientTokenSecret));

    const stream = subscribe(shortLived);
    await stream.waitForEvents(1);
    const id = await send(recipient, 'before expiry');
    await stream.waitForEvents(2);
    const end = await stream.ended;
    expect(Date.now()).toBeGreaterThanOrEqual((iat + lifetimeSeconds) * 1000);

    // What the graphql-sse client sees: the two events, then one `next` whose payload is a GraphQL
    // error (data null) with extensions.code UNAUTHENTICATED, then `complete`.
    expect(end).toEqual({ kind: 'complete' });
    expect(stream.results).toHaveLength(3);
    const final = stream.results[2];
    expect(final?.data).toBeNull();
    expect(final?.errors).toHaveLength(1);
    expect(final?.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, path: ['inboxEvents'] });
    expect(final?.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(final?.errors?.[0]?.message).toMatch(/expired/);
    const [connected, deliveredEvent] = stream.events;
    expect(deliveredEvent).toMatchObject({ type: 'DELIVERED', seq: (connected?.seq ?? 0) + 1, notification: { id } });

    // Missed while disconnected, then resumed with a fresh token from the last cursor.
    const missed = [await sendDelivered(recipient, 'missed 1'), await sendDelivered(recipient, 'missed 2')];
    const fresh = await clientToken(recipient);
    const resumed = subscribe(fresh.token, { after: deliveredEvent?.cursor });
    await resumed.waitForEvents(2);
    const liveAgain = await send(recipient, 'live again');
    const events = await resumed.waitForEvents(3);
    expect(events.map((e) => [e.type, e.seq, e.notification?.id])).toEqual([
      ['DELIVERED', (deliveredEvent?.seq ?? 0) + 1, missed[0]?.id],
      ['DELIVERED', (deliveredEvent?.seq ?? 0) + 2, missed[1]?.id],
      ['DELIVERED', (deliveredEvent?.seq ?? 0) + 3, liveAgain],
    ]);
    await resumed.close();
  });
});

describe('refused subscriptions', () => {
  async function expiredToken(recipientId: string) {
    const environment = await db.prisma.environment.findUniqueOrThrow({ where: { id: tenant.developmentId } });
    const iat = Math.floor(Date.now() / 1000) - 120;
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('pigeon')
      .setAudience(`pigeon:environment:${tenant.developmentId}`)
      .setSubject(recipientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 60)
      .sign(new TextEncoder().encode(environment.clientTokenSecret));
  }

  it('refuses a subscription without a token or with an API key: one `next` with the typed error, then complete', async () => {
    const channelsBefore = await inboxChannels();
    for (const [stream, code] of [
      [subscribe(undefined), 'UNAUTHENTICATED'],
      [subscribe(tenant.apiKey), 'FORBIDDEN'],
    ] as const) {
      // Decided by the field's auth scope when the subscription starts: HTTP 200, an SSE `next`
      // whose payload is { data: null, errors: [...] }, then `complete`. No event is streamed.
      expect(await stream.ended).toEqual({ kind: 'complete' });
      expect(stream.results).toHaveLength(1);
      expect(stream.results[0]?.data).toBeNull();
      expect(stream.results[0]?.errors).toMatchObject([{ path: ['inboxEvents'], extensions: { code } }]);
      expect(stream.events).toEqual([]);
      // Only the code: transport instructions (extensions.http) stay on the server.
      expect(stream.results[0]?.errors?.[0]?.extensions).toEqual({ code });
    }
    // Nothing attached for the refused streams (channels of earlier tests may still be going away).
    expect((await inboxChannels()).filter((c) => !channelsBefore.includes(c))).toEqual([]);
  });

  it('refuses a garbage, expired or malformed bearer token before the stream opens: HTTP 401 with UNAUTHENTICATED', async () => {
    const { recipientId } = await clientToken(uniqueName('refused'));
    const channelsBefore = await inboxChannels();
    const cases: [string, InboxStream, RegExp][] = [
      ['garbage token', subscribe('garbage.not.a.jwt'), /not a valid/],
      ['expired token', subscribe(await expiredToken(recipientId)), /expired/],
      ['malformed Authorization header', subscribe(undefined, { headers: { authorization: 'Token abc' } }), /Bearer/],
    ];
    for (const [name, stream, message] of cases) {
      // Decided while building the request's context: the graphql-sse client gets a non-2xx
      // response and reports a NetworkError (not retried with retryAttempts 0) carrying it.
      const end = await stream.ended;
      expect(end, name).toMatchObject({ kind: 'error', status: 401, error: { name: 'NetworkError' } });
      const body = (end as { body?: { errors?: { message: string; extensions?: { code?: string } }[] } }).body;
      expect(body?.errors, name).toHaveLength(1);
      expect(body?.errors?.[0]?.extensions?.code, name).toBe('UNAUTHENTICATED');
      expect(body?.errors?.[0]?.message, name).toMatch(message);
      expect(stream.results, name).toEqual([]);
    }
    // Nothing attached for the refused streams (channels of earlier tests may still be going away).
    expect((await inboxChannels()).filter((c) => !channelsBefore.includes(c))).toEqual([]);
  });

  it("refuses a subscription beyond the recipient's rate budget with RATE_LIMITED and retryAfter", async () => {
    // The production environment of the tenant gets a budget of 2 operations per minute per recipient.
    await db.prisma.environment.update({ where: { id: tenant.productionId }, data: { clientTokenOpsPerMinute: 2 } });
    const { token } = await mintClientToken(api, tenant.productionApiKey, uniqueName('budget'));
    const first = subscribe(token);
    const second = subscribe(token);
    await first.waitForEvents(1);
    await second.waitForEvents(1);
    const third = subscribe(token);
    expect(await third.ended).toEqual({ kind: 'complete' });
    expect(third.results).toHaveLength(1);
    expect(third.results[0]?.data).toBeNull();
    const error = third.results[0]?.errors?.[0] as { extensions?: { code?: string; retryAfter?: number } } | undefined;
    expect(error?.extensions?.code).toBe('RATE_LIMITED');
    expect(error?.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    // The streams that were admitted keep running.
    expect([first.end, second.end]).toEqual([null, null]);
    await Promise.all([first.close(), second.close()]);
  });
});

describe('urql', () => {
  it('receives inbox events through @urql/core subscriptionExchange backed by the graphql-sse client', async () => {
    const recipient = uniqueName('urql');
    const { token } = await clientToken(recipient);
    const sse = createSseClient({ url: streamUrl(base), headers: bearer(token), retryAttempts: 0 });
    const client = createUrqlClient({
      url: `${base}/graphql`,
      fetchOptions: { headers: bearer(token) },
      exchanges: [
        cacheExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query ?? '' };
            return {
              subscribe(sink) {
                const unsubscribe = sse.subscribe(input, sink);
                return { unsubscribe };
              },
            };
          },
        }),
      ],
    });
    const received: InboxEventData[] = [];
    const errors: unknown[] = [];
    const { unsubscribe } = client
      .subscription<{ inboxEvents: InboxEventData }>(
        `subscription { inboxEvents { cursor seq type unreadCount unseenCount upToSeq reason notification { id title } } }`,
        {},
      )
      .subscribe((result) => {
        if (result.error) errors.push(result.error);
        if (result.data) received.push(result.data.inboxEvents);
      });
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);
    const id = await send(recipient, 'via urql');
    await expect.poll(() => received.length, { timeout: 15_000 }).toBe(2);
    expect(received.map((e) => [e.type, e.seq, e.notification?.id ?? null])).toEqual([
      ['CONNECTED', 0, null],
      ['DELIVERED', 1, id],
    ]);
    expect(received[1]?.notification?.title).toBe('via urql');
    expect(errors).toEqual([]);
    unsubscribe();
    sse.dispose();
  });
});

describe('releasing Redis subscriptions', () => {
  it('1,000 subscribe/unsubscribe cycles leave the Redis subscription count where it began', async () => {
    const recipients = await Promise.all(range(1, 5).map(() => clientToken(uniqueName('cycle'))));
    const channels = recipients.map((r) => channelOf(r.recipientId));
    const baseline = await Promise.all(channels.map(numsub));
    const channelsBefore = await inboxChannels();
    expect(baseline).toEqual([0, 0, 0, 0, 0]);

    let cycles = 0;
    let peak = 0;
    const worker = async (lane: number) => {
      for (;;) {
        const n = cycles++;
        if (n >= 1_000) return;
        const r = recipients[(n + lane) % recipients.length] as { token: string; recipientId: string };
        const stream = subscribe(r.token);
        // A real subscription each time: it got as far as its first event (so it was attached).
        const [first] = await stream.waitForEvents(1, 15_000);
        expect(first?.type).toBe('CONNECTED');
        if (n % 100 === 0) peak = Math.max(peak, await numsub(channelOf(r.recipientId)));
        await stream.close();
      }
    };
    await Promise.all(range(1, 20).map(worker));
    // The measurement sees subscriptions while they are open (one per channel in the API process).
    expect(peak).toBe(1);

    // Unsubscribing is asynchronous (the server notices the closed connection, then Redis confirms).
    await expect.poll(() => Promise.all(channels.map(numsub)), { timeout: 15_000, interval: 100 }).toEqual(baseline);
    await expect.poll(inboxChannels, { timeout: 15_000, interval: 100 }).toEqual(channelsBefore);
  }, 120_000);

  it('streams opened right after another one closes still get live wake-ups (churn on one channel)', async () => {
    const recipient = uniqueName('churn');
    const { token, recipientId } = await clientToken(recipient);
    for (let i = 0; i < 25; i++) {
      const leaving = subscribe(token);
      await leaving.waitForEvents(1);
      // Closed without waiting: the server unsubscribes the channel while the next stream attaches.
      void leaving.close();
      const next = subscribe(token);
      const [connected] = await next.waitForEvents(1);
      const id = await send(recipient, `churn ${i}`);
      // Rechecks are 60 s away: only the Redis wake-up can bring this event within the wait.
      const events = await next.waitForEvents(2, 10_000);
      expect(events[1], `cycle ${i}`).toMatchObject({ type: 'DELIVERED', seq: (connected?.seq ?? 0) + 1, notification: { id } });
      await next.close();
    }
    await expect.poll(() => numsub(channelOf(recipientId)), { timeout: 10_000 }).toBe(0);
  });

  it("closing streams detaches them from the process's hub (its size returns to 0) and from Redis", async () => {
    // startServer keeps the hub to itself, so this API process is assembled from its parts (the same
    // ones startServer uses), with its own Redis prefix, over the same database.
    const piecesPrefix = `${prefix}-pieces`;
    const env = testEnv(database.url, piecesPrefix, { INBOX_RECHECK_INTERVAL_MS: '60000' });
    const log = createLogger('silent');
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const renderQueue = createRenderQueue(connection, { prefix: piecesPrefix });
    const webhookQueue = createWebhookQueue(connection, { prefix: piecesPrefix });
    const live = await createInboxRuntime({
      prisma: db.prisma,
      redis: connection,
      redisUrl: TEST_REDIS_URL,
      prefix: piecesPrefix,
      log,
      recheckIntervalMs: env.INBOX_RECHECK_INTERVAL_MS,
    });
    const app = createApp({ db, redis: connection, renderQueue, webhookQueue, env, log, inbox: live.inbox });
    const piecesBase = (await app.start()).replace('//localhost:', '//127.0.0.1:');
    try {
      const { token, recipientId } = await clientToken(uniqueName('hub'));
      const channel = inboxChannel(piecesPrefix, tenant.developmentId, recipientId);
      expect(live.inbox.hub.size).toBe(0);

      // Ten open at once: ten watches in the hub, one Redis subscription for their recipient.
      const open = range(1, 10).map(() => subscribeInbox(piecesBase, token));
      await Promise.all(open.map((s) => s.waitForEvents(1)));
      expect(live.inbox.hub.size).toBe(10);
      expect(await numsub(channel)).toBe(1);
      await Promise.all(open.slice(0, 5).map((s) => s.close()));
      await expect.poll(() => live.inbox.hub.size, { timeout: 10_000 }).toBe(5);
      expect(await numsub(channel)).toBe(1);
      await Promise.all(open.slice(5).map((s) => s.close()));
      await expect.poll(() => live.inbox.hub.size, { timeout: 10_000 }).toBe(0);
      await expect.poll(() => numsub(channel), { timeout: 10_000 }).toBe(0);

      // And after 200 more cycles, 10 at a time.
      let cycles = 0;
      await Promise.all(
        range(1, 10).map(async () => {
          while (cycles++ < 200) {
            const stream = subscribeInbox(piecesBase, token);
            await stream.waitForEvents(1, 15_000);
            await stream.close();
          }
        }),
      );
      await expect.poll(() => live.inbox.hub.size, { timeout: 10_000 }).toBe(0);
      await expect.poll(() => numsub(channel), { timeout: 10_000 }).toBe(0);
    } finally {
      await app.stop();
      await live.close();
      await Promise.all([renderQueue.close(), webhookQueue.close()]);
      await flushPrefix(connection, piecesPrefix);
      await connection.quit();
    }
  }, 60_000);
});
