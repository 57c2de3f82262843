// `npm run start:scaled`: the scaled topology on one machine, for development, tests and
// benchmarks. Migrates PostgreSQL, then runs SCALED_API_PROCESSES API processes sharing PORT
// (node:cluster hands connections out) and SCALED_WORKER_PROCESSES worker processes. A process
// that dies is started again; SIGTERM stops them all gracefully.
import { type ChildProcess, fork } from 'node:child_process';
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@pigeon/schema/migrate';
import { createLogger, loadOrExit } from '@pigeon/worker';
import { loadApiEnv } from './env.ts';

const env = loadOrExit(() => loadApiEnv());
const log = createLogger(env.LOG_LEVEL, { service: 'scaled', pid: process.pid });
if (!env.DATABASE_URL) {
  log.error('The scaled topology needs PostgreSQL: set DATABASE_URL (and REDIS_URL if Redis is not on 127.0.0.1:6379).');
  process.exit(2);
}
await applyMigrations({ kind: 'postgres', connectionString: env.DATABASE_URL }, { log: (line) => log.info(line) });

const apiEntry = fileURLToPath(new URL('./main.ts', import.meta.url));
const workerEntry = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
let stopping = false;

cluster.setupPrimary({ exec: apiEntry });
const apis = new Set<ClusterWorker>();
function startApi() {
  const worker = cluster.fork();
  apis.add(worker);
  worker.on('exit', (code, signal) => {
    apis.delete(worker);
    if (stopping) return;
    log.warn('api process died; starting another', { pid: worker.process.pid, code, signal });
    setTimeout(startApi, 200);
  });
}

const workers = new Set<ChildProcess>();
function startWorker() {
  const child = fork(workerEntry, [], { stdio: 'inherit' });
  workers.add(child);
  child.on('exit', (code, signal) => {
    workers.delete(child);
    if (stopping) return;
    log.warn('worker process died; starting another', { pid: child.pid, code, signal });
    setTimeout(startWorker, 200);
  });
}

for (let i = 0; i < env.SCALED_API_PROCESSES; i++) startApi();
for (let i = 0; i < env.SCALED_WORKER_PROCESSES; i++) startWorker();

const host = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST;
const base = `http://${host}:${env.PORT}`;
for (let i = 0; i < 300 && !stopping; i++) {
  const ready = await fetch(`${base}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) {
    process.stdout.write(
      `Pigeon scaled topology ready: ${env.SCALED_API_PROCESSES} API processes at ${base}/graphql, ${env.SCALED_WORKER_PROCESSES} workers\n`,
    );
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}

function exited(p: { once(event: 'exit', listener: () => void): unknown }) {
  return new Promise<void>((resolve) => p.once('exit', () => resolve()));
}

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('stopping all processes', { signal });
  const force = setTimeout(() => {
    for (const w of apis) w.process.kill('SIGKILL');
    for (const c of workers) c.kill('SIGKILL');
    process.exit(1);
  }, 20_000);
  force.unref();
  const done = [...[...apis].map((w) => exited(w)), ...[...workers].map((c) => exited(c))];
  for (const w of apis) w.process.kill('SIGTERM');
  for (const c of workers) c.kill('SIGTERM');
  await Promise.all(done);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
