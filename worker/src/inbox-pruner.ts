// Inbox events are the replay log, not the inbox itself (notifications hold the state): events older
// than the retention are deleted in slices. A cursor that points before the oldest kept event gets a
// RESYNC from the stream instead of a silent gap.
import type { PrismaClient } from '@pigeon/schema';

export async function pruneInboxEvents(
  prisma: PrismaClient,
  { retentionHours, batchSize = 5_000 }: { retentionHours: number; batchSize?: number },
): Promise<number> {
  let total = 0;
  for (;;) {
    // Slices keep each statement's locks and WAL small; the database clock decides "older than".
    const deleted = await prisma.$executeRaw`
      DELETE FROM inbox_events
       WHERE ctid IN (SELECT ctid FROM inbox_events
                       WHERE created_at < now() - make_interval(hours => ${retentionHours})
                       LIMIT ${batchSize})`;
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
