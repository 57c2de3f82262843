// The live inbox across processes: two API processes and a render worker, each a separate Node
// process (api/src/main.ts, worker/src/main.ts) sharing one PostgreSQL database and one Redis
// prefix. A client subscribed on API #1 sees what is sent and changed through API #2 (the worker's
// and #2's wake-ups travel through Redis), and a client that moves to API #2 with its last cursor
// continues exactly where it left off.
//
// The periodic recheck is set far beyond every wait here, so an event that arrives in time came
// through Redis pub/sub, not through the safety net.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient, type ExecutionResult } from 'graphql-sse';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, createTestDatabase, flushPrefix, httpClient, TEST_REDIS_URL, uniqueName } from './harness.ts';

const API_ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
/** Far longer than any wait below: live events must come through Redis. */
const RECHECK_MS = 120_000;
const LIVE_TIMEOUT_MS = 15_000;

interface Proc {
  name: string;
  child: ChildProcess;
  output: string;
}

const prefix = uniqueName('pigeonxproc');
const procs: Proc[] = [];
/** Open subscriptions, closed before the processes stop (a test that failed leaves them open). */
const openStreams = new Set<() => void>();
let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
let api1 = '';
let api2 = '';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
  });
}

function spawnProcess(name: string, entry: string, env: Record<string, string>): Proc {
  // process.execPath: the Node 24 running this test (the bare `node` on PATH may be older).
  const child = spawn(process.execPath, [entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { name, child, output: '' };
  child.stdout?.on('data', (d) => {
    proc.output += d;
  });
  child.stderr?.on('data', (d) => {
    proc.output += d;
  });
  procs.push(proc);
  return proc;
}

function describeProcesses(): string {
  return procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? 'running'}):\n${p.output.slice(-3_000)}`).join('\n');
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (exited) throw new Error(`${exited.name} exited while waiting for ${what}:\n${describeProcesses()}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${describeProcesses()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ready = (base: string) => async () => {
  try {
    return (await fetch(`${base}/readyz`)).status === 200;
  } catch {
    return false;
  }
};

async function stopProcess(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  database = await createTestDatabase();
  const [port1, port2] = await Promise.all([freePort(), freePort()]);
  api1 = `http://127.0.0.1:${port1}`;
  api2 = `http://127.0.0.1:${port2}`;
  const shared = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    DATABASE_POOL_SIZE: '4',
    INBOX_RECHECK_INTERVAL_MS: String(RECHECK_MS),
  };
  spawnProcess('api #1', API_ENTRY, { ...shared, PORT: String(port1), LOG_LEVEL: 'warn' });
  spawnProcess('api #2', API_ENTRY, { ...shared, PORT: String(port2), LOG_LEVEL: 'warn' });
  const worker = spawnProcess('worker', WORKER_ENTRY, { ...shared, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '4', RENDER_THREADS: '1' });
  await waitUntil('api #1 to be ready', ready(api1), 45_000);
  await waitUntil('api #2 to be ready', ready(api2), 45_000);
  await waitUntil('the worker to start', () => worker.output.includes('worker started'), 45_000);
}, 60_000);

afterAll(async () => {
  for (const close of openStreams) close();
  await Promise.all(procs.map(stopProcess));
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  await database?.drop();
});

async function gql(base: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (res.status !== 200 || body.errors) throw new Error(`${base}: HTTP ${res.status}: ${JSON.stringify(body)}`);
  return { res, data: body.data };
}

// --- a small graphql-sse subscriber (official client, no retries: every failure shows) ---------

interface EventData {
  cursor: string;
  seq: number;
  type: string;
  unreadCount: number;
  notification: { id: string } | null;
}

const INBOX_EVENTS = /* GraphQL */ `
  subscription($after: String) {
    inboxEvents(after: $after) { cursor seq type unreadCount notification { id } }
  }
`;

function subscribe(base: string, token: string, after?: string) {
  const client = createClient({ url: `${base}/graphql/stream`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  const events: EventData[] = [];
  const problems: string[] = [];
  let closed = false;
  const unsubscribe = client.subscribe<{ inboxEvents: EventData }>(
    { query: INBOX_EVENTS, variables: after === undefined ? {} : { after } },
    {
      next: (result: ExecutionResult<{ inboxEvents: EventData }>) => {
        if (result.data?.inboxEvents && !result.errors) events.push(result.data.inboxEvents);
        else problems.push(JSON.stringify(result));
      },
      complete: () => {
        if (!closed) problems.push('the server ended the stream');
      },
      error: (error: unknown) => problems.push(`error: ${error instanceof Error ? error.message : JSON.stringify(error)}`),
    },
  );
  const close = () => {
    closed = true;
    openStreams.delete(close);
    unsubscribe();
    client.dispose();
  };
  openStreams.add(close);
  return {
    events,
    problems,
    async waitFor(what: string, predicate: (events: EventData[]) => boolean): Promise<void> {
      await waitUntil(
        `${what} on ${base} (got ${JSON.stringify(events.map((e) => [e.seq, e.type]))}; problems ${JSON.stringify(problems)})`,
        () => {
          if (problems.length > 0) throw new Error(`stream on ${base} failed: ${JSON.stringify(problems)}`);
          return predicate(events);
        },
        LIVE_TIMEOUT_MS,
      );
    },
    close,
  };
}

// --- the test ---------------------------------------------------------------------------------

it('a subscriber on one API process sees sends and inbox changes made through the other, and resumes on it without repeats', async () => {
  const { apiKey } = await createTenant(httpClient(api2));
  const keyAuth = { authorization: `Bearer ${apiKey}` };
  const minted = await gql(api2, `mutation { createClientToken(recipient: "xproc-user") { token } }`, {}, keyAuth);
  const token = minted.data.createClientToken.token as string;
  const tokenAuth = { authorization: `Bearer ${token}` };
  const send = async (title: string) => {
    const r = await gql(
      api2,
      `mutation($i: SendInput!) { send(input: $i) { __typename ... on SendSuccess { notification { id } } } }`,
      { i: { to: 'xproc-user', title, body: 'across processes' } },
      keyAuth,
    );
    expect(r.data.send.__typename).toBe('SendSuccess');
    return r.data.send.notification.id as string;
  };
  const change = async (base: string, field: string, ids?: string[]) => {
    const args = ids ? '(ids: $ids)' : '';
    const r = await gql(
      base,
      `mutation${ids ? '($ids: [ID!]!)' : ''} { r: ${field}${args} { __typename ... on InboxChange { seq changedCount } } }`,
      ids ? { ids } : {},
      tokenAuth,
    );
    expect(r.data.r.__typename, `${field} through ${base}`).toBe('InboxChange');
    return r.data.r as { seq: number; changedCount: number };
  };

  // Subscribed on API #1. CONNECTED comes after the stream is attached to Redis.
  const first = subscribe(api1, token);
  await first.waitFor('CONNECTED', (e) => e.length >= 1);
  expect(first.events[0]).toMatchObject({ type: 'CONNECTED', seq: 0 });

  // A send through API #2, delivered by the worker process → live on API #1.
  const n1 = await send('first');
  await first.waitFor('the delivery', (e) => e.length >= 2);
  expect(first.events[1]).toMatchObject({ type: 'DELIVERED', seq: 1, unreadCount: 1, notification: { id: n1 } });

  // An inbox change through API #2 → live on API #1.
  expect((await change(api2, 'markRead', [n1])).seq).toBe(2);
  await first.waitFor('the read', (e) => e.length >= 3);
  expect(first.events[2]).toMatchObject({ type: 'READ', seq: 2, unreadCount: 0, notification: { id: n1 } });

  // A few more of both, interleaved.
  const n2 = await send('second');
  const n3 = await send('third');
  await first.waitFor('two more deliveries', (e) => e.length >= 5);
  expect((await change(api2, 'markAllRead')).changedCount).toBe(2);
  await first.waitFor('the all-read', (e) => e.length >= 6);
  expect(first.events.slice(3).map((e) => [e.seq, e.type, e.notification?.id ?? null])).toEqual([
    [3, 'DELIVERED', expect.any(String)],
    [4, 'DELIVERED', expect.any(String)],
    [5, 'ALL_READ', null],
  ]);
  expect(new Set(first.events.slice(3, 5).map((e) => e.notification?.id))).toEqual(new Set([n2, n3]));
  first.close();
  expect(first.problems).toEqual([]);
  const lastCursor = (first.events.at(-1) as EventData).cursor;

  // While the client is away, two more deliveries.
  const n4 = await send('fourth');
  const n5 = await send('fifth');
  await waitUntil(
    'both deliveries',
    async () => (await gql(api2, `{ inbox { seq } }`, {}, tokenAuth)).data.inbox.seq === 7,
    LIVE_TIMEOUT_MS,
  );

  // The client comes back on API #2 with its last cursor from API #1: a replay of exactly what it
  // missed, then live again — here with a change made through API #1.
  const second = subscribe(api2, token, lastCursor);
  await second.waitFor('the replay', (e) => e.length >= 2);
  expect((await change(api1, 'markRead', [n4])).seq).toBe(8);
  await second.waitFor('the read made through API #1', (e) => e.length >= 3);
  expect((await change(api1, 'markUnread', [n1])).seq).toBe(9);
  await second.waitFor('the unread made through API #1', (e) => e.length >= 4);
  second.close();
  expect(second.problems).toEqual([]);
  expect(second.events.map((e) => [e.seq, e.type, e.notification?.id ?? null])).toEqual([
    [6, 'DELIVERED', n4],
    [7, 'DELIVERED', n5],
    [8, 'READ', n4],
    [9, 'UNREAD', n1],
  ]);

  // Across both processes: 1..9, each once, in order.
  const seqs = [...first.events, ...second.events].filter((e) => e.type !== 'CONNECTED').map((e) => e.seq);
  expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect((await gql(api1, `{ inbox { seq unreadCount } }`, {}, tokenAuth)).data.inbox).toEqual({ seq: 9, unreadCount: 2 });
}, 60_000);
