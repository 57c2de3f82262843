// `send`: validate, then one SQL statement (template lookup, recipient upsert, notification insert),
// enqueue, return. One statement is atomic without an interactive transaction, and costs one round
// trip. The database decides duplicates: UNIQUE(environment_id, idempotency_key) lets exactly one of
// any number of concurrent sends with one key commit; the others read the winner back.
import { createHash } from 'node:crypto';
import { type Notification, Prisma } from '@pigeon/schema';
import { ENQUEUE_TIMEOUT_MS, enqueueOrLeave, enqueueRender, withTimeout } from '@pigeon/worker';
import { escapeHtml } from '@pigeon/worker/render/escape';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { environmentScope } from '../environment-id.ts';
import { IdempotencyConflictError, TemplateNotFoundError, ValidationError } from '../errors.ts';
import { notificationFields, notificationSelectList } from '../notification-columns.ts';
import { RECIPIENT_ATTEMPTS, recipientCtes } from '../recipients.ts';
import { validate } from '../validation.ts';
import { NotificationRef } from './notification.ts';
import { templateKey } from './template.ts';

const RecipientInput = builder.inputType('RecipientInput', {
  description: 'Profile of the recipient, upserted with the notification. Fields left out keep their stored value.',
  fields: (t) => ({
    name: t.string(),
    email: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

const SendInput = builder.inputType('SendInput', {
  description: 'Either `template` (with `data` for its variables) or `title` + `body`.',
  fields: (t) => ({
    to: t.string({ required: true, description: "The recipient's external id (your id for the user)." }),
    recipient: t.field({ type: RecipientInput }),
    template: t.string({ description: 'Key of a template of this environment.' }),
    title: t.string(),
    body: t.string(),
    data: t.field({ type: 'JSON', description: 'A JSON object: template variables, and delivered with the notification.' }),
    category: t.string(),
    actionUrl: t.string({
      description: 'Where clicking the notification goes: an http(s) URL or a path starting with "/". Overrides the template\'s.',
    }),
    idempotencyKey: t.string({
      description: 'Repeating a send with the same key returns the original notification instead of sending again.',
    }),
  }),
});

const noControlChars = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const jsonSize = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');
/** A JSON object (not an array or scalar) of at most `max` bytes as JSON. */
export const jsonObject = (max: number, what: string) =>
  z
    .custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), `${what} must be a JSON object.`)
    .refine((v) => jsonSize(v) <= max, `${what} must be at most ${max / 1024} KB as JSON.`);

export const actionUrl = z
  .string()
  .trim()
  .max(2_048)
  .refine(
    (v) => (v.startsWith('/') && !v.startsWith('//')) || /^https?:\/\/[^\s]+$/i.test(v),
    'Must be an http(s) URL or a path starting with "/".',
  );

/** A recipient's external id (the tenant's own id for its user). */
export const recipientExternalId = z
  .string()
  .trim()
  .min(1, 'Name the recipient (their external id).')
  .max(256)
  .refine(noControlChars, 'Must not contain control characters.');

const sendSchema = z
  .object({
    to: recipientExternalId,
    recipient: z
      .object({
        name: z.string().trim().max(200).nullish(),
        email: z.email('Must be a valid email address.').max(254).nullish(),
        metadata: jsonObject(8 * 1024, 'metadata').nullish(),
      })
      .nullish(),
    template: templateKey.nullish(),
    title: z.string().trim().min(1, 'Must not be empty.').max(500).nullish(),
    body: z.string().max(10_000).nullish(),
    data: jsonObject(32 * 1024, 'data').nullish(),
    category: z.string().trim().min(1).max(64).nullish(),
    actionUrl: actionUrl.nullish(),
    idempotencyKey: z.string().min(1).max(255).refine(noControlChars, 'Must not contain control characters.').nullish(),
  })
  .superRefine((v, issue) => {
    if (v.template) {
      for (const field of ['title', 'body'] as const) {
        if (v[field] != null)
          issue.addIssue({ code: 'custom', path: [field], message: 'Give either a template or title and body, not both.' });
      }
    } else {
      if (v.title == null) issue.addIssue({ code: 'custom', path: ['title'], message: 'Give a template, or a title and body.' });
      if (v.body == null) issue.addIssue({ code: 'custom', path: ['body'], message: 'Give a template, or a title and body.' });
    }
  });

type SendFields = z.infer<typeof sendSchema>;

/** Key-order-independent JSON, so the same payload always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function requestHash(input: SendFields): string {
  const { idempotencyKey: _ignored, ...payload } = input;
  return createHash('sha256').update(canonical(payload)).digest('hex');
}

interface SendOutcome {
  notification: Notification;
  duplicate: boolean;
}

const SendSuccessRef = builder.objectRef<SendOutcome>('SendSuccess').implement({
  fields: (t) => ({
    // The row written (or found) by send itself: no second read on the hot path.
    notification: t.field({ type: NotificationRef, resolve: (outcome) => outcome.notification }),
    duplicate: t.exposeBoolean('duplicate', { description: 'True when this idempotency key was already used: nothing new was sent.' }),
  }),
});

function findByKey(ctx: Context, environmentId: string, idempotencyKey: string) {
  return ctx.prisma.notification.findUnique({ where: { environmentId_idempotencyKey: { environmentId, idempotencyKey } } });
}

function duplicateOf(original: Notification, idempotencyKey: string, hash: string): SendOutcome {
  if (original.requestHash !== hash) throw new IdempotencyConflictError(idempotencyKey, original.id);
  return { notification: original, duplicate: true };
}

/** Every column of the Notification model, so the inserted row answers like a Prisma read would. */
const returningNotification = notificationSelectList();
/** The same columns read back from the `notification` CTE. */
const insertedNotification = Prisma.raw(notificationFields.map((f) => `notification."${f}"`).join(', '));

/** The SQLSTATE of a failed statement: the driver's `code` (pg and PGlite both set it). */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

type SendStatementResult =
  | { kind: 'inserted' | 'duplicate'; notification: Notification; webhooks: [string, string][] }
  | { kind: 'templateNotFound' };

/**
 * One statement: find an earlier send with this idempotency key, look up the template (when named),
 * upsert the recipient and insert the notification. It writes nothing when the key was already used
 * (a retry: answered without an error, since pg's pool drops a connection whose query failed) or the
 * template does not exist. The notification.accepted webhook deliveries for the environment's
 * endpoints are written by the same statement. A concurrent send with the key that commits after this statement's
 * snapshot still surfaces as the unique violation. Runs a second time when a concurrent first send
 * created the recipient after the snapshot (see recipientCtes).
 */
async function runSendStatement(ctx: Context, environmentId: string, input: SendFields, hash: string): Promise<SendStatementResult> {
  const template = input.template
    ? Prisma.sql`SELECT id, category FROM templates WHERE environment_id = ${environmentId}::uuid AND key = ${input.template}`
    : Prisma.sql`SELECT NULL::uuid AS id, NULL::text AS category`;
  const existing = input.idempotencyKey
    ? Prisma.sql`SELECT ${returningNotification} FROM notifications
        WHERE environment_id = ${environmentId}::uuid AND idempotency_key = ${input.idempotencyKey}`
    : Prisma.sql`SELECT ${returningNotification} FROM notifications WHERE false`;
  const data = input.data == null ? null : JSON.stringify(input.data);
  // Inline content is stored as templates render: HTML with the text escaped, so every
  // notification's title and body follow one rule for clients.
  const title = input.template ? null : escapeHtml(input.title ?? '');
  const body = input.template ? null : escapeHtml(input.body ?? '');
  const writeWhen = Prisma.sql`EXISTS (SELECT 1 FROM template) AND NOT EXISTS (SELECT 1 FROM existing)`;
  for (let attempt = 1; attempt <= RECIPIENT_ATTEMPTS; attempt++) {
    // Straight on the driver: Prisma's query layer cost about as much CPU as the driver itself for
    // this statement, and send is the hot path (docs/benchmarks.md). The columns come back with
    // the same types as a Prisma read (notificationSelectList casts uuids and enums to text).
    const rows = await ctx.sql<
      { templateFound: boolean; duplicate: boolean | null; webhooks: [string, string][] } & Notification
    >(Prisma.sql`
      /* prepared */ WITH existing AS (${existing}),
      template AS (${template}),
      ${recipientCtes(environmentId, input.to, input.recipient, writeWhen)},
      notification AS (
        INSERT INTO notifications (id, environment_id, recipient_id, template_id, template_key, title, body, action_url,
          category, data, idempotency_key, request_hash)
        SELECT ${uuidv7()}::uuid, ${environmentId}::uuid, recipient.id, template.id, ${input.template ?? null}::text,
          ${title}::text, ${body}::text, ${input.actionUrl ?? null}::text, COALESCE(${input.category ?? null}::text, template.category),
          ${data}::jsonb, ${input.idempotencyKey ?? null}::text, ${hash}
        FROM recipient CROSS JOIN template
        WHERE NOT EXISTS (SELECT 1 FROM existing)
        RETURNING ${returningNotification}, notifications AS "wholeRow"
      ),
      hooks AS (
        INSERT INTO webhook_deliveries (id, environment_id, endpoint_id, notification_id, event_type, payload, next_attempt_at)
        SELECT pigeon_uuid_v7(), e.environment_id, e.id, notification."id"::uuid, 'notification.accepted',
          pigeon_webhook_payload('notification.accepted', pigeon_notification_webhook_data(notification."wholeRow", ${input.to}::text)), now()
        FROM notification JOIN webhook_endpoints AS e
          ON e.environment_id = ${environmentId}::uuid AND e.enabled AND 'notification.accepted' = ANY (e.event_types)
        RETURNING id, endpoint_id
      )
      SELECT EXISTS (SELECT 1 FROM template) AS "templateFound",
        (SELECT COALESCE(jsonb_agg(jsonb_build_array(hooks.id, hooks.endpoint_id)), '[]'::jsonb) FROM hooks) AS webhooks,
        found.*
      FROM (VALUES (1)) AS one LEFT JOIN (
        SELECT false AS duplicate, ${insertedNotification} FROM notification
        UNION ALL
        SELECT true AS duplicate, existing.* FROM existing
      ) AS found ON true`);
    const { templateFound, duplicate, webhooks, ...notification } = rows[0] as (typeof rows)[number];
    // A retry of a send that succeeded before the template was deleted is still a duplicate.
    if (duplicate) return { kind: 'duplicate', notification, webhooks: [] };
    if (!templateFound) return { kind: 'templateNotFound' };
    if (duplicate === false) return { kind: 'inserted', notification, webhooks };
  }
  throw new Error('Recipient neither inserted nor visible twice in a row (deleted concurrently?); retry.');
}

/** Stores one notification in an environment and queues its work: what `send` and `sendTestNotification` do. */
async function sendIn(ctx: Context, environmentId: string, rawInput: unknown) {
  const input = validate(sendSchema, rawInput);
  const hash = requestHash(input);

  let result: SendStatementResult;
  try {
    result = await runSendStatement(ctx, environmentId, input, hash);
  } catch (error) {
    const state = sqlState(error);
    // The template was deleted between the statement's snapshot and its insert (foreign key violation).
    if (input.template && state === '23503') throw new TemplateNotFoundError(input.template);
    // A concurrent send with this key committed first.
    if (!input.idempotencyKey || state !== '23505') throw error;
    const original = await findByKey(ctx, environmentId, input.idempotencyKey);
    if (!original) throw error;
    return duplicateOf(original, input.idempotencyKey, hash);
  }
  if (result.kind === 'templateNotFound') throw new TemplateNotFoundError(input.template as string);
  if (result.kind === 'duplicate') return duplicateOf(result.notification, input.idempotencyKey as string, hash);
  const { notification, webhooks } = result;

  const hooks = enqueueOrLeave(
    { queue: ctx.webhookQueue, log: ctx.log },
    webhooks.map(([deliveryId, endpointId]) => ({ deliveryId, endpointId, environmentId, attemptCount: 0 })),
  );
  try {
    await withTimeout(enqueueRender(ctx.renderQueue, { notificationId: notification.id, environmentId }), ENQUEUE_TIMEOUT_MS);
  } catch (error) {
    // Committed but not queued (Redis down or slow): the reconciler re-enqueues ACCEPTED
    // notifications, so the send still succeeds and answers fast; only delivery is later. An
    // enqueue still pending in ioredis' offline queue is harmless: the job id deduplicates.
    ctx.log.warn('enqueue after commit failed; the reconciler will pick it up', { notificationId: notification.id, error });
  }
  await hooks;
  return { notification, duplicate: false };
}

builder.mutationField('send', (t) =>
  t.field({
    type: SendSuccessRef,
    description: 'Sends one notification to one recipient. Returns fast: rendering and delivery happen in workers.',
    args: { input: t.arg({ type: SendInput, required: true }) },
    authScopes: { apiKey: true },
    errors: {
      types: [ValidationError, TemplateNotFoundError, IdempotencyConflictError],
      directResult: true,
      union: { name: 'SendResult' },
    },
    resolve: async (_root, args, ctx) => {
      if (ctx.principal?.kind !== 'apiKey') throw new Error('unreachable: apiKey scope');
      return sendIn(ctx, ctx.principal.environmentId, args.input);
    },
  }),
);

builder.mutationField('sendTestNotification', (t) =>
  t.field({
    type: SendSuccessRef,
    description:
      "Sends a notification from the dashboard (e.g. a template's test send): exactly what `send` does with an API key of the environment, for its ADMINs and OWNERs.",
    args: { environmentId: t.arg.id({ required: true }), input: t.arg({ type: SendInput, required: true }) },
    authScopes: environmentScope('ADMIN', false),
    errors: {
      types: [ValidationError, TemplateNotFoundError, IdempotencyConflictError],
      directResult: true,
      union: { name: 'SendTestNotificationResult' },
    },
    resolve: (_root, args, ctx) => sendIn(ctx, String(args.environmentId), args.input),
  }),
);
