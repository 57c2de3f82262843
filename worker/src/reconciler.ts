// Closes the crash window between the API's commit and its enqueue (and survives Redis losing
// every queue): ACCEPTED notifications older than a threshold are enqueued again. Job ids derived
// from notification ids make a re-enqueue of a job that still exists a no-op.
import type { PrismaClient } from '@pigeon/schema';
import type { Queue } from 'bullmq';
import { enqueueRenders, type RenderJobData } from './jobs.ts';

export interface ReconcileOptions {
  olderThanMs: number;
  /** At most this many per pass, oldest first, so a huge backlog is worked through in slices. */
  limit?: number;
  /**
   * Skip the pass while at least this many render jobs wait (default: `limit`). Under a backlog the
   * old ACCEPTED rows are the queued ones, and re-adding them every pass is a deduplicated no-op
   * that still costs a Redis script each (the fault tests summed 88,744 of them in one run). A job
   * that is really missing is re-added once the queue has drained below this.
   */
  skipWhileQueued?: number;
}

export async function reconcileAccepted(
  prisma: PrismaClient,
  queue: Queue<RenderJobData>,
  { olderThanMs, limit = 500, skipWhileQueued = limit }: ReconcileOptions,
): Promise<number> {
  if ((await queue.getJobCountByTypes('wait', 'paused', 'prioritized', 'delayed')) >= skipWhileQueued) return 0;
  // The database's clock decides "older than", so worker clock skew cannot hide or rush rows.
  const rows = await prisma.$queryRaw<{ id: string; environment_id: string }[]>`
    SELECT id, environment_id FROM notifications
     WHERE status = 'ACCEPTED' AND created_at < now() - make_interval(secs => ${olderThanMs / 1000})
     ORDER BY created_at
     LIMIT ${limit}`;
  if (rows.length === 0) return 0;
  await enqueueRenders(
    queue,
    rows.map((r) => ({ notificationId: r.id, environmentId: r.environment_id })),
  );
  return rows.length;
}
