// Assembles an API process from its parts: Redis connections, the render queue, the HTTP app and,
// in the one-process start, the workers. Both entry points (start.ts, main.ts) and the tests use it.
import type { Database } from '@pigeon/schema';
import { createRenderQueue, type Logger, startWorkerRuntime, type WorkerRuntime, workerRuntimeSettings } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { createApp } from './app.ts';
import type { ApiEnv } from './env.ts';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export async function startServer({
  env,
  db,
  log,
  withWorkers,
}: {
  env: ApiEnv;
  db: Database;
  log: Logger;
  withWorkers: boolean;
}): Promise<RunningServer> {
  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // The queue's connection must not give up on a request: an enqueue waits out a Redis blip.
  const queueConnection = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
  for (const c of [redis, queueConnection]) c.on('error', (error) => log.debug('redis error', { error }));
  await Promise.all([redis.connect(), queueConnection.connect()]);
  const renderQueue = createRenderQueue(queueConnection, { prefix: env.REDIS_PREFIX });

  let workers: WorkerRuntime | null = null;
  if (withWorkers) {
    workers = await startWorkerRuntime({ ...workerRuntimeSettings(env), db, log: log.child({ component: 'worker' }) });
  }
  const app = createApp({ db, redis, renderQueue, env, log });
  const url = await app.start();

  return {
    url,
    // Order: stop taking requests and let open ones finish, then the workers, then the connections.
    async stop() {
      await app.stop();
      await workers?.stop();
      await renderQueue.close();
      await Promise.allSettled([redis.quit(), queueConnection.quit()]);
    },
  };
}
