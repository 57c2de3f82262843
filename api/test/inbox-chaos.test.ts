// Replay under chaos. One recipient gets thousands of inbox events — deliveries rendered by the
// worker and read/unread/seen/archive/all-read changes made through the API — while a client
// keeps dropping its SSE connection at random points (right after an event, mid-replay, before the
// stream even started) and resubscribing with the last cursor it saw. Whatever happens, the client
// must see sequences 1..N exactly once each, in order, with the payloads stored in inbox_events.
// The same holds when Redis wake-ups are dropped on purpose (half of them, or all: then only the
// periodic recheck notices new events).
//
// Randomness is seeded: every assertion message names the seed; rerun a failure with
// PIGEON_CHAOS_SEED=<seed>. (The seed fixes every decision the test makes; how the server's
// concurrent work interleaves is up to the machine.)
import { randomInt } from 'node:crypto';
import { type Database, openPostgres } from '@pigeon/schema';
import { createLogger, inboxChannel, type WakeUpPublisher } from '@pigeon/worker';
import { createClient, type ExecutionResult } from 'graphql-sse';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { type RunningServer, type ServerHooks, startServer } from '../src/server.ts';
import {
  createTenant,
  createTestDatabase,
  flushPrefix,
  httpClient,
  mintClientToken,
  TEST_REDIS_URL,
  testEnv,
  uniqueName,
} from './harness.ts';
import { mulberry32 } from './random.ts';

const SEED = process.env.PIGEON_CHAOS_SEED ? Number(process.env.PIGEON_CHAOS_SEED) >>> 0 : randomInt(2 ** 31);
const REPLAY = `seed ${SEED} (rerun with PIGEON_CHAOS_SEED=${SEED})`;

const between = (rng: () => number, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const prng = mulberry32;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// A server of our own per test: real PostgreSQL database, Redis prefix, HTTP, in-process workers.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error('cleanup failed', error));
});

interface ChaosServer {
  base: string;
  db: Database;
  prefix: string;
}

async function startChaosServer(recheckIntervalMs: number, hooks: ServerHooks = {}): Promise<ChaosServer> {
  const database = await createTestDatabase();
  const prefix = uniqueName('pigeonchaos');
  const env = testEnv(database.url, prefix, { INBOX_RECHECK_INTERVAL_MS: String(recheckIntervalMs), RENDER_THREADS: '1' });
  const db = openPostgres({ url: database.url, poolSize: 10 });
  let server: RunningServer | null = null;
  cleanups.push(async () => {
    await server?.stop();
    await db.close();
    const redis = new Redis(TEST_REDIS_URL);
    await flushPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
  });
  server = await startServer({ env, db, log: createLogger('silent'), withWorkers: true, hooks });
  return { base: server.url, db, prefix };
}

async function gql(base: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (res.status !== 200 || body.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return { res, data: body.data };
}

/**
 * A tenant set up over HTTP, and a client token for one recipient. The environment's client-token
 * budget is raised: this test makes thousands of inbox calls a minute for one recipient on purpose.
 */
async function setUpRecipient(base: string, recipient: string) {
  const client = httpClient(base);
  const tenant = await createTenant(client);
  const environmentId = tenant.developmentId;
  const budget = await gql(
    base,
    `mutation($e: ID!) { updateEnvironment(environmentId: $e, input: { clientTokenOpsPerMinute: 1000000 }) {
       __typename ... on UpdateEnvironmentSuccess { environment { clientTokenOpsPerMinute } } } }`,
    { e: environmentId },
    tenant.sessionHeaders,
  );
  expect(budget.data.updateEnvironment.environment.clientTokenOpsPerMinute).toBe(1_000_000);
  const { token, recipientId } = await mintClientToken(client, tenant.apiKey, recipient, 3600);
  return { apiKey: tenant.apiKey, environmentId, token, recipientId };
}

// ---------------------------------------------------------------------------------------------
// The consumer: a graphql-sse client that disconnects at seeded-random points and resubscribes
// with the last cursor it saw, like the React SDK does after a network drop.

const INBOX_EVENTS = /* GraphQL */ `
  subscription($after: String) {
    inboxEvents(after: $after) { cursor seq type unreadCount unseenCount upToSeq notification { id } }
  }
`;

interface EventData {
  cursor: string;
  seq: number;
  type: string;
  unreadCount: number;
  unseenCount: number;
  upToSeq: number | null;
  notification: { id: string } | null;
}

interface Received extends EventData {
  /** Which subscription (0-based) delivered it. */
  subscription: number;
}

type Plan = { kind: 'afterEvents'; count: number } | { kind: 'afterDelay'; ms: number };

interface SubscriptionRecord {
  index: number;
  /** The sequence of the cursor it resubscribed with; null for the first (no `after`). */
  afterSeq: number | null;
  startedAt: number;
  plan: Plan;
  events: number;
}

class ChaosConsumer {
  /** Every inbox event received, in arrival order, across all subscriptions (CONNECTED aside). */
  readonly received: Received[] = [];
  readonly connected: Received[] = [];
  /** What a well-behaved stream never does: errors, RESYNC, ends nobody asked for. */
  readonly problems: string[] = [];
  readonly subscriptions: SubscriptionRecord[] = [];
  disconnectsAfterEvent = 0;
  disconnectsAfterDelay = 0;
  #lastSeq = -1;
  #cursor: string | null = null;
  #final: number | null = null;
  #stopped = false;
  #disposeCurrent: (() => void) | null = null;
  readonly #rng: () => number;
  readonly #base: string;
  readonly #token: string;
  readonly #maxEventsPerSubscription: number;
  /** Resolves once the first subscription is live (its first event arrived): produce only then. */
  readonly ready: Promise<void>;
  #markReady: () => void = () => {};

  constructor(base: string, token: string, seed: number, maxEventsPerSubscription: number) {
    this.#base = base;
    this.#token = token;
    this.#rng = prng(seed);
    this.#maxEventsPerSubscription = maxEventsPerSubscription;
    this.ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The producer's last sequence: the consumer stops once it has received it. */
  finishAt(seq: number): void {
    this.#final = seq;
    if (this.#lastSeq >= seq) this.#disposeCurrent?.();
  }

  /** Gives up (the test is failing anyway): ends the current subscription and the loop. */
  stop(): void {
    this.#stopped = true;
    this.#disposeCurrent?.();
  }

  #finished(): boolean {
    return this.#stopped || (this.#final !== null && this.#lastSeq >= this.#final);
  }

  async run(): Promise<void> {
    const rng = this.#rng;
    while (!this.#finished()) {
      const afterEvents = { kind: 'afterEvents', count: between(rng, 1, this.#maxEventsPerSubscription) } as const;
      const afterDelay = { kind: 'afterDelay', ms: between(rng, 0, 250) } as const;
      // Random kinds, except that the second and third subscriptions try one of each for sure.
      const n = this.subscriptions.length;
      const plan: Plan = n === 1 ? afterEvents : n === 2 ? afterDelay : rng() < 0.55 ? afterEvents : afterDelay;
      // Sometimes stay away a moment, so the next subscription starts with a replay; now and then
      // long enough for a replay larger than the server's read batch.
      const r = rng();
      const away = r < 0.05 ? between(rng, 800, 2_000) : r < 0.4 ? between(rng, 1, 150) : 0;
      await this.#subscribeOnce(plan);
      if (away > 0 && !this.#finished()) await sleep(away);
    }
  }

  async #subscribeOnce(plan: Plan): Promise<void> {
    const after = this.#cursor;
    const record: SubscriptionRecord = {
      index: this.subscriptions.length,
      afterSeq: after === null ? null : this.#lastSeq,
      startedAt: Date.now(),
      plan,
      events: 0,
    };
    this.subscriptions.push(record);
    const client = createClient({
      url: `${this.#base}/graphql/stream`,
      headers: { authorization: `Bearer ${this.#token}` },
      retryAttempts: 0,
    });
    let disposed = false;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: () => void = () => {};
    let markDisposed: () => void = () => {};
    const disposedNow = new Promise<void>((resolve) => {
      markDisposed = resolve;
    });
    const dispose = () => {
      if (disposed) return;
      disposed = true;
      markDisposed();
      clearTimeout(timer);
      unsubscribe();
      client.dispose();
    };
    const ended = new Promise<string>((resolve) => {
      unsubscribe = client.subscribe<{ inboxEvents: EventData }>(
        { query: INBOX_EVENTS, variables: after === null ? {} : { after } },
        {
          next: (result: ExecutionResult<{ inboxEvents: EventData }>) => {
            const event = result.data?.inboxEvents;
            if (!event || result.errors) {
              this.problems.push(`subscription ${record.index}: a payload without an event: ${JSON.stringify(result)}`);
              return;
            }
            // Whatever the client library hands over counts, even after we asked it to stop: a
            // real client acts on it too (and moves its cursor).
            const received = { ...event, subscription: record.index };
            if (event.type === 'CONNECTED') this.connected.push(received);
            else this.received.push(received);
            if (event.type === 'RESYNC' || (event.type === 'CONNECTED' && after !== null)) {
              this.problems.push(`subscription ${record.index} (after seq ${record.afterSeq}): unexpected ${JSON.stringify(event)}`);
            }
            record.events += 1;
            this.#markReady();
            this.#lastSeq = event.seq;
            this.#cursor = event.cursor;
            if (this.#finished()) {
              dispose();
            } else if (plan.kind === 'afterEvents' && record.events >= plan.count && !disposed) {
              this.disconnectsAfterEvent += 1;
              dispose();
            }
          },
          complete: () => resolve('complete'),
          error: (error: unknown) => resolve(`error: ${error instanceof Error ? error.message : JSON.stringify(error)}`),
        },
      );
    });
    this.#disposeCurrent = dispose;
    if (plan.kind === 'afterDelay') {
      timer = setTimeout(() => {
        if (disposed) return;
        this.disconnectsAfterDelay += 1;
        dispose();
      }, plan.ms);
    }
    if (this.#finished()) dispose();

    const outcome = await Promise.race([ended, disposedNow.then(() => sleep(10_000)).then(() => 'no end within 10 s of being disposed')]);
    this.#disposeCurrent = null;
    if (!disposed) {
      this.problems.push(`subscription ${record.index} (after seq ${record.afterSeq}) ended without being asked to: ${outcome}`);
      dispose();
    } else if (outcome !== 'complete') {
      this.problems.push(`subscription ${record.index} (after seq ${record.afterSeq}) failed after we disposed it: ${outcome}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The producer: sends in parallel batches (the worker renders and delivers them) and, at the same
// time, inbox changes through the API with the recipient's client token.

const SEND = /* GraphQL */ `
  mutation($i: SendInput!) { send(input: $i) { __typename ... on SendSuccess { notification { id } } ... on Error { code message } } }
`;

const BY_IDS = ['markRead', 'markUnread', 'markSeen', 'archive', 'unarchive'] as const;
type InboxCall = (typeof BY_IDS)[number] | 'markAllRead' | 'markAllSeen';

/** Weighted so that every kind of change keeps happening (reads outnumber unreads, and so on). */
function pickCall(rng: () => number): InboxCall {
  const r = rng();
  if (r < 0.28) return 'markRead';
  if (r < 0.46) return 'markUnread';
  if (r < 0.6) return 'markSeen';
  if (r < 0.74) return 'archive';
  if (r < 0.88) return 'unarchive';
  if (r < 0.95) return 'markAllRead';
  return 'markAllSeen';
}

interface ProduceOptions {
  base: string;
  db: Database;
  apiKey: string;
  token: string;
  recipient: string;
  recipientId: string;
  sends: number;
  /** Inbox changes go on until the recipient has at least this many events. */
  minEvents: number;
  seed: number;
  /**
   * The producer waits while the inbox is more than this many events ahead of the consumer, so
   * that the disconnects are spread over the whole run however fast this machine produces.
   */
  maxLead: number;
  consumerAt: () => number;
}

async function produce(o: ProduceOptions): Promise<{ calls: Record<string, number> }> {
  const calls: Record<string, number> = {};
  let sendsDone = false;
  const keepWithinLead = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { lastSeq } = await o.db.prisma.recipient.findUniqueOrThrow({ where: { id: o.recipientId }, select: { lastSeq: true } });
      if (lastSeq - o.consumerAt() <= o.maxLead) return;
      if (Date.now() > deadline) throw new Error(`the consumer is stuck at seq ${o.consumerAt()} while the inbox is at ${lastSeq}`);
      await sleep(20);
    }
  };

  const sending = (async () => {
    const rng = prng(o.seed);
    for (let i = 0; i < o.sends; ) {
      await keepWithinLead();
      const batch = Math.min(o.sends - i, between(rng, 8, 48));
      await Promise.all(
        Array.from({ length: batch }, async (_, j) => {
          const n = i + j;
          const { data } = await gql(
            o.base,
            SEND,
            { i: { to: o.recipient, title: `chaos #${n}`, body: 'under chaos', category: n % 3 === 0 ? 'billing' : 'news' } },
            { authorization: `Bearer ${o.apiKey}` },
          );
          if (data.send.__typename !== 'SendSuccess') throw new Error(`send #${n} failed: ${JSON.stringify(data.send)}`);
        }),
      );
      i += batch;
    }
  })().finally(() => {
    sendsDone = true;
  });

  // Two loops, so API changes also race each other, not only the worker's deliveries.
  const changing = [1, 2].map(async (loop) => {
    const rng = prng(o.seed + loop);
    for (;;) {
      const delivered = await o.db.prisma.notification.findMany({
        where: { recipientId: o.recipientId, status: 'DELIVERED' },
        select: { id: true },
        orderBy: { id: 'asc' },
      });
      if (sendsDone) {
        const { lastSeq } = await o.db.prisma.recipient.findUniqueOrThrow({ where: { id: o.recipientId }, select: { lastSeq: true } });
        if (lastSeq >= o.minEvents) return;
      }
      if (delivered.length === 0) {
        await sleep(20);
        continue;
      }
      await keepWithinLead();
      const call = pickCall(rng);
      calls[call] = (calls[call] ?? 0) + 1;
      const selection = '{ __typename ... on InboxChange { changedCount seq } ... on Error { code message } }';
      let result: any;
      if (call === 'markAllRead' || call === 'markAllSeen') {
        ({ data: result } = await gql(o.base, `mutation { r: ${call} ${selection} }`, {}, { authorization: `Bearer ${o.token}` }));
      } else {
        const ids = new Set<string>();
        const want = Math.min(delivered.length, between(rng, 1, 30));
        while (ids.size < want) ids.add((delivered[Math.floor(rng() * delivered.length)] as { id: string }).id);
        ({ data: result } = await gql(
          o.base,
          `mutation($ids: [ID!]!) { r: ${call}(ids: $ids) ${selection} }`,
          { ids: [...ids] },
          {
            authorization: `Bearer ${o.token}`,
          },
        ));
      }
      if (result.r.__typename !== 'InboxChange') throw new Error(`${call} failed: ${JSON.stringify(result.r)}`);
    }
  });

  await Promise.all([sending, ...changing]);
  return { calls };
}

// ---------------------------------------------------------------------------------------------
// One run: a consumer under chaos against a producer, then the exactness checks.

function sequenceSummary(seqs: number[], last: number) {
  const counts = new Map<number, number>();
  for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
  const missing: number[] = [];
  for (let s = 1; s <= last; s++) if (!counts.has(s)) missing.push(s);
  const outOfOrder = seqs.findIndex((s, i) => i > 0 && s <= (seqs[i - 1] as number));
  return {
    received: seqs.length,
    duplicates: duplicates.slice(0, 20),
    missing: missing.slice(0, 20),
    beyondLast: seqs.filter((s) => s > last || s < 1).slice(0, 20),
    firstOutOfOrder: outOfOrder < 0 ? null : { index: outOfOrder, around: seqs.slice(Math.max(0, outOfOrder - 3), outOfOrder + 3) },
  };
}

interface RunOptions {
  label: string;
  sends: number;
  minEvents: number;
  recheckIntervalMs: number;
  /** Share of wake-up publishes (worker's and API's) dropped on purpose. */
  dropRate: number;
  /** A subscription that ends "after k events" draws k from 1..this. */
  maxEventsPerSubscription: number;
  minSubscriptions: number;
  expectEveryChangeType: boolean;
  maxLead: number;
}

async function runChaos(o: RunOptions) {
  const seedOf = (n: number) => (SEED + n * 0x9e3779b1) >>> 0;
  const message = `${o.label}, ${REPLAY}`;
  const tally = { published: 0, dropped: 0 };
  const dropRng = prng(seedOf(3));
  const hooks: ServerHooks = {
    // Wraps both the in-process worker's publisher (deliveries) and the API's (inbox changes).
    wrapWakeUps: (publisher: WakeUpPublisher): WakeUpPublisher => ({
      async publish(wakeUp) {
        if (o.dropRate > 0 && dropRng() < o.dropRate) {
          tally.dropped += 1;
          return;
        }
        tally.published += 1;
        await publisher.publish(wakeUp);
      },
    }),
  };
  const { base, db, prefix } = await startChaosServer(o.recheckIntervalMs, hooks);
  const recipient = 'chaos-user';
  const { apiKey, environmentId, token, recipientId } = await setUpRecipient(base, recipient);

  const consumer = new ChaosConsumer(base, token, seedOf(1), o.maxEventsPerSubscription);
  const consuming = consumer.run();
  const started = Date.now();
  try {
    // CONNECTED first: the stream is attached before anything happens, so it must see everything.
    await Promise.race([
      consumer.ready,
      sleep(15_000).then(() => {
        throw new Error(`no CONNECTED event within 15 s; ${message}`);
      }),
    ]);
    const { calls } = await produce({
      base,
      db,
      apiKey,
      token,
      recipient,
      recipientId,
      sends: o.sends,
      minEvents: o.minEvents,
      seed: seedOf(2),
      maxLead: o.maxLead,
      consumerAt: () => consumer.lastSeq,
    });
    await expect
      .poll(() => db.prisma.notification.count({ where: { recipientId, status: 'DELIVERED' } }), {
        timeout: 30_000,
        interval: 100,
        message: `every send delivered (${message})`,
      })
      .toBe(o.sends);
    const inbox = await db.prisma.recipient.findUniqueOrThrow({ where: { id: recipientId } });
    const last = inbox.lastSeq;
    const produced = Date.now();
    consumer.finishAt(last);
    const caughtUp = await Promise.race([consuming.then(() => true), sleep(30_000).then(() => false)]);
    if (!caughtUp) consumer.stop();
    await consuming;
    const rows = await db.prisma.inboxEvent.findMany({ where: { recipientId }, orderBy: { seq: 'asc' } });
    // A subscription began with a replay when the event after its cursor was written before it started.
    const createdAt = new Map(rows.map((r) => [r.seq, r.createdAt.getTime()]));
    const replays = consumer.subscriptions.filter((s) => {
      if (s.afterSeq === null || s.events === 0) return false;
      const next = createdAt.get(s.afterSeq + 1);
      return next !== undefined && next < s.startedAt - 20;
    }).length;
    let largestReplay = 0;
    for (const sub of consumer.subscriptions) {
      const before = consumer.received.filter((e) => e.subscription === sub.index && (createdAt.get(e.seq) ?? 0) < sub.startedAt - 20);
      largestReplay = Math.max(largestReplay, before.length);
    }
    const stats = {
      events: last,
      subscriptions: consumer.subscriptions.length,
      disconnectsAfterEvent: consumer.disconnectsAfterEvent,
      disconnectsAfterDelay: consumer.disconnectsAfterDelay,
      replays,
      largestReplay,
      calls,
      wakeUps: tally,
      produceMs: produced - started,
      catchUpMs: Date.now() - produced,
    };
    console.info(`[inbox-chaos] ${o.label}: ${JSON.stringify(stats)} ${REPLAY}`);

    expect(caughtUp, `the consumer reached seq ${last} within 30 s of the producer's end (it is at ${consumer.lastSeq}); ${message}`).toBe(
      true,
    );
    expect(last, message).toBeGreaterThanOrEqual(o.minEvents);
    expect(consumer.problems, message).toEqual([]);
    // The first subscription (no `after`) started before anything happened.
    expect(
      consumer.connected.map((e) => e.seq),
      message,
    ).toEqual([0]);

    // Exactly 1..N, once each, in order — across every reconnect.
    const seqs = consumer.received.map((e) => e.seq);
    expect(sequenceSummary(seqs, last), message).toEqual({
      received: last,
      duplicates: [],
      missing: [],
      beyondLast: [],
      firstOutOfOrder: null,
    });
    expect(
      seqs.every((s, i) => s === i + 1),
      message,
    ).toBe(true);

    // Each event is the stored one: type, notification, counts right after it.
    expect(rows.length, message).toBe(last);
    const mismatches = rows
      .flatMap((row, i) => {
        const got = consumer.received[i];
        const want = {
          seq: row.seq,
          type: row.type,
          notificationId: row.notificationId,
          unreadCount: row.unreadCount,
          unseenCount: row.unseenCount,
          upToSeq: row.upToSeq,
        };
        const have = got && {
          seq: got.seq,
          type: got.type,
          notificationId: got.notification?.id ?? null,
          unreadCount: got.unreadCount,
          unseenCount: got.unseenCount,
          upToSeq: got.upToSeq,
        };
        return JSON.stringify(want) === JSON.stringify(have) ? [] : [{ want, have }];
      })
      .slice(0, 10);
    expect(mismatches, message).toEqual([]);

    // The mix really happened: every delivery is one DELIVERED event, and changes made through the
    // API came in between (in the long runs, every kind of change; a short run may miss a rare one).
    const byType = new Map<string, number>();
    for (const e of consumer.received) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    expect(byType.get('DELIVERED'), message).toBe(o.sends);
    const changeTypes = ['READ', 'UNREAD', 'SEEN', 'ARCHIVED', 'UNARCHIVED', 'ALL_READ'];
    if (o.expectEveryChangeType) {
      for (const type of changeTypes) expect(byType.get(type) ?? 0, `${type} events; ${message}`).toBeGreaterThan(0);
    } else {
      expect(changeTypes.filter((t) => byType.has(t)).length, `kinds of change; ${message}`).toBeGreaterThanOrEqual(3);
    }
    // The last event's counts are the inbox's, and those are exact.
    const [actual] = await db.prisma.$queryRaw<{ unread: bigint; unseen: bigint }[]>`
      SELECT count(*) FILTER (WHERE read_at IS NULL) AS unread, count(*) FILTER (WHERE seen_at IS NULL) AS unseen
        FROM notifications WHERE recipient_id = ${recipientId}::uuid AND status = 'DELIVERED' AND archived_at IS NULL`;
    const lastEvent = consumer.received.at(-1);
    expect({ unread: lastEvent?.unreadCount, unseen: lastEvent?.unseenCount }, message).toEqual({
      unread: inbox.unreadCount,
      unseen: inbox.unseenCount,
    });
    expect({ unread: Number(actual?.unread), unseen: Number(actual?.unseen) }, message).toEqual({
      unread: inbox.unreadCount,
      unseen: inbox.unseenCount,
    });

    // And the chaos really happened: many reconnects of both kinds, some of them starting with a
    // replay of events written while the client was away.
    expect(consumer.subscriptions.length, message).toBeGreaterThanOrEqual(o.minSubscriptions);
    expect(consumer.disconnectsAfterEvent, message).toBeGreaterThan(0);
    expect(consumer.disconnectsAfterDelay, message).toBeGreaterThan(0);
    expect(replays, `subscriptions that began with a replay; ${message}`).toBeGreaterThan(0);

    // Every stream the chaos opened and dropped was released: the recipient's Redis channel has no
    // subscriber left once the last one ended.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const channel = inboxChannel(prefix, environmentId, recipientId);
      await expect
        .poll(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1], {
          timeout: 10_000,
          interval: 100,
          message: `subscribers left on ${channel}; ${message}`,
        })
        .toBe(0);
    } finally {
      await redis.quit();
    }
    return { tally, consumer };
  } finally {
    consumer.stop();
    await consuming.catch(() => {});
  }
}

it('a client that disconnects at random points sees every inbox event exactly once, in order', async () => {
  await runChaos({
    label: 'no faults',
    sends: 700,
    minEvents: 2_000,
    recheckIntervalMs: 30_000,
    dropRate: 0,
    maxEventsPerSubscription: 80,
    minSubscriptions: 15,
    maxLead: 250,
    expectEveryChangeType: true,
  });
}, 120_000);

it('the same when half of the Redis wake-ups are dropped (the periodic recheck catches up)', async () => {
  const { tally } = await runChaos({
    label: '50% of wake-ups dropped',
    sends: 700,
    minEvents: 2_000,
    recheckIntervalMs: 250,
    dropRate: 0.5,
    maxEventsPerSubscription: 80,
    minSubscriptions: 15,
    maxLead: 250,
    expectEveryChangeType: true,
  });
  expect(tally.dropped, REPLAY).toBeGreaterThan(0);
  expect(tally.published, REPLAY).toBeGreaterThan(0);
}, 120_000);

it('the same when every Redis wake-up is dropped (only the recheck and the replay deliver)', async () => {
  const { tally } = await runChaos({
    label: 'all wake-ups dropped',
    sends: 120,
    minEvents: 300,
    recheckIntervalMs: 200,
    dropRate: 1,
    maxEventsPerSubscription: 30,
    minSubscriptions: 5,
    maxLead: 40,
    expectEveryChangeType: false,
  });
  expect(tally.published, REPLAY).toBe(0);
  expect(tally.dropped, REPLAY).toBeGreaterThan(0);
}, 60_000);
