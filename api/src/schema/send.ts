// `send`: validate, upsert the recipient, insert the notification (one transaction), enqueue, return.
// The database decides duplicates: UNIQUE(environment_id, idempotency_key) lets exactly one of any
// number of concurrent sends with one key commit; the others read the winner back.
import { createHash } from 'node:crypto';
import type { Notification, Prisma } from '@pigeon/schema';
import { enqueueRender } from '@pigeon/worker';
import { escapeHtml } from '@pigeon/worker/render/escape';
import { z } from 'zod';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { IdempotencyConflictError, TemplateNotFoundError, ValidationError } from '../errors.ts';
import { upsertRecipient } from '../recipients.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../unique-violation.ts';
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
const jsonObject = (max: number, what: string) =>
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

/** How long send waits for Redis to take the job before leaving it to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 500;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function findByKey(ctx: Context, environmentId: string, idempotencyKey: string) {
  return ctx.prisma.notification.findUnique({ where: { environmentId_idempotencyKey: { environmentId, idempotencyKey } } });
}

function duplicateOf(original: Notification, idempotencyKey: string, hash: string): SendOutcome {
  if (original.requestHash !== hash) throw new IdempotencyConflictError(idempotencyKey, original.id);
  return { notification: original, duplicate: true };
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
      const { environmentId } = ctx.principal;
      const input = validate(sendSchema, args.input);
      const hash = requestHash(input);

      let template: { id: string; category: string | null } | null = null;
      if (input.template) {
        template = await ctx.prisma.template.findUnique({
          where: { environmentId_key: { environmentId, key: input.template } },
          select: { id: true, category: true },
        });
        if (!template) {
          // A retry of a send that succeeded before the template was deleted is still a duplicate.
          const original = input.idempotencyKey ? await findByKey(ctx, environmentId, input.idempotencyKey) : null;
          if (original) return duplicateOf(original, input.idempotencyKey as string, hash);
          throw new TemplateNotFoundError(input.template);
        }
      }

      let notification: Notification;
      try {
        notification = await ctx.prisma.$transaction(async (tx) => {
          const recipientId = await upsertRecipient(tx, environmentId, input.to, input.recipient);
          return tx.notification.create({
            data: {
              environmentId,
              recipientId,
              templateId: template?.id ?? null,
              templateKey: input.template ?? null,
              // Inline content is stored as templates render: HTML with the text escaped, so every
              // notification's title and body follow one rule for clients.
              title: input.template ? null : escapeHtml(input.title ?? ''),
              body: input.template ? null : escapeHtml(input.body ?? ''),
              actionUrl: input.actionUrl ?? null,
              category: input.category ?? template?.category ?? null,
              data: (input.data ?? undefined) as Prisma.InputJsonValue | undefined,
              idempotencyKey: input.idempotencyKey ?? null,
              requestHash: hash,
            },
          });
        });
      } catch (error) {
        // The template was deleted between the lookup and the insert (foreign key violation).
        if (input.template && isForeignKeyViolation(error)) throw new TemplateNotFoundError(input.template);
        if (!input.idempotencyKey || !isUniqueViolation(error)) throw error;
        const original = await findByKey(ctx, environmentId, input.idempotencyKey);
        if (!original) throw error;
        return duplicateOf(original, input.idempotencyKey, hash);
      }

      try {
        await withTimeout(enqueueRender(ctx.renderQueue, { notificationId: notification.id, environmentId }), ENQUEUE_TIMEOUT_MS);
      } catch (error) {
        // Committed but not queued (Redis down or slow): the reconciler re-enqueues ACCEPTED
        // notifications, so the send still succeeds and answers fast; only delivery is later. An
        // enqueue still pending in ioredis' offline queue is harmless: the job id deduplicates.
        ctx.log.warn('enqueue after commit failed; the reconciler will pick it up', { notificationId: notification.id, error });
      }
      return { notification, duplicate: false };
    },
  }),
);
