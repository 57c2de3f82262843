// Starts this process's share of the background work: the render worker and the reconciler. Used by
// the worker entry point (scaled topology) and by the one-process embedded start.
import type { Database } from '@pigeon/schema';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { redisWakeUpPublisher, type WakeUpPublisher } from './channels.ts';
import type { WorkerEnv } from './env.ts';
import { pruneInboxEvents } from './inbox-pruner.ts';
import { createRenderQueue, type RenderJobData, renderJob } from './jobs.ts';
import type { Logger } from './log.ts';
import { reconcileAccepted } from './reconciler.ts';
import { createTemplateSandbox } from './render/sandbox.ts';
import { renderNotification } from './render-notification.ts';

export interface WorkerRuntimeOptions {
  db: Database;
  redisUrl: string;
  redisPrefix: string;
  concurrency: number;
  reconcileAfterMs: number;
  reconcileIntervalMs: number;
  renderThreads: number;
  renderTimeoutMs: number;
  inboxRetentionHours: number;
  inboxPruneIntervalMs: number;
  log: Logger;
  /** Fault injection for tests: wraps the publisher of inbox wake-ups (e.g. to drop some). */
  wrapWakeUps?: (publisher: WakeUpPublisher) => WakeUpPublisher;
}

/** The runtime options that come from configuration (everything but the database and logger). */
export function workerRuntimeSettings(env: WorkerEnv): Omit<WorkerRuntimeOptions, 'db' | 'log' | 'wrapWakeUps'> {
  return {
    redisUrl: env.REDIS_URL,
    redisPrefix: env.REDIS_PREFIX,
    concurrency: env.WORKER_CONCURRENCY,
    reconcileAfterMs: env.RECONCILE_AFTER_MS,
    reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
    renderThreads: env.RENDER_THREADS,
    renderTimeoutMs: env.RENDER_TIMEOUT_MS,
    inboxRetentionHours: env.INBOX_RETENTION_HOURS,
    inboxPruneIntervalMs: env.INBOX_PRUNE_INTERVAL_MS,
  };
}

export interface WorkerRuntime {
  stop(): Promise<void>;
}

export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { db, log } = options;
  // BullMQ workers block on Redis; they need their own connection without a per-request retry cap.
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const queueConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const publisher = new Redis(options.redisUrl, { lazyConnect: true });
  for (const c of [workerConnection, queueConnection, publisher]) c.on('error', (error) => log.debug('redis error', { error }));
  await Promise.all([workerConnection.connect(), queueConnection.connect(), publisher.connect()]);

  const queue = createRenderQueue(queueConnection, { prefix: options.redisPrefix });
  const sandbox = createTemplateSandbox({ threads: options.renderThreads, timeoutMs: options.renderTimeoutMs });
  const wakeUps = redisWakeUpPublisher(publisher, options.redisPrefix);
  const deps = { prisma: db.prisma, sandbox, wakeUps: options.wrapWakeUps?.(wakeUps) ?? wakeUps, log };

  const worker = new Worker<RenderJobData>(
    renderJob.queue,
    async (job) => {
      const parsed = renderJob.payload.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`Malformed render job payload: ${parsed.error.message}`);
      const result = await renderNotification(deps, parsed.data);
      if (result.outcome === 'failed')
        log.info('notification failed', { notificationId: parsed.data.notificationId, reason: result.reason });
      return result;
    },
    {
      connection: workerConnection,
      prefix: options.redisPrefix,
      concurrency: options.concurrency,
      // A worker killed mid-job leaves it stalled; it must come back, not land in "failed".
      maxStalledCount: 100,
    },
  );
  worker.on('failed', (job, error) => log.warn('render job failed', { jobId: job?.id, attempt: job?.attemptsMade, error }));
  worker.on('error', (error) => log.warn('render worker error', { error }));

  let reconciling: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    reconciling = reconcileAccepted(db.prisma, queue, { olderThanMs: options.reconcileAfterMs })
      .then((n) => {
        if (n > 0) log.info('reconciler re-enqueued accepted notifications', { count: n });
      })
      .catch((error) => log.warn('reconciler pass failed', { error }));
  }, options.reconcileIntervalMs);
  timer.unref();

  let pruning: Promise<unknown> | null = null;
  const pruneTimer = setInterval(() => {
    // One pass at a time: a long pass (a big backlog) is not joined by the next tick's.
    if (pruning) return;
    pruning = pruneInboxEvents(db.prisma, { retentionHours: options.inboxRetentionHours })
      .then((n) => {
        if (n > 0) log.info('pruned inbox events', { count: n, retentionHours: options.inboxRetentionHours });
      })
      .catch((error) => log.warn('inbox event pruning failed', { error }))
      .finally(() => {
        pruning = null;
      });
  }, options.inboxPruneIntervalMs);
  pruneTimer.unref();

  await worker.waitUntilReady();
  log.info('worker started', { concurrency: options.concurrency, prefix: options.redisPrefix });

  return {
    async stop() {
      clearInterval(timer);
      clearInterval(pruneTimer);
      await Promise.all([reconciling, pruning]);
      // close() waits for in-flight jobs to finish; what it cannot finish stalls and is retried.
      await worker.close();
      await queue.close();
      await sandbox.close();
      await Promise.allSettled([workerConnection.quit(), queueConnection.quit(), publisher.quit()]);
    },
  };
}
