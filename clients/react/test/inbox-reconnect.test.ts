// The React SDK's live stream across the failures it must survive, against real API servers:
// the API it is connected to stops and comes back (it resubscribes with its latest cursor and the
// server replays what it missed, or answers RESYNC when that was pruned and the SDK refetches), and
// its client token expires mid-stream (it fetches a new token and resumes from the cursor).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { type Database, openPostgres } from '@pigeon/schema';
import { createLogger, pruneInboxEvents } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ApiEnv } from '../../../api/src/env.ts';
import { type RunningServer, startServer } from '../../../api/src/server.ts';
import {
  createTenant,
  createTestDatabase,
  flushPrefix,
  httpClient,
  mintClientToken,
  TEST_REDIS_URL,
  type Tenant,
  testEnv,
  uniqueName,
} from '../../../api/test/harness.ts';
import { Api } from '../src/api.ts';
import { type ConnectionState, PigeonInbox } from '../src/index.ts';
import { TokenManager } from '../src/token.ts';

const prefix = uniqueName('pigeonreactrc');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let env: ApiEnv;
/** The server the inbox is connected to (restarted on the same port) and one that stays up. */
let primary: RunningServer | null = null;
let secondary: RunningServer;
let primaryUrl: string;
let tenant: Tenant;
const cleanups: (() => void)[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function stopPrimary(): Promise<void> {
  const running = primary;
  primary = null;
  await running?.stop();
}

async function startPrimary(port: number): Promise<void> {
  primary = await startServer({ env: { ...env, PORT: port }, db, log: createLogger('silent'), withWorkers: false });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = openPostgres({ url: database.url, poolSize: 10 });
  env = testEnv(database.url, prefix);
  secondary = await startServer({ env, db, log: createLogger('silent'), withWorkers: true });
  const port = await freePort();
  await startPrimary(port);
  primaryUrl = `http://127.0.0.1:${port}`;
  tenant = await createTenant(httpClient(secondary.url));
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups) cleanup();
  await stopPrimary();
  await secondary?.stop();
  await db?.close();
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  await database?.drop();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Sends through the server that stays up, and waits until the worker delivered it. */
async function sendDelivered(to: string, title: string): Promise<string> {
  const api = httpClient(secondary.url);
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const r = await api.gql(
    'mutation($input: SendInput!) { send(input: $input) { ... on SendSuccess { notification { id } } ... on Error { message } } }',
    { input: { to, title, body: 'body' } },
    auth,
  );
  const id: string | undefined = r.body.data?.send?.notification?.id;
  if (!id) throw new Error(`send failed: ${JSON.stringify(r.body)}`);
  await until(`${title} delivered`, async () => {
    const n = await api.gql('query($id: ID!) { notification(id: $id) { status } }', { id }, auth);
    return n.body.data?.notification?.status === 'DELIVERED';
  });
  return id;
}

function open(user: string, ttlSeconds?: number) {
  const minted: string[] = [];
  const states: ConnectionState[] = [];
  const tokens = new TokenManager(() => async () => {
    const token = await mintClientToken(httpClient(secondary.url), tenant.apiKey, user, ttlSeconds);
    minted.push(token.token);
    return { token: token.token, expiresAt: token.expiresAt };
  });
  const inbox = new PigeonInbox({ baseUrl: primaryUrl, api: new Api(primaryUrl, tokens), tokens, shareStream: false });
  inbox.subscribe(() => {
    if (states.at(-1) !== inbox.connection) states.push(inbox.connection);
  });
  tokens.start();
  inbox.start();
  const view = inbox.view({}, 50);
  const release = inbox.retain(view);
  const close = () => {
    release();
    inbox.stop();
    tokens.stop();
  };
  cleanups.push(close);
  return { inbox, view, minted, states, ids: () => view.getSnapshot().items.map((i) => i.id), close };
}

it('resumes from its cursor after the API restarts, and refetches on RESYNC when what it missed was pruned', async () => {
  const user = `u-${randomUUID()}`;
  const tab = open(user);
  const first = await sendDelivered(user, 'first');
  await until('live with the first', () => tab.inbox.connection === 'live' && tab.ids().includes(first));

  // 1. The API goes away; a notification is delivered meanwhile; the API comes back on its port.
  const port = Number(new URL(primaryUrl).port);
  await stopPrimary();
  await until('noticed the outage', () => tab.inbox.connection === 'reconnecting');
  const missed = await sendDelivered(user, 'missed');
  await startPrimary(port);
  await until('replayed after reconnect', () => tab.ids().includes(missed), 40_000);
  expect(tab.inbox.connection).toBe('live');
  expect(tab.ids()).toEqual([missed, first]);
  expect(tab.view.getSnapshot().unreadCount).toBe(2);

  // 2. Again, but the events it missed are pruned before it comes back: the server cannot replay
  //    them and answers RESYNC; the SDK refetches its lists.
  await stopPrimary();
  await until('noticed the second outage', () => tab.inbox.connection === 'reconnecting');
  const pruned = await sendDelivered(user, 'pruned');
  const recipient = await db.prisma.recipient.findFirstOrThrow({ where: { externalId: user, environmentId: tenant.developmentId } });
  await db.prisma.$executeRaw`UPDATE inbox_events SET created_at = now() - interval '73 hours' WHERE recipient_id = ${recipient.id}::uuid`;
  expect(await pruneInboxEvents(db.prisma, { retentionHours: 72 })).toBeGreaterThanOrEqual(3);
  await startPrimary(port);
  await until('refetched after RESYNC', () => tab.ids().includes(pruned), 40_000);
  expect(tab.ids()).toEqual([pruned, missed, first]);
  expect(tab.view.getSnapshot().unreadCount).toBe(3);

  // 3. Live again from the RESYNC's cursor: the next one arrives once.
  const after = await sendDelivered(user, 'after');
  await until('live after RESYNC', () => tab.ids().includes(after));
  expect(tab.ids()).toEqual([after, pruned, missed, first]);
  expect(tab.states).toContain('reconnecting');
  tab.close();
}, 120_000);

it('fetches a new token when the stream ends for an expired one, and resumes from its cursor', async () => {
  const user = `u-${randomUUID()}`;
  // 60 s is the shortest lifetime the API mints. The SDK refreshes ahead of expiry for its
  // requests; the open stream keeps the token it started with until the server ends it.
  const tab = open(user, 60);
  await until('live', () => tab.inbox.connection === 'live' && !tab.view.getSnapshot().loading);
  const startedWith = tab.minted[0];
  const expiresAt = Date.now() + 60_000;
  await until('past the first token expiry', () => Date.now() > expiresAt + 2_000, 75_000);
  expect(tab.minted.length).toBeGreaterThanOrEqual(2);
  expect(tab.minted.at(-1)).not.toBe(startedWith);
  const id = await sendDelivered(user, 'after expiry');
  await until('delivered over the resumed stream', () => tab.ids().includes(id));
  expect(tab.ids()).toEqual([id]);
  expect(tab.inbox.connection).toBe('live');
  tab.close();
}, 120_000);
