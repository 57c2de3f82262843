// The job catalog: queue names, payload schemas, attempts and backoff in one place that producers
// (api) and consumers (worker) both import. Payloads carry ids only — never secrets or rendered
// bodies — and always the environment id, so tenancy reaches every job.
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const renderJob = {
  queue: 'render',
  name: 'render-notification',
  payload: z.object({ notificationId: z.uuid(), environmentId: z.uuid() }),
  /** Derived from the notification id so that the API's enqueue and the reconciler's re-enqueue
   * of the same notification collapse into one job (BullMQ ids must not be integers). */
  jobId: (notificationId: string) => `render-${notificationId}`,
  options: {
    // Transient failures (database or Redis hiccups) retry; render errors never reach BullMQ's
    // retry at all (they are recorded as FAILED). A job that exhausts its attempts is removed so
    // the reconciler can enqueue the still-ACCEPTED notification again: crashes never exhaust work.
    attempts: 12,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: true,
    removeOnFail: true,
  } satisfies JobsOptions,
} as const;

export type RenderJobData = z.infer<typeof renderJob.payload>;

export interface QueueSettings {
  /** Redis key prefix for every queue; tests give each run its own. */
  prefix: string;
}

export function createRenderQueue(connection: Redis, settings: QueueSettings): Queue<RenderJobData> {
  const options: QueueOptions = { connection, prefix: settings.prefix };
  return new Queue<RenderJobData>(renderJob.queue, options);
}

export function enqueueRender(queue: Queue<RenderJobData>, data: RenderJobData) {
  return queue.add(renderJob.name, data, { ...renderJob.options, jobId: renderJob.jobId(data.notificationId) });
}

export function enqueueRenders(queue: Queue<RenderJobData>, items: readonly RenderJobData[]) {
  return queue.addBulk(
    items.map((data) => ({
      name: renderJob.name,
      data,
      opts: { ...renderJob.options, jobId: renderJob.jobId(data.notificationId) },
    })),
  );
}

export const webhookJob = {
  queue: 'webhook',
  name: 'deliver-webhook',
  /** The endpoint id lets the worker take the endpoint's concurrency slot before touching the database. */
  payload: z.object({ deliveryId: z.uuid(), environmentId: z.uuid(), endpointId: z.uuid() }),
  /**
   * One id per (delivery, attempts recorded so far): the reconciler's re-enqueue of a delivery whose
   * job still exists collapses into it, while the job for the next attempt (added while the current
   * one is still active) gets a new id. Manual redeliveries add a suffix so that a retry already
   * waiting hours in the delayed set cannot swallow them; the database's claim decides who attempts.
   */
  jobId: (deliveryId: string, attemptCount: number, suffix?: string) =>
    `webhook-${deliveryId}-${attemptCount}${suffix ? `-${suffix}` : ''}`,
  options: {
    // Only infrastructure errors (database, Redis) throw: an endpoint's failure is recorded and
    // rescheduled by the worker itself. A job that exhausts these is removed; the reconciler finds
    // the still-PENDING delivery again, so no crash or outage exhausts a delivery.
    attempts: 8,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: true,
    removeOnFail: true,
  } satisfies JobsOptions,
} as const;

export type WebhookJobData = z.infer<typeof webhookJob.payload>;

export interface WebhookJobRequest extends WebhookJobData {
  attemptCount: number;
  /** Milliseconds to wait before the attempt (retries); 0 or absent: now. */
  delayMs?: number;
  /** Job id suffix for manual redeliveries (see webhookJob.jobId). */
  suffix?: string;
  /**
   * A scheduled retry. BullMQ hands out prioritized jobs only when no plain job waits, so retries
   * to failing endpoints yield to first attempts: they cannot crowd out healthy endpoints'
   * deliveries when the workers are busy (they wait instead, which a failing endpoint can afford).
   */
  retry?: boolean;
}

export function createWebhookQueue(connection: Redis, settings: QueueSettings): Queue<WebhookJobData> {
  return new Queue<WebhookJobData>(webhookJob.queue, { connection, prefix: settings.prefix });
}

export function enqueueWebhooks(queue: Queue<WebhookJobData>, items: readonly WebhookJobRequest[]) {
  if (items.length === 0) return Promise.resolve([]);
  return queue.addBulk(
    items.map(({ attemptCount, delayMs, suffix, retry, ...data }) => ({
      name: webhookJob.name,
      data,
      opts: {
        ...webhookJob.options,
        jobId: webhookJob.jobId(data.deliveryId, attemptCount, suffix),
        ...(delayMs && delayMs > 0 ? { delay: Math.ceil(delayMs) } : {}),
        ...(retry ? { priority: 1 } : {}),
      },
    })),
  );
}
