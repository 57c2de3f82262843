// Entry point of an API process in the scaled topology (PostgreSQL + Redis, any number of API and
// worker processes). Run `npm run migrate` before starting these.
import { openPostgres } from '@pigeon/schema';
import { createLogger, loadOrExit, stopOnSignals } from '@pigeon/worker';
import { loadApiEnv } from './env.ts';
import { startServer } from './server.ts';

const env = loadOrExit(() => loadApiEnv());
const log = createLogger(env.LOG_LEVEL, { service: 'api', pid: process.pid });
if (!env.DATABASE_URL) {
  log.error('A separate API process needs PostgreSQL: set DATABASE_URL. Without it, use `npm start` (one process, embedded database).');
  process.exit(2);
}
const db = openPostgres({
  url: env.DATABASE_URL,
  poolSize: env.DATABASE_POOL_SIZE,
  onIdleError: (error) => log.warn('database connection lost while idle; reconnecting on demand', { error }),
});
const server = await startServer({ env, db, log, withWorkers: false });
log.info('api listening', { url: server.url });

stopOnSignals(log, async () => {
  await server.stop();
  await db.close();
});
