// Assembles an API process from its parts: Redis connections, the render queue, the HTTP app and,
// in the one-process start, the workers. Both entry points (start.ts, main.ts) and the tests use it.
import type { Database } from '@pigeon/schema';
import {
  createRenderQueue,
  createWebhookQueue,
  type Logger,
  startWorkerRuntime,
  type WakeUpPublisher,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
  workerRuntimeSettings,
} from '@pigeon/worker';
import type { TargetPolicy } from '@pigeon/worker/webhooks/target';
import { Redis } from 'ioredis';
import { createApp } from './app.ts';
import type { ApiEnv } from './env.ts';
import { createInboxRuntime } from './inbox/runtime.ts';
import type { InboxStreamHooks } from './inbox/stream.ts';

/** Test seams: fault injection and pauses. Production code passes nothing. */
export interface ServerHooks {
  inboxStream?: InboxStreamHooks;
  /** Wraps the wake-up publishers of the API and (in-process) workers, e.g. to drop messages. */
  wrapWakeUps?: (publisher: WakeUpPublisher) => WakeUpPublisher;
  worker?: Partial<Pick<WorkerRuntimeOptions, 'reconcileAfterMs' | 'reconcileIntervalMs' | 'webhooks'>>;
  /** Where the API lets endpoint URLs point (e.g. an injected resolver). */
  webhookTargets?: TargetPolicy;
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export async function startServer({
  env,
  db,
  log,
  withWorkers,
  hooks = {},
}: {
  env: ApiEnv;
  db: Database;
  log: Logger;
  withWorkers: boolean;
  hooks?: ServerHooks;
}): Promise<RunningServer> {
  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // The queue's connection must not give up on a request: an enqueue waits out a Redis blip.
  const queueConnection = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
  for (const c of [redis, queueConnection]) c.on('error', (error) => log.debug('redis error', { error }));
  await Promise.all([redis.connect(), queueConnection.connect()]);
  const renderQueue = createRenderQueue(queueConnection, { prefix: env.REDIS_PREFIX });
  const webhookQueue = createWebhookQueue(queueConnection, { prefix: env.REDIS_PREFIX });
  const live = await createInboxRuntime({
    prisma: db.prisma,
    redis,
    redisUrl: env.REDIS_URL,
    prefix: env.REDIS_PREFIX,
    log: log.child({ component: 'inbox' }),
    recheckIntervalMs: env.INBOX_RECHECK_INTERVAL_MS,
    hooks: hooks.inboxStream,
    wrapWakeUps: hooks.wrapWakeUps,
  });

  let workers: WorkerRuntime | null = null;
  if (withWorkers) {
    workers = await startWorkerRuntime({
      ...workerRuntimeSettings(env),
      ...hooks.worker,
      db,
      log: log.child({ component: 'worker' }),
      wrapWakeUps: hooks.wrapWakeUps,
    });
  }
  const app = createApp({ db, redis, renderQueue, webhookQueue, env, log, inbox: live.inbox, webhookTargets: hooks.webhookTargets });
  const url = await app.start();

  return {
    url,
    // Order: stop taking requests and let open ones finish, then the workers, then the connections.
    async stop() {
      await app.stop();
      await workers?.stop();
      await live.close();
      await Promise.all([renderQueue.close(), webhookQueue.close()]);
      await Promise.allSettled([redis.quit(), queueConnection.quit()]);
    },
  };
}
