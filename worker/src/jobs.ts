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
