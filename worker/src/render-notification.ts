// The render step of one notification: render (sandboxed), then in one transaction mark it
// DELIVERED, store the content and append the recipient's next inbox event; publish the wake-up
// after commit. Render errors are permanent (FAILED with a reason); anything thrown from here is
// an infrastructure error and BullMQ retries it.
import type { PrismaClient } from '@pigeon/schema';
import type { InboxWakeUp, WakeUpPublisher } from './channels.ts';
import type { RenderJobData } from './jobs.ts';
import type { Logger } from './log.ts';
import type { RenderedContent, TemplateSandbox } from './render/sandbox.ts';

export interface RenderDeps {
  prisma: PrismaClient;
  sandbox: TemplateSandbox;
  wakeUps: WakeUpPublisher;
  log: Logger;
}

export type RenderResult =
  | { outcome: 'delivered'; seq: number }
  | { outcome: 'failed'; reason: string }
  | { outcome: 'skipped'; status: string };

/** The variables a template sees: the send's `data` at top level, plus `recipient` and `data`. */
export function templateContext(
  data: unknown,
  recipient: { externalId: string; name: string | null; email: string | null; metadata: unknown },
) {
  const own = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  return {
    ...own,
    data: data ?? null,
    recipient: { id: recipient.externalId, name: recipient.name, email: recipient.email, metadata: recipient.metadata ?? null },
  };
}

export async function renderNotification(deps: RenderDeps, job: RenderJobData): Promise<RenderResult> {
  const { prisma } = deps;
  const notification = await prisma.notification.findFirst({
    where: { id: job.notificationId, environmentId: job.environmentId },
    include: { template: true, recipient: true },
  });
  // Already processed (a duplicate job from the reconciler, or a retry after commit): nothing to do.
  if (!notification) return { outcome: 'skipped', status: 'MISSING' };
  if (notification.status !== 'ACCEPTED') return { outcome: 'skipped', status: notification.status };

  let content: RenderedContent;
  if (notification.templateKey !== null) {
    if (!notification.template) {
      return markFailed(deps, job, `Template "${notification.templateKey}" was deleted before the notification was rendered.`);
    }
    const { template } = notification;
    const outcome = await deps.sandbox.render(
      { title: template.titleSource, body: template.bodySource, actionUrl: template.actionUrlSource },
      templateContext(notification.data, notification.recipient),
    );
    if (!outcome.ok) {
      const { error } = outcome;
      const where = error.line ? ` (line ${error.line}${error.column ? `, column ${error.column}` : ''})` : '';
      return markFailed(deps, job, `Template "${template.key}" ${error.field}${where}: ${error.message}`);
    }
    // The caller's actionUrl, when given, overrides the template's.
    content = { ...outcome.content, actionUrl: notification.actionUrl ?? outcome.content.actionUrl };
  } else {
    content = { title: notification.title ?? '', body: notification.body ?? '', actionUrl: notification.actionUrl };
  }

  const seq = await prisma.$transaction(async (tx) => {
    // Lock order everywhere: the recipient row first, then its notifications. The recipient lock
    // is what makes inbox sequence order equal commit order, and it lets us know the next sequence
    // number before using it.
    // NO KEY UPDATE: serializes inbox changes without blocking the KEY SHARE lock that inserting a
    // notification (its foreign key to the recipient) takes, so sends never wait for deliveries.
    const [locked] = await tx.$queryRaw<{ last_seq: number }[]>`
      SELECT last_seq FROM recipients WHERE id = ${notification.recipientId}::uuid FOR NO KEY UPDATE`;
    if (!locked) throw new Error(`Recipient ${notification.recipientId} vanished while delivering ${notification.id}`);
    const nextSeq = locked.last_seq + 1;
    const updated = await tx.notification.updateMany({
      where: { id: notification.id, status: 'ACCEPTED' },
      data: {
        status: 'DELIVERED',
        title: content.title,
        body: content.body,
        actionUrl: content.actionUrl,
        category: notification.category ?? notification.template?.category ?? null,
        deliveredAt: new Date(),
        deliveredSeq: nextSeq,
      },
    });
    if (updated.count === 0) return null;
    const [counts] = await tx.$queryRaw<{ last_seq: number; unread_count: number; unseen_count: number }[]>`
      UPDATE recipients
         SET last_seq = last_seq + 1, unread_count = unread_count + 1, unseen_count = unseen_count + 1
       WHERE id = ${notification.recipientId}::uuid
   RETURNING last_seq, unread_count, unseen_count`;
    if (!counts || counts.last_seq !== nextSeq) throw new Error(`Inbox sequence of ${notification.recipientId} moved while locked`);
    await tx.inboxEvent.create({
      data: {
        recipientId: notification.recipientId,
        seq: nextSeq,
        environmentId: notification.environmentId,
        type: 'DELIVERED',
        notificationId: notification.id,
        unreadCount: counts.unread_count,
        unseenCount: counts.unseen_count,
      },
    });
    return nextSeq;
  });
  if (seq === null) return { outcome: 'skipped', status: 'RACED' };

  const wakeUp: InboxWakeUp = { environmentId: notification.environmentId, recipientId: notification.recipientId, seq };
  try {
    await deps.wakeUps.publish(wakeUp);
  } catch (error) {
    // Live delivery is best effort: subscribers re-read from Postgres, which already has the event.
    deps.log.warn('inbox wake-up publish failed', { notificationId: notification.id, error });
  }
  return { outcome: 'delivered', seq };
}

async function markFailed(deps: RenderDeps, job: RenderJobData, reason: string): Promise<RenderResult> {
  await deps.prisma.notification.updateMany({
    where: { id: job.notificationId, environmentId: job.environmentId, status: 'ACCEPTED' },
    data: { status: 'FAILED', failureReason: reason },
  });
  return { outcome: 'failed', reason };
}
