// The webhook ledger's upkeep. The reconciler re-enqueues due PENDING deliveries whose jobs are
// missing (Redis lost them, or an enqueue after commit failed): PostgreSQL is the ledger, jobs only
// accelerate it. The pruner deletes attempt logs, and finished deliveries, past their retention.
import type { PrismaClient } from '@pigeon/schema';
import type { Queue } from 'bullmq';
import { enqueueWebhooks, type WebhookJobData } from '../jobs.ts';

export async function reconcileWebhookDeliveries(
  prisma: PrismaClient,
  queue: Queue<WebhookJobData>,
  { olderThanMs, limit = 1_000, skipWhileQueued = limit }: { olderThanMs: number; limit?: number; skipWhileQueued?: number },
): Promise<number> {
  // While a backlog of jobs waits, the due rows are mostly those jobs: skip the pass (see
  // reconcileAccepted). Delayed jobs do not count: they include retries scheduled hours ahead.
  if ((await queue.getJobCountByTypes('wait', 'prioritized')) >= skipWhileQueued) return 0;
  // Due for longer than the threshold and not leased by a live attempt. A row that waits normally
  // gets the job id of the normal path, so a job that still exists (waiting, or delayed by its
  // endpoint's limit) absorbs the re-enqueue. A row whose lease ran out without an attempt being
  // recorded was claimed by a worker that died: its job still sits in BullMQ's active list until
  // the stalled-job check (10-15 s), and would absorb a same-id add, so that row gets a job id of
  // its own, one per expired lease (repeated passes collapse; the database claim decides who
  // attempts). The database's clock decides.
  const rows = await prisma.$queryRaw<
    { id: string; environment_id: string; endpoint_id: string; attempt_count: number; lease_expired_ms: number | null }[]
  >`
    SELECT id::text, environment_id::text, endpoint_id::text, attempt_count,
           (extract(epoch FROM lease_until) * 1000)::float8 AS lease_expired_ms
      FROM webhook_deliveries
     WHERE status = 'PENDING' AND next_attempt_at < now() - make_interval(secs => ${olderThanMs / 1000})
       AND (lease_until IS NULL OR lease_until < now())
     ORDER BY next_attempt_at
     LIMIT ${limit}`;
  if (rows.length === 0) return 0;
  await enqueueWebhooks(
    queue,
    rows.map((r) => ({
      deliveryId: r.id,
      environmentId: r.environment_id,
      endpointId: r.endpoint_id,
      attemptCount: r.attempt_count,
      ...(r.lease_expired_ms === null ? {} : { suffix: `lease${Math.round(r.lease_expired_ms)}` }),
    })),
  );
  return rows.length;
}

/** Deletes attempts, and finished deliveries, older than the retention, in slices. */
export async function pruneWebhookLog(
  prisma: PrismaClient,
  { retentionHours, batchSize = 5_000 }: { retentionHours: number; batchSize?: number },
): Promise<{ attempts: number; deliveries: number }> {
  const pruned = { attempts: 0, deliveries: 0 };
  for (;;) {
    const deleted = await prisma.$executeRaw`
      DELETE FROM webhook_attempts
       WHERE ctid IN (SELECT ctid FROM webhook_attempts
                       WHERE started_at < now() - make_interval(hours => ${retentionHours})
                       LIMIT ${batchSize})`;
    pruned.attempts += deleted;
    if (deleted < batchSize) break;
  }
  for (;;) {
    // A delivery still PENDING keeps its row (and whatever attempts are left) until it finishes.
    const deleted = await prisma.$executeRaw`
      DELETE FROM webhook_deliveries
       WHERE ctid IN (SELECT ctid FROM webhook_deliveries
                       WHERE status <> 'PENDING' AND completed_at < now() - make_interval(hours => ${retentionHours})
                       LIMIT ${batchSize})`;
    pruned.deliveries += deleted;
    if (deleted < batchSize) break;
  }
  return pruned;
}
