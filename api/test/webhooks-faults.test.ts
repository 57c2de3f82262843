// Webhook delivery under faults, end to end: real receivers on 127.0.0.1, real worker processes,
// a Redis of our own that loses everything, SIGKILLed workers, a hanging endpoint next to a healthy
// one, and SSRF attempts that must be refused before any connection is made. PostgreSQL is the
// ledger: whatever Redis or a worker loses, every delivery must still finish, with the same
// webhook-id, and only attempts that really finished are in the attempt log.
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openPostgres } from '@pigeon/schema';
import { createLogger, webhookSettings } from '@pigeon/worker';
import { type AddressLookup, parseAllowList, type TargetPolicy } from '@pigeon/worker/webhooks/target';
import { Redis } from 'ioredis';
import { describe, expect, it, type MockInstance, type TestContext, vi } from 'vitest';
import { startServer } from '../src/server.ts';
import {
  ADMIN_DATABASE_URL,
  bearer,
  createTenant,
  createTestApi,
  createTestDatabase,
  type GqlClient,
  httpClient,
  startTestWorker,
  TEST_REDIS_URL,
  type Tenant,
  type TestApi,
  testEnv,
  uniqueName,
} from './harness.ts';
import { createEndpoint, eventually, loopbackTargets, sendNotification, sendTestEvent } from './webhook-kit.ts';

const WORKER_ENTRY = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Cleanup: each test stacks what it started; everything is undone in reverse order when the test
// ends, passed or failed (the two crash tests run concurrently, so no file-level state).

type Cleanup = (fn: () => unknown) => void;

function cleanupStack(onTestFinished: TestContext['onTestFinished']): Cleanup {
  const stack: Array<() => unknown> = [];
  onTestFinished(async () => {
    const errors: unknown[] = [];
    for (let fn = stack.pop(); fn; fn = stack.pop()) {
      // One step that hangs (a close waiting for a Redis that is gone) must not keep the steps
      // below it, which kill processes, from running.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cleanup step timed out: ${String(fn).slice(0, 120)}`)), 15_000);
      });
      try {
        await Promise.race([fn(), deadline]);
      } catch (error) {
        errors.push(error);
      } finally {
        clearTimeout(timer);
      }
    }
    if (errors.length > 0) throw errors[0];
  }, 90_000);
  return (fn) => {
    stack.push(fn);
  };
}

/** Last resort: children still running when this test process exits are killed with it. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net
      .createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
  });
}

// ---------------------------------------------------------------------------------------------
// A receiver that answers per request (it sees which attempt of a webhook-id it is) and counts the
// requests it holds open.

interface Hit {
  /** The webhook-id header. */
  id: string;
  body: string;
  /** Date.now() when the whole request had arrived. */
  at: number;
  /** 1 for the first request with this webhook-id, 2 for the second, … */
  nth: number;
  status: number | null;
}

type Answer = number | 'hang' | { status: number; headers: Record<string, string> };

interface HookServer {
  url: string;
  port: number;
  hits: Hit[];
  /** Requests not answered yet (and not abandoned by the client). */
  inFlight: number;
  maxInFlight: number;
  hitsFor(id: string): Hit[];
}

async function startHookServer(cleanup: Cleanup, answer: (hit: Hit) => Answer): Promise<HookServer> {
  const state: HookServer = {
    url: '',
    port: 0,
    hits: [],
    inFlight: 0,
    maxInFlight: 0,
    hitsFor: (id) => state.hits.filter((h) => h.id === id),
  };
  const server = http.createServer((req, res) => {
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    // Fires when the answer went out or the client gave up (its timeout destroys the socket).
    res.on('close', () => {
      state.inFlight -= 1;
    });
    res.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      const hit: Hit = {
        id,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        nth: state.hitsFor(id).length + 1,
        status: null,
      };
      const a = answer(hit);
      if (a !== 'hang') hit.status = typeof a === 'number' ? a : a.status;
      state.hits.push(hit);
      if (a === 'hang') return;
      if (typeof a === 'number') res.writeHead(a, { 'content-type': 'text/plain' }).end(`status ${a}`);
      else res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers }).end('moved');
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}/hook`;
  cleanup(() => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Also the connections held by 'hang'.
    server.closeAllConnections();
    return closed;
  });
  return state;
}

// ---------------------------------------------------------------------------------------------
// Processes: worker/src/main.ts and a redis-server of our own.

interface Child {
  child: ChildProcess;
  output: string;
  exited: Promise<void>;
}

/** Starts a child process; `cleanup` (when given) kills it at the end of the test. */
function spawnChild(cleanup: Cleanup | null, command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const proc: Child = {
    child,
    output: '',
    exited: new Promise((resolve) =>
      child.once('exit', () => {
        children.delete(child);
        resolve();
      }),
    ),
  };
  child.stdout?.on('data', (d) => {
    proc.output += d;
  });
  child.stderr?.on('data', (d) => {
    proc.output += d;
  });
  cleanup?.(() => killHard(proc));
  return proc;
}

async function killHard(proc: Child): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

async function waitForOutput(proc: Child, text: string, what: string): Promise<void> {
  await eventually(
    () => proc.output,
    (out) => out.includes(text) || proc.child.exitCode !== null,
    what,
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  if (!proc.output.includes(text)) throw new Error(`${what}: the process exited (${proc.child.exitCode}):\n${proc.output}`);
}

async function spawnWorker(cleanup: Cleanup, env: Record<string, string>): Promise<Child> {
  // process.execPath: the Node 24 running this test (the bare `node` on PATH may be older).
  const proc = spawnChild(cleanup, process.execPath, [WORKER_ENTRY], env);
  await waitForOutput(proc, '"worker started"', 'the worker process to start');
  return proc;
}

interface OwnRedis {
  url: string;
  /** SIGKILL: everything in it is gone. */
  stop(): Promise<void>;
  /** Starts an empty one on the same port (no-op while it runs). */
  start(): Promise<void>;
}

/** A redis-server of this test's own on a free port (nothing on disk), killed at cleanup. */
async function startOwnRedis(cleanup: Cleanup): Promise<OwnRedis> {
  const port = await freePort();
  let current: Child | null = null;
  const running = () => current !== null && current.child.exitCode === null && current.child.signalCode === null;
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (running()) return;
      // Not on the cleanup stack per start: a restart must not be killed before the steps that
      // still need Redis (they were stacked earlier, so they run later).
      current = spawnChild(null, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
      await waitForOutput(current, 'Ready to accept connections', `redis-server on port ${port} to start`);
    },
    async stop() {
      if (current) await killHard(current);
    },
  };
  cleanup(() => own.stop());
  await own.start();
  return own;
}

// ---------------------------------------------------------------------------------------------
// API and GraphQL reads (a small selection: a delivery with every attempt exceeds the query cost limit)

async function newApi(
  cleanup: Cleanup,
  overrides: Record<string, string>,
  targets: TargetPolicy,
): Promise<{ api: TestApi; tenant: Tenant }> {
  const api = await createTestApi(overrides, { webhookTargets: targets });
  cleanup(() => api.close());
  return { api, tenant: await createTenant(api) };
}

interface AttemptRow {
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  errorClass: string | null;
  errorMessage: string | null;
  durationMs: number;
  requestBody: string;
  requestHeaders: Record<string, string>;
}

interface DeliveryRow {
  id: string;
  webhookId: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  attemptCount: number;
  createdAt: string;
  failureReason: string | null;
  attempts: AttemptRow[];
}

async function gqlData(api: GqlClient, headers: Record<string, string>, query: string, variables: Record<string, unknown>) {
  const { body } = await api.gql(query, variables, headers);
  if (body.errors || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body)}`);
  return body.data;
}

async function deliveryOf(api: GqlClient, headers: Record<string, string>, id: string): Promise<DeliveryRow> {
  const data = await gqlData(
    api,
    headers,
    `query($id: ID!) { webhookDelivery(id: $id) { id webhookId status attemptCount createdAt failureReason
       attempts(first: 20) { edges { node { responseStatus responseHeaders errorClass errorMessage durationMs requestBody requestHeaders } } } } }`,
    { id },
  );
  const d = data.webhookDelivery;
  if (!d) throw new Error(`delivery ${id} not found`);
  return { ...d, attempts: d.attempts.edges.map((e: { node: AttemptRow }) => e.node) };
}

/** The endpoint's deliveries (up to 100), without attempts. */
async function deliveriesOf(api: GqlClient, headers: Record<string, string>, endpointId: string): Promise<Omit<DeliveryRow, 'attempts'>[]> {
  const data = await gqlData(
    api,
    headers,
    `query($f: WebhookDeliveryFilter) { webhookDeliveries(filter: $f, first: 100) {
       edges { node { id webhookId status attemptCount createdAt failureReason } } } }`,
    { f: { endpointId } },
  );
  return data.webhookDeliveries.edges.map((e: { node: Omit<DeliveryRow, 'attempts'> }) => e.node);
}

async function waitForFinished(api: GqlClient, headers: Record<string, string>, id: string, timeoutMs = 15_000): Promise<DeliveryRow> {
  return eventually(
    () => deliveryOf(api, headers, id),
    (d) => d.status !== 'PENDING',
    `delivery ${id} to finish`,
    { timeoutMs, intervalMs: 100 },
  );
}

async function sendMany(api: GqlClient, headers: Record<string, string>, count: number, label: string, parallel = 4): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++)
        await sendNotification(api, headers, { to: `r${i % 7}`, title: `${label} ${i}`, body: 'x' });
    }),
  );
}

// =============================================================================================

describe('Redis loses everything', () => {
  it('every delivery still succeeds after FLUSHALL mid-schedule and after sends during an outage', async ({ onTestFinished }) => {
    const cleanup = cleanupStack(onTestFinished);
    const redis = await startOwnRedis(cleanup);
    const targets = loopbackTargets();
    // The production assembly (api/src/server.ts, as in `npm start`: API and workers in one
    // process), not the harness's API: what matters here is how its Redis connections behave.
    const database = await createTestDatabase();
    cleanup(() => database.drop());
    const env = testEnv(database.url, uniqueName('pigeonfaults'), {
      REDIS_URL: redis.url,
      SIGNUP_MAX_PER_HOUR: '100000',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_RETRY_SCHEDULE: '0s,5s,5s',
      WEBHOOK_RETRY_JITTER: '0',
    });
    const db = openPostgres({ url: database.url, poolSize: 10 });
    cleanup(() => db.close());
    const server = await startServer({
      env,
      db,
      log: createLogger('silent'),
      withWorkers: true,
      hooks: {
        webhookTargets: targets,
        worker: { reconcileAfterMs: 500, reconcileIntervalMs: 250, webhooks: { ...webhookSettings(env), targets } },
      },
    });
    cleanup(() => server.stop());
    // Stopping the server needs Redis: bring it back if the test failed during the outage.
    cleanup(() => redis.start());
    const api = httpClient(server.url);
    const tenant = await createTenant(api);
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
    cleanup(() => admin.disconnect());
    const delayedKey = `${env.REDIS_PREFIX}:webhook:delayed`;

    // The first attempt of every delivery fails, so its retry waits 5 s in BullMQ's delayed set
    // (long enough, on a busy machine, to flush Redis before any retry is due).
    const receiver = await startHookServer(cleanup, (hit) => (hit.nth === 1 ? 500 : 200));
    const headers = bearer(tenant.apiKey);
    const endpoint = await createEndpoint(api, headers, { url: receiver.url, eventTypes: ['notification.accepted'] });

    const N = 20;
    await sendMany(api, headers, N, 'before the flush', 10);
    await eventually(
      () => deliveriesOf(api, headers, endpoint.id),
      (list) => list.length === N && list.every((d) => d.status === 'PENDING' && d.attemptCount === 1),
      'every first attempt to be recorded',
    );
    await eventually(
      () => admin.zcard(delayedKey),
      (n) => n === N,
      'every retry to sit in the delayed set',
    );
    // Mid-schedule: no retry has been made yet.
    expect(receiver.hits.filter((h) => h.nth > 1)).toEqual([]);
    await admin.flushall();
    expect(await admin.zcard(delayedKey)).toBe(0);

    const afterFlush = await eventually(
      () => deliveriesOf(api, headers, endpoint.id),
      (list) => list.every((d) => d.status !== 'PENDING'),
      'the reconciler to finish every delivery from PostgreSQL',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(afterFlush.map((d) => d.status)).toEqual(Array(N).fill('SUCCEEDED'));
    for (const d of afterFlush) {
      expect(d.webhookId).toBe(d.id);
      // One failure, one success: seen until it succeeded, and never after.
      expect(receiver.hitsFor(d.id).map((h) => h.status)).toEqual([500, 200]);
      expect(d.attemptCount).toBe(2);
    }

    // Redis down entirely: sends still succeed (the enqueue gives up and is left to the reconcilers).
    await redis.stop();
    const M = 5;
    const sendMs: number[] = [];
    for (let i = 0; i < M; i++) {
      const t0 = performance.now();
      await sendNotification(api, headers, { to: 'ada', title: `during the outage ${i}`, body: 'x' });
      sendMs.push(performance.now() - t0);
    }
    expect(Math.max(...sendMs)).toBeLessThan(5_000);
    expect(receiver.hits).toHaveLength(2 * N);
    await redis.start();

    const all = await eventually(
      () => deliveriesOf(api, headers, endpoint.id),
      (list) => list.length === N + M && list.every((d) => d.status !== 'PENDING'),
      'the deliveries of the sends made while Redis was down',
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(all.map((d) => d.status)).toEqual(Array(N + M).fill('SUCCEEDED'));
    for (const d of all) expect(receiver.hitsFor(d.id).map((h) => h.status)).toEqual([500, 200]);

    const ids = new Set(all.map((d) => d.id));
    const successes = receiver.hits.filter((h) => h.status === 200);
    const delivered = new Set(successes.map((h) => h.id));
    expect(receiver.hits.every((h) => ids.has(h.id))).toBe(true);
    expect(delivered).toEqual(ids);
    console.log(
      `redis loss: sent=${N + M} delivered=${delivered.size} duplicates=${successes.length - delivered.size} ` +
        `lost=${ids.size - delivered.size} requests=${receiver.hits.length} slowest send while Redis was down=${Math.round(Math.max(...sendMs))} ms`,
    );
  }, 90_000);
});

// =============================================================================================

const CRASH_SETTINGS = {
  WEBHOOK_TIMEOUT_MS: '2000',
  // One scheduled attempt: if a crash counted as an attempt, the delivery would be exhausted.
  WEBHOOK_RETRY_SCHEDULE: '0s',
  WEBHOOK_RETRY_JITTER: '0',
};
/** deliver.ts: the lease outlives the longest attempt by 10 s. */
const LEASE_MS = (Math.ceil(Number(CRASH_SETTINGS.WEBHOOK_TIMEOUT_MS) / 1000) + 10) * 1000;
/**
 * After a crash the attempt is made again once the lease has run out and the reconciler (every
 * 300 ms, 500 ms past due) re-enqueues the delivery: lease plus a generous margin for starting a
 * worker process on a busy machine.
 */
const RECOVERY_BOUND_MS = LEASE_MS + 12_000;

interface CrashOutcome {
  deliveryId: string;
  hits: Hit[];
  delivery: DeliveryRow;
  /** From each kill to the next request for the delivery. */
  recoveriesMs: number[];
}

/**
 * One delivery whose receiver holds the first `crashes` requests open; each time one arrives the
 * worker process is SIGKILLed and a new one started. Each wait for the next attempt gives up after
 * `waitMs`, describing where the delivery is stuck.
 */
async function crashScenario(cleanup: Cleanup, crashes: number, waitMs: number): Promise<CrashOutcome> {
  const { api, tenant } = await newApi(cleanup, CRASH_SETTINGS, loopbackTargets());
  const headers = bearer(tenant.apiKey);
  const receiver = await startHookServer(cleanup, (hit) => (hit.nth <= crashes ? 'hang' : 200));
  const endpoint = await createEndpoint(api, headers, { url: receiver.url, eventTypes: ['notification.accepted'] });
  const workerEnv = {
    DATABASE_URL: api.databaseUrl,
    REDIS_URL: api.env.REDIS_URL,
    REDIS_PREFIX: api.env.REDIS_PREFIX,
    LOG_LEVEL: 'info',
    DATABASE_POOL_SIZE: '4',
    WORKER_CONCURRENCY: '2',
    RENDER_THREADS: '1',
    RECONCILE_AFTER_MS: '500',
    RECONCILE_INTERVAL_MS: '300',
    WEBHOOK_ALLOW_LIST: '127.0.0.0/8',
    ...CRASH_SETTINGS,
  };
  let worker = await spawnWorker(cleanup, workerEnv);
  await sendNotification(api, headers, { to: 'ada', title: 'crash', body: 'me' });
  const [listed] = await eventually(
    () => deliveriesOf(api, headers, endpoint.id),
    (l) => l.length === 1,
    'the delivery row',
  );
  const deliveryId = (listed as { id: string }).id;

  /** Where a delivery that was not attempted again is stuck (PostgreSQL and BullMQ). */
  const diagnose = async () => {
    const [row] = await api.db.prisma.$queryRaw<{ status: string; attempt_count: number; lease_left_ms: number | null }[]>`
      SELECT status::text, attempt_count, (extract(epoch FROM lease_until - now()) * 1000)::float8 AS lease_left_ms
        FROM webhook_deliveries WHERE id = ${deliveryId}::uuid`;
    const jobId = `webhook-${deliveryId}-${row?.attempt_count ?? 0}`;
    const active = await api.redis.lrange(`${api.env.REDIS_PREFIX}:webhook:active`, 0, -1);
    return (
      `delivery ${JSON.stringify(row)}; BullMQ job ${jobId} ${active.includes(jobId) ? 'is still in the active list (held by the killed worker), so the reconciler re-enqueue under the same job id is a no-op' : 'is not active'}.\n` +
      `worker output:\n${worker.output.slice(-2_000)}`
    );
  };
  const waitForRequest = async (n: number, since: number, timeoutMs: number) => {
    try {
      await waitForHits(receiver, deliveryId, n, timeoutMs);
    } catch {
      throw new Error(
        `Request ${n} for the delivery did not arrive within ${timeoutMs} ms of the crash (its lease is ${LEASE_MS} ms). ` +
          `${Math.round(Date.now() - since)} ms since the kill; ${await diagnose()}`,
      );
    }
  };

  const recoveriesMs: number[] = [];
  await waitForRequest(1, Date.now(), 20_000);
  for (let i = 1; i <= crashes; i++) {
    const killedAt = Date.now();
    await killHard(worker);
    worker = await spawnWorker(cleanup, workerEnv);
    await waitForRequest(i + 1, killedAt, waitMs);
    recoveriesMs.push((receiver.hitsFor(deliveryId)[i] as Hit).at - killedAt);
  }
  const delivery = await waitForFinished(api, headers, deliveryId);
  return { deliveryId, hits: receiver.hits, delivery, recoveriesMs };
}

async function waitForHits(receiver: HookServer, id: string, n: number, timeoutMs: number): Promise<void> {
  await eventually(
    () => receiver.hitsFor(id).length,
    (count) => count >= n,
    `request ${n} for ${id}`,
    { timeoutMs, intervalMs: 50 },
  );
}

function expectRecoveredAfterCrashes(outcome: CrashOutcome, crashes: number, check: typeof expect): void {
  const { deliveryId, hits, delivery } = outcome;
  // One extra request per crash, all for this delivery, each with the same webhook-id and body.
  check(hits.map((h) => h.id)).toEqual(Array(crashes + 1).fill(deliveryId));
  check(new Set(hits.map((h) => h.body)).size).toBe(1);
  check(hits.map((h) => h.status)).toEqual([...Array(crashes).fill(null), 200]);
  // The killed attempts left no trace; the one that finished is the only attempt, and it did not
  // use up the single-attempt schedule.
  check(delivery).toMatchObject({ id: deliveryId, webhookId: deliveryId, status: 'SUCCEEDED', attemptCount: 1, failureReason: null });
  check(delivery.attempts).toHaveLength(1);
  const [attempt] = delivery.attempts as [AttemptRow];
  check(attempt).toMatchObject({ responseStatus: 200, errorClass: null, requestBody: (hits[0] as Hit).body });
  check(attempt.requestHeaders['webhook-id']).toBe(deliveryId);
}

// The two run side by side (each with its own database, Redis prefix and worker processes).
describe.concurrent('a worker killed mid-delivery (SIGKILL, worker/src/main.ts)', () => {
  it('attempts again with the same webhook-id and body; only the finished attempt is recorded', async ({ onTestFinished, expect }) => {
    const cleanup = cleanupStack(onTestFinished);
    // Waits long enough to show the outcome even when recovery is slow; the bound is checked last.
    const outcome = await crashScenario(cleanup, 1, 90_000);
    console.log(`one crash: requests=${outcome.hits.length} recovery=${outcome.recoveriesMs.join(', ')} ms (lease ${LEASE_MS} ms)`);
    expectRecoveredAfterCrashes(outcome, 1, expect);
    expect(
      outcome.recoveriesMs[0],
      "the attempt after a crash should follow the lease running out, not BullMQ's stalled-job check",
    ).toBeLessThan(RECOVERY_BOUND_MS);
  }, 120_000);

  it('three crashes in a row never exhaust a single-attempt schedule', async ({ onTestFinished, expect }) => {
    const cleanup = cleanupStack(onTestFinished);
    const outcome = await crashScenario(cleanup, 3, RECOVERY_BOUND_MS);
    console.log(`three crashes: requests=${outcome.hits.length} recoveries=${outcome.recoveriesMs.join(', ')} ms`);
    expectRecoveredAfterCrashes(outcome, 3, expect);
  }, 120_000);
});

// =============================================================================================

describe('isolation between endpoints', () => {
  it('an endpoint that hangs until the timeout never delays a healthy one, and never has more than its limit in flight', async ({
    onTestFinished,
  }) => {
    const cleanup = cleanupStack(onTestFinished);
    const targets = loopbackTargets();
    const TIMEOUT_MS = 5_000;
    const ENDPOINT_LIMIT = 4;
    const { api, tenant } = await newApi(
      cleanup,
      {
        WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
        WEBHOOK_ENDPOINT_CONCURRENCY: String(ENDPOINT_LIMIT),
        WEBHOOK_RETRY_SCHEDULE: '0s',
        WEBHOOK_RETRY_JITTER: '0',
      },
      targets,
    );
    const worker = await startTestWorker(api, { webhooks: { ...webhookSettings(api.env), targets }, webhookConcurrency: 16 });
    cleanup(() => worker.stop());
    const slow = await startHookServer(cleanup, () => 'hang');
    const healthy = await startHookServer(cleanup, () => 200);
    const headers = bearer(tenant.apiKey);
    const slowEndpoint = await createEndpoint(api, headers, { url: slow.url, eventTypes: ['notification.accepted'] });
    const healthyEndpoint = await createEndpoint(api, headers, { url: healthy.url, eventTypes: ['notification.accepted'] });

    const N = 100;
    // One send at a time: the sends themselves must not build a backlog on this (shared, two-core)
    // machine, so a delay can only come from waiting behind the slow endpoint.
    await sendMany(api, headers, N, 'isolation', 1);
    await eventually(
      () => new Set(healthy.hits.map((h) => h.id)).size,
      (n) => n === N,
      'every healthy delivery',
      {
        timeoutMs: 30_000,
      },
    );
    // Let the slow endpoint's first wave time out and the next take its place.
    await eventually(
      () => slow.hits.length,
      (n) => n >= 2 * ENDPOINT_LIMIT,
      'a second wave at the slow endpoint',
      {
        timeoutMs: 3 * TIMEOUT_MS,
      },
    );

    const healthyDeliveries = await eventually(
      () => deliveriesOf(api, headers, healthyEndpoint.id),
      (list) => list.length === N && list.every((d) => d.status === 'SUCCEEDED'),
      'every healthy delivery to be recorded as SUCCEEDED',
    );
    const createdAt = new Map(healthyDeliveries.map((d) => [d.id, Date.parse(d.createdAt)]));
    const delays = healthy.hits.map((h) => h.at - (createdAt.get(h.id) as number)).sort((a, b) => a - b);
    expect(healthy.hits).toHaveLength(N);
    expect(delays.every(Number.isFinite)).toBe(true);
    // Well below one attempt at the slow endpoint: no healthy delivery ever waited behind it (had
    // one waited for a worker slot held by a hanging attempt, it would have waited a whole timeout).
    expect(delays.at(-1)).toBeLessThan(TIMEOUT_MS / 2);

    expect(slow.maxInFlight).toBeLessThanOrEqual(ENDPOINT_LIMIT);
    // It was saturated the whole time (so the limit, not a lack of work, kept it at 4).
    expect(slow.maxInFlight).toBe(ENDPOINT_LIMIT);
    const slowDeliveries = await deliveriesOf(api, headers, slowEndpoint.id);
    const timedOut = slowDeliveries.filter((d) => d.status === 'FAILED');
    expect(timedOut.length).toBeGreaterThanOrEqual(ENDPOINT_LIMIT);
    const sample = await deliveryOf(api, headers, (timedOut[0] as { id: string }).id);
    expect(sample.attempts).toMatchObject([{ errorClass: 'timeout', responseStatus: null }]);
    expect((sample.attempts[0] as AttemptRow).durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    console.log(
      `isolation: healthy delays p50=${delays[Math.floor(N / 2)]} ms max=${delays.at(-1)} ms; ` +
        `slow endpoint: ${slow.hits.length} requests, max in flight ${slow.maxInFlight} (limit ${ENDPOINT_LIMIT}), ${timedOut.length} timed out`,
    );
  }, 60_000);
});

// =============================================================================================

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;

/** host and port of a net.Socket#connect call, in any of its forms (options, port/host, normalized array). */
function connectTarget(args: unknown[]): { host?: string; port?: number } {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { port: Number(first), host: typeof args[1] === 'string' ? args[1] : undefined };
  }
  if (first && typeof first === 'object') {
    const o = first as { port?: unknown; host?: unknown; path?: unknown };
    const host = typeof o.host === 'string' ? o.host : typeof o.path === 'string' ? o.path : undefined;
    return { port: o.port === undefined ? undefined : Number(o.port), host };
  }
  return {};
}

describe('SSRF, end to end', () => {
  it('refuses private addresses at creation, a rebinding name at the attempt (before any connection), and never follows redirects', async ({
    onTestFinished,
  }) => {
    const cleanup = cleanupStack(onTestFinished);
    const rebound = await startHookServer(cleanup, () => 200);
    const internal = await startHookServer(cleanup, () => 200);
    const redirecting = await startHookServer(cleanup, () => ({
      status: 302,
      headers: { location: `http://127.0.0.1:${internal.port}/` },
    }));

    // The resolver the API and the worker both use; a test changes its answers.
    const dns = new Map<string, string>([
      ['evil.test', '10.0.0.5'],
      ['rebind.test', '93.184.216.34'],
      ['redirect.test', '127.0.0.1'],
    ]);
    const lookups: string[] = [];
    const lookup: AddressLookup = async (hostname) => {
      lookups.push(`${hostname}=${dns.get(hostname)}`);
      const address = dns.get(hostname);
      if (!address) throw Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' });
      return [{ address, family: 4 }];
    };
    // Nothing on loopback is allowed except the redirecting receiver's exact host:port.
    const targets: TargetPolicy = { allow: parseAllowList(`redirect.test:${redirecting.port}`), lookup };
    const { api, tenant } = await newApi(cleanup, { WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RETRY_SCHEDULE: '0s' }, targets);
    const worker = await startTestWorker(api, { webhooks: { ...webhookSettings(api.env), targets } });
    cleanup(() => worker.stop());
    const headers = bearer(tenant.apiKey);

    const refused = await gqlData(
      api,
      headers,
      `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
         __typename ... on ValidationError { issues { path message } } } }`,
      { input: { url: 'http://evil.test/hook', eventTypes: ['notification.accepted'] } },
    );
    expect(refused.createWebhookEndpoint.__typename).toBe('ValidationError');
    expect(refused.createWebhookEndpoint.issues[0].message).toContain('10.0.0.5');

    // Public when the endpoint is created …
    const rebind = await createEndpoint(api, headers, {
      url: `http://rebind.test:${rebound.port}/hook`,
      eventTypes: ['endpoint.disabled'],
    });
    const redirect = await createEndpoint(api, headers, {
      url: `http://redirect.test:${redirecting.port}/hook`,
      eventTypes: ['endpoint.disabled'],
    });

    // Every outgoing connection from here on is recorded; only PostgreSQL, Redis and the
    // redirecting receiver may actually be reached (anything else fails instead of connecting).
    const infraPorts = new Set([Number(new URL(ADMIN_DATABASE_URL).port || 5432), Number(new URL(TEST_REDIS_URL).port || 6379)]);
    const connects: Array<{ host?: string; port?: number }> = [];
    const original = net.Socket.prototype.connect as unknown as Connect;
    const spy = (vi.spyOn(net.Socket.prototype, 'connect') as unknown as MockInstance<Connect>).mockImplementation(function (
      this: net.Socket,
      ...args: unknown[]
    ) {
      const target = connectTarget(args);
      if (target.port !== undefined && infraPorts.has(target.port)) return original.apply(this, args);
      connects.push(target);
      if (target.port === redirecting.port) return original.apply(this, args);
      process.nextTick(() => this.destroy(new Error(`test: refused a connection to ${target.host}:${target.port}`)));
      return this;
    });
    cleanup(() => spy.mockRestore());

    // … then the name moves to loopback before the attempt.
    dns.set('rebind.test', '127.0.0.1');
    const rebindDelivery = await waitForFinished(api, headers, await sendTestEvent(api, headers, rebind.id));
    expect(rebindDelivery).toMatchObject({ status: 'FAILED', attemptCount: 1 });
    expect(rebindDelivery.attempts).toHaveLength(1);
    const [blocked] = rebindDelivery.attempts as [AttemptRow];
    expect(blocked).toMatchObject({ errorClass: 'blocked_address', responseStatus: null });
    expect(blocked.errorMessage).toContain('127.0.0.1');
    expect(lookups).toContain('rebind.test=127.0.0.1');
    expect(connects).toEqual([]);
    expect(rebound.hits).toEqual([]);

    const redirectDelivery = await waitForFinished(api, headers, await sendTestEvent(api, headers, redirect.id));
    expect(redirectDelivery).toMatchObject({ status: 'FAILED', attemptCount: 1 });
    expect(redirectDelivery.attempts).toMatchObject([
      { responseStatus: 302, errorClass: null, responseHeaders: { location: `http://127.0.0.1:${internal.port}/` } },
    ]);
    expect(redirecting.hits).toHaveLength(1);
    expect(internal.hits).toEqual([]);
    // The spy did see the one real connection, so it would have seen one to the rebound name.
    expect(connects.length).toBeGreaterThanOrEqual(1);
    expect(connects.filter((c) => c.port !== redirecting.port)).toEqual([]);
    console.log(`ssrf: lookups=${lookups.join(' ')} connections=${JSON.stringify(connects)}`);
  }, 30_000);
});
