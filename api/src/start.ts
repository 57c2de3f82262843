// `npm start`: the whole platform in one process. Without DATABASE_URL it owns the embedded PGlite
// database (migrated and, on first run, seeded right here, because only this process may touch
// it); with DATABASE_URL it runs the same thing against PostgreSQL.
import { spawn } from 'node:child_process';
import { isAbsolute, relative } from 'node:path';
import { type Database, DataDirLockedError, openEmbedded, openPostgres } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import { createLogger, loadOrExit, stopOnSignals } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { loadApiEnv } from './env.ts';
import { printSeed, seed } from './seed.ts';
import { startServer } from './server.ts';

function fail(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  process.exit(1);
}

/** The local start lets webhooks reach this machine (the demo's receiver) unless configured otherwise. */
const LOCAL_WEBHOOK_ALLOW_LIST = '127.0.0.0/8, ::1/128';

const env = loadOrExit(() => loadApiEnv({ WEBHOOK_ALLOW_LIST: LOCAL_WEBHOOK_ALLOW_LIST, ...process.env }));
const log = createLogger(env.LOG_LEVEL, { service: 'pigeon', pid: process.pid });
const embedded = !env.DATABASE_URL;

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1500 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Embedded mode may launch a throwaway redis-server (nothing on disk) when none answers. */
async function ensureRedis(): Promise<(() => void) | null> {
  if (await redisAnswers(env.REDIS_URL)) return null;
  const url = new URL(env.REDIS_URL);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname);
  const howTo =
    `Redis is a prerequisite of Pigeon (queues, live fan-out, rate limits) and none answers at ${env.REDIS_URL}.\n` +
    'Install and start one (e.g. `apt-get install redis-server`, `brew install redis`, or `docker run -p 6379:6379 redis:7`), ' +
    'or point REDIS_URL at yours.';
  if (!embedded || !local) fail(howTo);
  const port = url.port || '6379';
  const child = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
  if (!spawned) fail(howTo);
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(env.REDIS_URL)) {
      log.info('started redis-server for the embedded mode', { port, pid: child.pid });
      const stop = () => child.kill('SIGTERM');
      // Also when start-up fails later: never leave our redis-server behind.
      process.once('exit', stop);
      return stop;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  fail(howTo);
}

/** Paths under the current directory print relative (as the README shows), others absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

const stopRedis = await ensureRedis();

let db: Database;
try {
  db = env.DATABASE_URL
    ? openPostgres({
        url: env.DATABASE_URL,
        poolSize: env.DATABASE_POOL_SIZE,
        onIdleError: (error) => log.warn('database connection lost while idle; reconnecting on demand', { error }),
      })
    : await openEmbedded(env.PIGEON_DATA_DIR);
} catch (error) {
  if (error instanceof DataDirLockedError) fail(error.message);
  throw error;
}

const migration = await applyMigrations(
  db.pglite ? { kind: 'pglite', pglite: db.pglite } : { kind: 'postgres', connectionString: env.DATABASE_URL as string },
  { log: (line) => log.info(line) },
);
if (migration.applied.length > 0) log.info('migrations applied', { applied: migration.applied });

if (env.SEED_ON_FIRST_START && (await db.prisma.user.count()) === 0) {
  printSeed(await seed(db.prisma));
}

const server = await startServer({ env, db, log, withWorkers: true });
process.stdout.write(
  [
    '',
    `Pigeon is running (${embedded ? `embedded database in ${displayPath(env.PIGEON_DATA_DIR)}` : 'PostgreSQL'}).`,
    ...(env.DASHBOARD ? [`  Dashboard: ${server.url}/   (log in with PIGEON_DEMO_LOGIN, or sign up)`] : []),
    `  GraphQL:  ${server.url}/graphql`,
    `  GraphiQL: ${server.url}/graphql (open it in a browser)`,
    `  Health:   ${server.url}/healthz   Ready: ${server.url}/readyz`,
    '',
  ].join('\n'),
);

stopOnSignals(log, async () => {
  await server.stop();
  await db.close();
  stopRedis?.();
});
