// The platform as real processes on the fault test's own services: a fresh PostgreSQL cluster
// (migrated with the real migrations) and a Redis of its own, API processes (api/src/main.ts) and
// worker processes (worker/src/main.ts) that a test can SIGKILL and start again on the same port.
//
//   const platform = await startPlatform();
//   const api = await platform.spawnApi('api #1');     // api.base, api.kill(), api.start()
//   const worker = await platform.spawnWorker('worker');
//   const tenant = await platform.createTenant();      // a user, a project, an API key
//   ...
//   await platform.close();                            // processes, services, temporary directories
//
// Recovery knobs are turned down so a test sees recovery in seconds: the reconciler re-enqueues
// ACCEPTED notifications and due webhook deliveries after 2 s (checked every second).
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@pigeon/schema/migrate';
import pg from 'pg';
import { createTenant, httpClient, type Tenant } from '../../api/test/harness.ts';
import {
  type Child,
  freePort,
  killAllChildren,
  type OwnPostgres,
  type OwnRedis,
  signal,
  signalAndWait,
  spawnChild,
  startPostgres,
  startRedis,
  waitFor,
} from './services.ts';

const API_ENTRY = fileURLToPath(new URL('../../api/src/main.ts', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));

/** Settings every API and worker process of a fault test gets (a test may override any). */
export const FAULT_ENV: Record<string, string> = {
  REDIS_PREFIX: 'pigeon',
  DATABASE_POOL_SIZE: '6',
  // The commit-then-enqueue window and lost queues are closed by the reconciler: make it quick
  // (defaults 5 s / 2 s). Not quicker: each pass re-enqueues the whole due backlog (up to 500
  // notifications and 1,000 deliveries per worker), which competes with the work itself.
  RECONCILE_AFTER_MS: '2000',
  RECONCILE_INTERVAL_MS: '1000',
  WORKER_CONCURRENCY: '8',
  RENDER_THREADS: '1',
  WEBHOOK_CONCURRENCY: '32',
  WEBHOOK_ALLOW_LIST: '127.0.0.0/8',
  // A killed worker's claimed delivery is retried when its lease (timeout + 10 s) runs out.
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_RETRY_SCHEDULE: '0s,300ms,1s,2s,5s,10s,30s',
  WEBHOOK_RETRY_JITTER: '0',
  SIGNUP_MAX_PER_HOUR: '1000',
  DASHBOARD: 'false',
  GRAPHIQL: 'false',
};

/** One API or worker process that can be killed and started again (same port, same settings). */
export interface Service {
  readonly name: string;
  readonly kind: 'api' | 'worker';
  /** API processes: `http://127.0.0.1:<port>` (stable across restarts). */
  readonly base: string;
  readonly port: number;
  /** The current process (null before the first start). */
  current(): Child | null;
  running(): boolean;
  /** Spawns the process and waits until it is ready (/readyz, or "worker started"). */
  start(): Promise<void>;
  /** Sends `sig` and waits for the exit (SIGKILL by default: no shutdown code runs). */
  kill(sig?: NodeJS.Signals): Promise<void>;
  /** SIGTERM: a graceful stop. */
  stop(): Promise<void>;
  /** How many times the process was started, and killed with SIGKILL. */
  readonly starts: number;
  readonly kills: number;
  /** Counters parsed from the worker's log: what its reconciler re-enqueued. */
  readonly reconciled: { notifications: number; webhooks: number };
  /** All output of all its incarnations (tails). */
  output(): string;
}

export interface SpawnServiceOptions {
  env?: Record<string, string>;
  /** Node flags before the entry (e.g. --expose-gc, --inspect=127.0.0.1:PORT). */
  nodeArgs?: string[];
  port?: number;
  /** Do not start it yet. */
  deferStart?: boolean;
}

export interface Platform {
  readonly postgres: OwnPostgres;
  readonly redis: OwnRedis;
  readonly databaseUrl: string;
  /** A small pool of the test's own for checking the ledger (survives PostgreSQL restarts). */
  readonly sql: pg.Pool;
  readonly services: Service[];
  spawnApi(name: string, options?: SpawnServiceOptions): Promise<Service>;
  spawnWorker(name: string, options?: SpawnServiceOptions): Promise<Service>;
  /** Signs up a user with a project and an API key per environment, through `base`. */
  createTenant(base: string): Promise<Tenant>;
  /** Every service's and server's output tail, for a failing test's message. */
  describe(): string;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** false: PostgreSQL without fsync (only for tests that do not prove durability). */
  durable?: boolean;
  /** Extra settings for every API and worker process. */
  env?: Record<string, string>;
}

const DATABASE = 'pigeon';

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const postgres = await startPostgres({ durable: options.durable ?? true });
  let redis: OwnRedis | null = null;
  let sql: pg.Pool | null = null;
  const services: Service[] = [];
  try {
    redis = await startRedis();
    const admin = new pg.Client({ connectionString: postgres.url('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.end();
    const databaseUrl = postgres.url(DATABASE);
    await applyMigrations({ kind: 'postgres', connectionString: databaseUrl });
    sql = new pg.Pool({ connectionString: databaseUrl, max: 3, connectionTimeoutMillis: 5_000 });
    // PostgreSQL going away under the pool (a stop test) must not crash the test process.
    sql.on('error', () => {});
    const shared = { ...FAULT_ENV, DATABASE_URL: databaseUrl, REDIS_URL: redis.url, ...options.env };
    const ownRedis = redis;
    const ownSql = sql;

    const makeService = async (kind: 'api' | 'worker', name: string, opts: SpawnServiceOptions): Promise<Service> => {
      const port = kind === 'api' ? (opts.port ?? (await freePort())) : 0;
      const base = kind === 'api' ? `http://127.0.0.1:${port}` : '';
      const env: Record<string, string> = {
        ...shared,
        LOG_LEVEL: kind === 'api' ? 'warn' : 'info',
        ...(kind === 'api' ? { PORT: String(port), HOST: '127.0.0.1' } : {}),
        ...opts.env,
      };
      const nodeArgs = [...(kind === 'api' ? ['--max-semi-space-size=8'] : []), ...(opts.nodeArgs ?? [])];
      let current: Child | null = null;
      let previousOutput = '';
      const reconciled = { notifications: 0, webhooks: 0 };
      const state = { starts: 0, kills: 0 };
      const running = () => current?.running() ?? false;
      const service: Service = {
        name,
        kind,
        base,
        port,
        current: () => current,
        running,
        get starts() {
          return state.starts;
        },
        get kills() {
          return state.kills;
        },
        reconciled,
        async start() {
          if (running()) return;
          if (current) previousOutput += current.output();
          // process.execPath: the Node 24 running the tests (a bare `node` may be older).
          const child = spawnChild(name, process.execPath, [...nodeArgs, kind === 'api' ? API_ENTRY : WORKER_ENTRY], { env });
          current = child;
          state.starts += 1;
          if (kind === 'worker') {
            child.onLine((line) => {
              if (!line.includes('reconciler re-enqueued')) return;
              const count = Number(/"count":(\d+)/.exec(line)?.[1] ?? 0);
              if (line.includes('accepted notifications')) reconciled.notifications += count;
              else if (line.includes('webhook deliveries')) reconciled.webhooks += count;
            });
          }
          const describe = () => `${name}:\n${child.output().slice(-4_000)}`;
          await waitFor(
            `${name} to be ready`,
            async () => {
              if (!child.running()) throw new Error(`${name} exited while starting:\n${child.output().slice(-4_000)}`);
              if (kind === 'worker') return child.output().includes('"worker started"');
              try {
                return (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200;
              } catch {
                return false;
              }
            },
            { timeoutMs: 60_000, intervalMs: 100, describe },
          );
        },
        async kill(sig = 'SIGKILL') {
          if (!current || !running()) return;
          if (sig === 'SIGKILL') state.kills += 1;
          await signalAndWait(current, sig);
        },
        async stop() {
          if (!current || !running()) return;
          await signalAndWait(current, 'SIGTERM', 20_000);
        },
        output: () => previousOutput + (current?.output() ?? ''),
      };
      services.push(service);
      if (!opts.deferStart) await service.start();
      return service;
    };

    return {
      postgres,
      redis: ownRedis,
      databaseUrl,
      sql: ownSql,
      services,
      spawnApi: (name, opts = {}) => makeService('api', name, opts),
      spawnWorker: (name, opts = {}) => makeService('worker', name, opts),
      createTenant: (base) => createTenant(httpClient(base)),
      describe() {
        const parts = services.map((s) => `--- ${s.name} (${s.running() ? 'running' : 'not running'}):\n${s.output().slice(-3_000)}`);
        parts.push(`--- postgres:\n${postgres.output().slice(-2_000)}`, `--- redis:\n${ownRedis.output().slice(-1_000)}`);
        return parts.join('\n');
      },
      async close() {
        await closeAll(services, ownSql, ownRedis, postgres);
      },
    };
  } catch (error) {
    await closeAll(services, sql, redis, postgres);
    throw error;
  }
}

async function closeAll(services: Service[], sql: pg.Pool | null, redis: OwnRedis | null, postgres: OwnPostgres): Promise<void> {
  // SIGKILL: nothing is left to drain, and a process stuck on a paused server must not hold cleanup.
  for (const s of services) {
    const c = s.current();
    if (c) signal(c, 'SIGKILL');
  }
  await Promise.all(services.map((s) => s.current()?.exited));
  await sql?.end().catch(() => {});
  await redis?.destroy().catch(() => {});
  await postgres.destroy().catch(() => {});
  killAllChildren();
}

/** Runs `query` on the test's pool, retrying while PostgreSQL is restarting. */
export async function query<T extends pg.QueryResultRow = any>(sql: pg.Pool, text: string, values: unknown[] = []): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await sql.query<T>(text, values)).rows;
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * Runs `body` with a fresh platform and undoes everything afterwards, failed or not: the steps
 * `defer`red by the body (newest first), then the platform. A failure prints every process's
 * output tail.
 */
export async function withPlatform<T>(
  options: PlatformOptions,
  body: (platform: Platform, defer: (step: () => unknown) => void) => Promise<T>,
): Promise<T> {
  const platform = await startPlatform(options);
  const steps: (() => unknown)[] = [];
  try {
    return await body(platform, (step) => steps.push(step));
  } catch (error) {
    console.error(`fault test failed; process output:\n${platform.describe()}`);
    throw error;
  } finally {
    for (let step = steps.pop(); step; step = steps.pop()) {
      try {
        await step();
      } catch (error) {
        console.error('cleanup step failed', error);
      }
    }
    await platform.close();
  }
}

/** Milliseconds since `t0`, as seconds with one decimal (for the report). */
export const secondsSince = (t0: number, at = Date.now()) => `${((at - t0) / 1000).toFixed(1)} s`;
