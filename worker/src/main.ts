// Entry point of a worker process in the scaled topology (PostgreSQL + Redis, any number of
// workers). The embedded database has exactly one owner process, so it cannot be used here.
import { openPostgres } from '@pigeon/schema';
import { loadOrExit, loadWorkerEnv } from './env.ts';
import { createLogger } from './log.ts';
import { startWorkerRuntime, workerRuntimeSettings } from './runtime.ts';
import { stopOnSignals } from './shutdown.ts';

const env = loadOrExit(() => loadWorkerEnv());
const log = createLogger(env.LOG_LEVEL, { service: 'worker', pid: process.pid });
if (!env.DATABASE_URL) {
  log.error(
    'A separate worker process needs PostgreSQL: set DATABASE_URL. The embedded database belongs to the one-process start (npm start), which runs its workers itself.',
  );
  process.exit(2);
}
const db = openPostgres({
  url: env.DATABASE_URL,
  poolSize: env.DATABASE_POOL_SIZE,
  onIdleError: (error) => log.warn('database connection lost while idle; reconnecting on demand', { error }),
});
const runtime = await startWorkerRuntime({ ...workerRuntimeSettings(env), db, log });

stopOnSignals(log, async () => {
  await runtime.stop();
  await db.close();
});
