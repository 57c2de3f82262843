// The React SDK's inbox store (PigeonInbox: tokens, live stream, reconciliation, optimistic
// changes), driven in Node against the real API: a real HTTP server with its workers, PostgreSQL
// and Redis. The React components on top of it are tested in Chromium (browser tests).
import { randomUUID } from 'node:crypto';
import { type Database, openPostgres } from '@pigeon/schema';
import { createLogger } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../../api/src/server.ts';
import {
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
} from '../../../api/test/harness.ts';
import { Api } from '../src/api.ts';
import { type InboxSnapshot, PigeonInbox } from '../src/inbox.ts';
import { TokenManager } from '../src/token.ts';

const prefix = uniqueName('pigeonreact');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let server: RunningServer;
let base: string;
let tenant: Tenant;
let api: GqlClient;
const started: PigeonInbox[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = openPostgres({ url: database.url, poolSize: 10 });
  const env = testEnv(database.url, prefix);
  server = await startServer({ env, db, log: createLogger('silent'), withWorkers: true });
  base = server.url.replace('//localhost:', '//127.0.0.1:');
  api = httpClient(base);
  tenant = await createTenant(api);
}, 60_000);

afterAll(async () => {
  for (const inbox of started) inbox.stop();
  await server?.stop();
  await db?.close();
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  await database?.drop();
});

function open(user: string, options: { shareStream?: boolean; tokenCalls?: { count: number } } = {}) {
  const tokens = new TokenManager(() => async () => {
    if (options.tokenCalls) options.tokenCalls.count++;
    const minted = await mintClientToken(api, tenant.apiKey, user);
    return { token: minted.token, expiresAt: minted.expiresAt };
  });
  const inbox = new PigeonInbox({ baseUrl: base, api: new Api(base, tokens), tokens, shareStream: options.shareStream ?? false });
  tokens.start();
  inbox.start();
  started.push(inbox);
  const view = inbox.view({}, 20);
  const release = inbox.retain(view);
  return {
    inbox,
    view,
    snapshot: () => view.getSnapshot(),
    close() {
      release();
      inbox.stop();
      tokens.stop();
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function send(to: string, title: string): Promise<string> {
  const r = await api.gql(
    'mutation($input: SendInput!) { send(input: $input) { __typename ... on SendSuccess { notification { id } } ... on Error { message } } }',
    { input: { to, title, body: `${title} body` } },
    { authorization: `Bearer ${tenant.apiKey}` },
  );
  const id = r.body.data?.send?.notification?.id;
  if (!id) throw new Error(`send failed: ${JSON.stringify(r.body)}`);
  return id;
}

const ids = (s: InboxSnapshot) => s.items.map((i) => i.id);

describe('PigeonInbox against the real API', () => {
  it('loads the inbox, goes live, and shows a new notification with its counts', async () => {
    const user = `u-${randomUUID()}`;
    const first = await send(user, 'Before');
    const tab = open(user);
    await until('loaded and live', () => !tab.snapshot().loading && tab.snapshot().connection === 'live');
    await until('first notification listed', () => ids(tab.snapshot()).includes(first));
    const second = await send(user, 'After');
    await until('second notification live', () => ids(tab.snapshot()).includes(second));
    const s = tab.snapshot();
    expect(ids(s)).toEqual([second, first]);
    expect(s.unreadCount).toBe(2);
    expect(s.unseenCount).toBe(2);
    expect(s.items[0]?.title).toBe('After');
    tab.close();
  });

  it('keeps item objects and the list identity stable when nothing of theirs changed', async () => {
    const user = `u-${randomUUID()}`;
    const tab = open(user);
    const a = await send(user, 'A');
    await until('A live', () => ids(tab.snapshot()).includes(a));
    const before = tab.snapshot();
    expect(tab.view.getSnapshot()).toBe(before);
    const b = await send(user, 'B');
    await until('B live', () => ids(tab.snapshot()).includes(b));
    const after = tab.snapshot();
    expect(after).not.toBe(before);
    // The old row is the same object: a memoized row does not re-render for a new notification.
    expect(after.items.find((i) => i.id === a)).toBe(before.items.find((i) => i.id === a));
    tab.close();
  });

  it('shows a read at once, keeps the counts exact while the server confirms, and never counts it twice', async () => {
    const user = `u-${randomUUID()}`;
    const tab = open(user);
    const a = await send(user, 'A');
    const b = await send(user, 'B');
    await until('both live', () => ids(tab.snapshot()).length === 2 && tab.snapshot().unreadCount === 2);
    const seen: number[] = [];
    const unsubscribe = tab.inbox.subscribe(() => seen.push(tab.snapshot().unreadCount));
    const done = tab.inbox.mutate('read', [a]);
    // Optimistic: visible before any answer.
    expect(tab.snapshot().items.find((i) => i.id === a)?.read).toBe(true);
    expect(tab.snapshot().unreadCount).toBe(1);
    await done;
    // The READ event arrives over the stream too; wait until the store has seen it.
    await until('READ event applied', () => tab.inbox.entry(a)?.item.read === true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    unsubscribe();
    expect(tab.snapshot().unreadCount).toBe(1);
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(tab.snapshot().items.find((i) => i.id === b)?.read).toBe(false);
    tab.close();
  });

  it('rolls an optimistic read back when the server refuses it', async () => {
    const user = `u-${randomUUID()}`;
    const tab = open(user);
    const a = await send(user, 'A');
    await until('A live', () => ids(tab.snapshot()).includes(a) && tab.snapshot().unreadCount === 1);
    // One id that is not in this inbox makes the server refuse the whole call (NotFoundError).
    const done = tab.inbox.mutate('read', [a, randomUUID()]);
    expect(tab.snapshot().items.find((i) => i.id === a)?.read).toBe(true);
    expect(tab.snapshot().unreadCount).toBe(0);
    await expect(done).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const s = tab.snapshot();
    expect(s.items.find((i) => i.id === a)?.read).toBe(false);
    expect(s.unreadCount).toBe(1);
    expect(s.mutationError?.code).toBe('NOT_FOUND');
    tab.close();
  });

  it('marks all read, then counts a later notification', async () => {
    const user = `u-${randomUUID()}`;
    const tab = open(user);
    for (const t of ['A', 'B', 'C']) await send(user, t);
    await until('three live', () => tab.snapshot().unreadCount === 3 && tab.snapshot().items.length === 3);
    const done = tab.inbox.mutate('allRead');
    expect(tab.snapshot().unreadCount).toBe(0);
    expect(tab.snapshot().items.every((i) => i.read)).toBe(true);
    await done;
    const d = await send(user, 'D');
    await until('D live', () => ids(tab.snapshot()).includes(d));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(tab.snapshot().unreadCount).toBe(1);
    expect(
      tab
        .snapshot()
        .items.filter((i) => !i.read)
        .map((i) => i.id),
    ).toEqual([d]);
    tab.close();
  });

  it('pages through the inbox without skipping or repeating', async () => {
    const user = `u-${randomUUID()}`;
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push(await send(user, `N${i}`));
    const tab = open(user);
    const view = tab.inbox.view({}, 3);
    const release = tab.inbox.retain(view);
    await until('first page', () => !view.getSnapshot().loading && view.getSnapshot().items.length === 3, 15_000);
    while (view.getSnapshot().hasMore) await view.loadMore();
    expect(ids(view.getSnapshot())).toEqual([...sent].reverse());
    release();
    tab.close();
  });

  it('filters: an unread-only list drops a notification when it is read elsewhere', async () => {
    const user = `u-${randomUUID()}`;
    const a = await send(user, 'A');
    const b = await send(user, 'B');
    const tab = open(user);
    const unread = tab.inbox.view({ unread: true }, 20);
    const release = tab.inbox.retain(unread);
    await until('both unread listed', () => unread.getSnapshot().items.length === 2, 15_000);
    const other = open(user);
    await until('other loaded', () => other.snapshot().items.length === 2);
    await other.inbox.mutate('read', [a]);
    await until('read elsewhere arrives', () => ids(unread.getSnapshot()).join() === b);
    expect(tab.snapshot().unreadCount).toBe(1);
    release();
    tab.close();
    other.close();
  });

  it('shares one stream among "tabs" (Web Locks + BroadcastChannel) and hands it over when the leader closes', async () => {
    const user = `u-${randomUUID()}`;
    const tabs = [open(user, { shareStream: true }), open(user, { shareStream: true }), open(user, { shareStream: true })];
    await until('all live', () => tabs.every((t) => t.snapshot().connection === 'live' && !t.snapshot().loading));
    expect(tabs.filter((t) => t.inbox.holdsStream).length).toBe(1);
    const a = await send(user, 'A');
    await until('A in every tab', () => tabs.every((t) => ids(t.snapshot()).includes(a)));
    const leader = tabs.find((t) => t.inbox.holdsStream);
    leader?.close();
    const rest = tabs.filter((t) => t !== leader);
    await until('a new leader', () => rest.filter((t) => t.inbox.holdsStream).length === 1);
    const b = await send(user, 'B');
    await until('B in the remaining tabs', () => rest.every((t) => ids(t.snapshot()).includes(b)));
    for (const t of rest) expect(ids(t.snapshot())).toEqual([b, a]);
    for (const t of rest) t.close();
  });
});
