// Starts this process's share of the background work: the render worker and the reconciler. Used by
// the worker entry point (scaled topology) and by the one-process embedded start.
import type { Database } from '@pigeon/schema';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { redisWakeUpPublisher, type WakeUpPublisher } from './channels.ts';
import type { WorkerEnv } from './env.ts';
import { pruneInboxEvents } from './inbox-pruner.ts';
import { createRenderQueue, createWebhookQueue, type RenderJobData, renderJob, type WebhookJobData, webhookJob } from './jobs.ts';
import type { Logger } from './log.ts';
import { reconcileAccepted } from './reconciler.ts';
import { createTemplateSandbox } from './render/sandbox.ts';
import { renderNotification } from './render-notification.ts';
import { processWebhookJob, type WebhookSettings } from './webhooks/deliver.ts';
import { pruneWebhookLog, reconcileWebhookDeliveries } from './webhooks/maintenance.ts';
import { parseAllowList } from './webhooks/target.ts';

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
  webhookConcurrency: number;
  webhooks: WebhookSettings;
  webhookRetentionHours: number;
  webhookPruneIntervalMs: number;
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
    webhookConcurrency: env.WEBHOOK_CONCURRENCY,
    webhooks: webhookSettings(env),
    webhookRetentionHours: env.WEBHOOK_RETENTION_HOURS,
    webhookPruneIntervalMs: env.WEBHOOK_PRUNE_INTERVAL_MS,
  };
}

/** The delivery settings from configuration (also used by the API to check endpoint URLs). */
export function webhookSettings(env: WorkerEnv): WebhookSettings {
  return {
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    maxResponseBytes: env.WEBHOOK_MAX_RESPONSE_BYTES,
    endpointConcurrency: env.WEBHOOK_ENDPOINT_CONCURRENCY,
    retry: { schedule: env.WEBHOOK_RETRY_SCHEDULE, jitter: env.WEBHOOK_RETRY_JITTER, maxRetryAfterMs: env.WEBHOOK_RETRY_AFTER_MAX_MS },
    disableAfterFailingMs: env.WEBHOOK_DISABLE_AFTER_FAILING_MS,
    disableAfterExhausted: env.WEBHOOK_DISABLE_AFTER_EXHAUSTED,
    targets: { allow: parseAllowList(env.WEBHOOK_ALLOW_LIST ?? '') },
  };
}

export interface WorkerRuntime {
  stop(): Promise<void>;
}

/**
 * How soon a SIGKILLed worker's active jobs run again. BullMQ's defaults (a 30 s lock, checked
 * every 30 s) kept them waiting 30–60 s, and re-adding the same job id cannot help while the dead
 * worker's job still sits in the active list (test/faults/worker-kill.test.ts). A live worker
 * renews its locks every lockDuration / 2; renders and webhook attempts run in threads and sockets,
 * so the event loop that renews them is never blocked for seconds. A job taken for stalled by
 * mistake runs twice, which both kinds of job tolerate (database claims decide).
 */
const STALL_RECOVERY = { lockDuration: 10_000, stalledInterval: 5_000 };

export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { db, log } = options;
  // BullMQ workers block on Redis; they need their own connection without a per-request retry cap.
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const queueConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const webhookConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const publisher = new Redis(options.redisUrl, { lazyConnect: true });
  const connections = [workerConnection, webhookConnection, queueConnection, publisher];
  for (const c of connections) c.on('error', (error) => log.debug('redis error', { error }));
  await Promise.all(connections.map((c) => c.connect()));

  const queue = createRenderQueue(queueConnection, { prefix: options.redisPrefix });
  const webhookQueue = createWebhookQueue(queueConnection, { prefix: options.redisPrefix });
  const sandbox = createTemplateSandbox({ threads: options.renderThreads, timeoutMs: options.renderTimeoutMs });
  const wakeUps = redisWakeUpPublisher(publisher, options.redisPrefix);
  const deps = { prisma: db.prisma, sandbox, wakeUps: options.wrapWakeUps?.(wakeUps) ?? wakeUps, webhookQueue, log };

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
      ...STALL_RECOVERY,
    },
  );
  worker.on('failed', (job, error) => log.warn('render job failed', { jobId: job?.id, attempt: job?.attemptsMade, error }));
  worker.on('error', (error) => log.warn('render worker error', { error }));

  const webhookDeps = {
    prisma: db.prisma,
    queue: webhookQueue,
    redis: queueConnection,
    prefix: options.redisPrefix,
    settings: options.webhooks,
    log: log.child({ component: 'webhooks' }),
  };
  const webhookWorker = new Worker<WebhookJobData>(
    webhookJob.queue,
    async (job, token) => {
      const parsed = webhookJob.payload.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`Malformed webhook job payload: ${parsed.error.message}`);
      return processWebhookJob(webhookDeps, job, token);
    },
    {
      connection: webhookConnection,
      prefix: options.redisPrefix,
      concurrency: options.webhookConcurrency,
      // A worker killed mid-attempt leaves the job stalled; it comes back (and the delivery's
      // lease decides whether the attempt is made again), never lands in "failed".
      maxStalledCount: 100,
      ...STALL_RECOVERY,
    },
  );
  webhookWorker.on('failed', (job, error) => log.warn('webhook job failed', { jobId: job?.id, attempt: job?.attemptsMade, error }));
  webhookWorker.on('error', (error) => log.warn('webhook worker error', { error }));

  let reconcilePass: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    // One pass at a time: a slow pass (a big backlog, a slow database) is not joined by the next.
    if (reconcilePass) return;
    reconcilePass = Promise.all([
      reconcileAccepted(db.prisma, queue, { olderThanMs: options.reconcileAfterMs }).then((n) => {
        if (n > 0) log.info('reconciler re-enqueued accepted notifications', { count: n });
      }),
      reconcileWebhookDeliveries(db.prisma, webhookQueue, { olderThanMs: options.reconcileAfterMs }).then((n) => {
        if (n > 0) log.info('reconciler re-enqueued webhook deliveries', { count: n });
      }),
    ])
      .catch((error) => log.warn('reconciler pass failed', { error }))
      .finally(() => {
        reconcilePass = null;
      });
  }, options.reconcileIntervalMs);
  timer.unref();

  let pruningWebhooks: Promise<unknown> | null = null;
  const webhookPruneTimer = setInterval(() => {
    if (pruningWebhooks) return;
    pruningWebhooks = pruneWebhookLog(db.prisma, { retentionHours: options.webhookRetentionHours })
      .then((n) => {
        if (n.attempts + n.deliveries > 0) log.info('pruned webhook log', { ...n, retentionHours: options.webhookRetentionHours });
      })
      .catch((error) => log.warn('webhook log pruning failed', { error }))
      .finally(() => {
        pruningWebhooks = null;
      });
  }, options.webhookPruneIntervalMs);
  webhookPruneTimer.unref();

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

  await Promise.all([worker.waitUntilReady(), webhookWorker.waitUntilReady()]);
  log.info('worker started', { concurrency: options.concurrency, prefix: options.redisPrefix });

  return {
    async stop() {
      clearInterval(timer);
      clearInterval(pruneTimer);
      clearInterval(webhookPruneTimer);
      await Promise.all([reconcilePass, pruning, pruningWebhooks]);
      // close() waits for in-flight jobs to finish; what it cannot finish stalls and is retried.
      await Promise.all([worker.close(), webhookWorker.close()]);
      await Promise.all([queue.close(), webhookQueue.close()]);
      await sandbox.close();
      await Promise.allSettled([workerConnection.quit(), webhookConnection.quit(), queueConnection.quit(), publisher.quit()]);
    },
  };
}
