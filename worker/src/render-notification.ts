// The render step of one notification: render (sandboxed), then in one transaction (one call of a
// database function) mark it DELIVERED, store the content and append the recipient's next inbox
// event; publish the wake-up after commit. Render errors are permanent (FAILED with a reason);
// anything thrown from here is an infrastructure error and BullMQ retries it.
import type { PrismaClient } from '@pigeon/schema';
import type { Queue } from 'bullmq';
import type { InboxWakeUp, WakeUpPublisher } from './channels.ts';
import type { RenderJobData, WebhookJobData } from './jobs.ts';
import type { Logger } from './log.ts';
import type { RenderedContent, TemplateSandbox } from './render/sandbox.ts';
import { enqueueOrLeave } from './webhooks/deliver.ts';

export interface RenderDeps {
  prisma: PrismaClient;
  sandbox: TemplateSandbox;
  wakeUps: WakeUpPublisher;
  webhookQueue: Queue<WebhookJobData>;
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
    // Profile fields the recipient does not have are left out (undefined, not null), so that
    // `{{ recipient.name | default("friend") }}` works: Nunjucks' default() replaces only undefined.
    recipient: {
      id: recipient.externalId,
      ...(recipient.name != null ? { name: recipient.name } : {}),
      ...(recipient.email != null ? { email: recipient.email } : {}),
      ...(recipient.metadata != null ? { metadata: recipient.metadata } : {}),
    },
  };
}

interface RenderRow {
  id: string;
  environment_id: string;
  recipient_id: string;
  status: string;
  template_key: string | null;
  title: string | null;
  body: string | null;
  action_url: string | null;
  category: string | null;
  data: unknown;
  template_id: string | null;
  title_source: string | null;
  body_source: string | null;
  action_url_source: string | null;
  template_category: string | null;
  external_id: string;
  recipient_name: string | null;
  recipient_email: string | null;
  recipient_metadata: unknown;
}

export async function renderNotification(deps: RenderDeps, job: RenderJobData): Promise<RenderResult> {
  const { prisma } = deps;
  // One round trip for everything rendering needs (a Prisma include would be three).
  const [n] = await prisma.$queryRaw<RenderRow[]>`
    /* prepared */ SELECT n.id::text AS id, n.environment_id::text AS environment_id, n.recipient_id::text AS recipient_id,
           n.status::text AS status, n.template_key, n.title, n.body, n.action_url, n.category, n.data,
           t.id::text AS template_id, t.title_source, t.body_source, t.action_url_source, t.category AS template_category,
           r.external_id, r.name AS recipient_name, r.email AS recipient_email, r.metadata AS recipient_metadata
      FROM notifications AS n
      JOIN recipients AS r ON r.id = n.recipient_id
      LEFT JOIN templates AS t ON t.id = n.template_id
     WHERE n.id = ${job.notificationId}::uuid AND n.environment_id = ${job.environmentId}::uuid`;
  // Already processed (a duplicate job from the reconciler, or a retry after commit): nothing to do.
  if (!n) return { outcome: 'skipped', status: 'MISSING' };
  if (n.status !== 'ACCEPTED') return { outcome: 'skipped', status: n.status };

  let content: RenderedContent;
  if (n.template_key !== null) {
    if (n.template_id === null || n.title_source === null || n.body_source === null) {
      return markFailed(deps, job, `Template "${n.template_key}" was deleted before the notification was rendered.`);
    }
    const outcome = await deps.sandbox.render(
      { title: n.title_source, body: n.body_source, actionUrl: n.action_url_source },
      templateContext(n.data, {
        externalId: n.external_id,
        name: n.recipient_name,
        email: n.recipient_email,
        metadata: n.recipient_metadata,
      }),
    );
    if (!outcome.ok) {
      const { error } = outcome;
      const where = error.line ? ` (line ${error.line}${error.column ? `, column ${error.column}` : ''})` : '';
      return markFailed(deps, job, `Template "${n.template_key}" ${error.field}${where}: ${error.message}`);
    }
    // The caller's actionUrl, when given, overrides the template's.
    content = { ...outcome.content, actionUrl: n.action_url ?? outcome.content.actionUrl };
  } else {
    content = { title: n.title ?? '', body: n.body ?? '', actionUrl: n.action_url };
  }

  // One statement: the database function takes the recipient lock, marks the notification
  // DELIVERED with the next sequence number and appends the inbox event (see its migration for
  // the lock order and invariants). No row back: someone else delivered it first.
  const [delivered] = await prisma.$queryRaw<{ seq: number; webhooks: [string, string][] }[]>`
    /* prepared */ SELECT seq, webhooks FROM pigeon_deliver_notification(
      ${n.id}::uuid, ${content.title}, ${content.body}, ${content.actionUrl}, ${n.category ?? n.template_category ?? null})`;
  if (!delivered) return { outcome: 'skipped', status: 'RACED' };
  const { seq } = delivered;
  // The notification.delivered webhook deliveries were written in the same transaction.
  const webhooks = enqueueOrLeave(
    { queue: deps.webhookQueue, log: deps.log },
    delivered.webhooks.map(([deliveryId, endpointId]) => ({ deliveryId, endpointId, environmentId: n.environment_id, attemptCount: 0 })),
  );

  const wakeUp: InboxWakeUp = { environmentId: n.environment_id, recipientId: n.recipient_id, seq };
  try {
    await deps.wakeUps.publish(wakeUp);
  } catch (error) {
    // Live delivery is best effort: subscribers re-read from Postgres, which already has the event.
    deps.log.warn('inbox wake-up publish failed', { notificationId: n.id, error });
  }
  await webhooks;
  return { outcome: 'delivered', seq };
}

async function markFailed(deps: RenderDeps, job: RenderJobData, reason: string): Promise<RenderResult> {
  // The change and its notification.failed webhook deliveries in one transaction; the fan-out is a
  // second statement so that it sees the notification as FAILED.
  const hooks = await deps.prisma.$transaction(async (tx) => {
    const failed = await tx.$executeRaw`
      UPDATE notifications SET status = 'FAILED', failure_reason = ${reason}, updated_at = now()
       WHERE id = ${job.notificationId}::uuid AND environment_id = ${job.environmentId}::uuid AND status = 'ACCEPTED'`;
    if (failed === 0) return [];
    return tx.$queryRaw<{ delivery_id: string; endpoint_id: string }[]>`
      SELECT delivery_id::text, endpoint_id::text FROM pigeon_webhook_fanout('notification.failed', ARRAY[${job.notificationId}::uuid])`;
  });
  await enqueueOrLeave(
    { queue: deps.webhookQueue, log: deps.log },
    hooks.map((h) => ({ deliveryId: h.delivery_id, endpointId: h.endpoint_id, environmentId: job.environmentId, attemptCount: 0 })),
  );
  return { outcome: 'failed', reason };
}
