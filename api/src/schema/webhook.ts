// Webhook endpoints, deliveries and their attempt log, as API keys and dashboard members see them.
// Endpoints are managed by the environment's API keys and by project ADMINs/OWNERs; MEMBERs read.
// Deliveries are rows written in the transaction of the event they report (see the worker's
// webhooks/deliver.ts); the mutations here only change rows and enqueue jobs after commit.
import type { Prisma } from '@pigeon/schema';
import {
  disableEndpoint,
  enqueueOrLeave,
  isWebhookEventType,
  newWebhookSecret,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TEST_EVENT,
  type WebhookJobRequest,
} from '@pigeon/worker';
import { parseWebhookUrl, resolveTarget, TargetRefusedError } from '@pigeon/worker/webhooks/target';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { builder, ID_PAGES } from '../builder.ts';
import type { Context } from '../context.ts';
import { ENVIRONMENT_ID_DESCRIPTION, environmentIdFor, environmentScope } from '../environment-id.ts';
import { assertUuid, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { isUuid } from '../uuid.ts';
import { validate } from '../validation.ts';
import { NotificationRef } from './notification.ts';
import { jsonObject } from './send.ts';

/** At most this many endpoints per environment. */
export const MAX_ENDPOINTS_PER_ENVIRONMENT = 50;
/** The longest grace period a rotation may give the previous secret. */
const MAX_ROTATION_GRACE_SECONDS = 7 * 86_400;
const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { description: 'Waiting for its next attempt (see nextAttemptAt).' },
    SUCCEEDED: { description: 'The endpoint answered 2xx.' },
    FAILED: { description: 'No more attempts: the schedule is exhausted, the endpoint is gone or disabled. See failureReason.' },
  } as const,
});

const WebhookAttemptTriggerEnum = builder.enumType('WebhookAttemptTrigger', {
  values: {
    SCHEDULED: { description: 'Made by the retry schedule.' },
    MANUAL: { description: 'Made because someone asked for a redelivery (or a recovery).' },
  } as const,
});

const WebhookEventTypeRef = builder.objectRef<{ name: string; description: string }>('WebhookEventType').implement({
  fields: (t) => ({ name: t.exposeString('name'), description: t.exposeString('description') }),
});

export const WebhookAttemptRef = builder.prismaObject('WebhookAttempt', {
  description: 'One HTTP request to an endpoint and what came back: the evidence of a delivery.',
  fields: (t) => ({
    id: t.exposeID('id'),
    trigger: t.expose('trigger', { type: WebhookAttemptTriggerEnum }),
    url: t.exposeString('url'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    durationMs: t.exposeInt('durationMs'),
    requestHeaders: t.expose('requestHeaders', { type: 'JSON' }),
    requestBody: t.exposeString('requestBody'),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: 'Null when no response came (see errorClass).' }),
    responseHeaders: t.expose('responseHeaders', { type: 'JSON', nullable: true }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first WEBHOOK_MAX_RESPONSE_BYTES of it.' }),
    responseBodyTruncated: t.exposeBoolean('responseBodyTruncated'),
    errorClass: t.exposeString('errorClass', {
      nullable: true,
      description:
        'Why no (complete) response: timeout, connection_refused, connection_reset, dns_failure, tls_error, blocked_address, invalid_url or network_error.',
    }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
  }),
});

export const WebhookDeliveryRef = builder.prismaObject('WebhookDelivery', {
  description: 'One event sent to one endpoint, with all its attempts. Its id is the `webhook-id` header, the same on every retry.',
  fields: (t) => ({
    id: t.exposeID('id'),
    webhookId: t.exposeString('id', { description: 'The webhook-id header receivers deduplicate by.' }),
    environmentId: t.exposeID('environmentId'),
    endpointId: t.exposeID('endpointId'),
    endpoint: t.relation('endpoint'),
    notification: t.relation('notification', { nullable: true, type: NotificationRef }),
    eventType: t.exposeString('eventType'),
    payload: t.expose('payload', { type: 'JSON', description: 'The body sent: { type, timestamp, data }.' }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    attempts: t.relatedConnection('attempts', {
      ...ID_PAGES,
      description: 'Oldest first.',
      query: () => ({ orderBy: { id: 'asc' } }),
    }),
  }),
});

export const WebhookEndpointEventRef = builder.prismaObject('WebhookEndpointEvent', {
  description: 'Something that happened to an endpoint itself: endpoint.disabled (with the reason) or endpoint.enabled.',
  fields: (t) => ({
    id: t.exposeID('id'),
    endpointId: t.exposeID('endpointId'),
    type: t.exposeString('type'),
    reason: t.exposeString('reason', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const DeliveryFilter = builder.inputType('WebhookDeliveryFilter', {
  fields: (t) => ({
    endpointId: t.id(),
    notificationId: t.id(),
    status: t.field({ type: WebhookDeliveryStatusEnum }),
    eventType: t.string(),
  }),
});

export const WebhookEndpointRef = builder.prismaObject('WebhookEndpoint', {
  description: 'Where an environment sends its events. The secret is shown on creation, rotation and explicit reveal only.',
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.exposeID('environmentId'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes'),
    enabled: t.exposeBoolean('enabled'),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when every attempt has failed (null after any success). Endpoints failing for 5 days are disabled.',
    }),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: "While a rotation is in its grace period: when requests stop carrying the previous secret's signature too.",
      resolve: (e) => (e.previousSecretExpiresAt && e.previousSecretExpiresAt > new Date() ? e.previousSecretExpiresAt : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.relatedConnection('deliveries', {
      ...ID_PAGES,
      description: 'Newest first.',
      args: { status: t.arg({ type: WebhookDeliveryStatusEnum }) },
      query: (args) => ({ where: args.status ? { status: args.status } : {}, orderBy: { id: 'desc' } }),
    }),
    events: t.relatedConnection('events', {
      ...ID_PAGES,
      description: 'Newest first.',
      query: () => ({ orderBy: { id: 'desc' } }),
    }),
  }),
});

builder.prismaObjectField('Notification', 'webhookDeliveries', (t) =>
  t.relatedConnection('deliveries', {
    ...ID_PAGES,
    nullable: true,
    description: 'The webhook deliveries reporting this notification, newest first (API keys and dashboard members only).',
    authScopes: { apiKey: true, session: true },
    query: () => ({ orderBy: { id: 'desc' } }),
  }),
);

// ---------------------------------------------------------------------------------------------
// Validation

const eventTypes = z
  .array(z.string())
  .min(1, 'Choose at least one event type.')
  .max(Object.keys(WEBHOOK_EVENT_TYPES).length)
  .superRefine((types, issue) => {
    types.forEach((type, i) => {
      if (!isWebhookEventType(type))
        issue.addIssue({ code: 'custom', path: [i], message: `Unknown event type "${type}" (see the webhookEventTypes query).` });
    });
  })
  .transform((types) => [...new Set(types)]);
const description = z.string().trim().max(500).nullish();
const createSchema = z.object({ url: z.string().trim().min(1, 'Give the endpoint URL.'), description, eventTypes });
const updateSchema = z.object({ url: z.string().trim().min(1).optional(), description, eventTypes: eventTypes.optional() });

/** Checks a URL as the worker will before each attempt: syntax, then the resolved addresses. */
async function checkUrl(ctx: Context, path: string, raw: string): Promise<string> {
  const parsed = parseWebhookUrl(raw);
  if (!parsed.ok) throw new ValidationError([{ path, message: parsed.reason }]);
  try {
    await resolveTarget(parsed.url.toString(), ctx.webhookTargets);
  } catch (error) {
    if (error instanceof TargetRefusedError) throw new ValidationError([{ path, message: error.reason }]);
    throw error;
  }
  return parsed.url.toString();
}

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'An http(s) URL that resolves to a public address (or one the install allows).' }),
    eventTypes: t.stringList({ required: true, description: 'Names from the webhookEventTypes query.' }),
    description: t.string(),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Fields left out stay as they are; a null description clears it.',
  fields: (t) => ({ url: t.string(), eventTypes: t.stringList(), description: t.string() }),
});

async function findEndpoint(ctx: Context, environmentId: string, id: string) {
  const endpoint = await ctx.prisma.webhookEndpoint.findFirst({ where: { id: assertUuid('WebhookEndpoint', id), environmentId } });
  if (!endpoint) throw new NotFoundError('WebhookEndpoint', id);
  return endpoint;
}

const webhookDeps = (ctx: Context) => ({ prisma: ctx.prisma, queue: ctx.webhookQueue, log: ctx.log });

// ---------------------------------------------------------------------------------------------
// Queries

builder.queryField('webhookEventTypes', (t) =>
  t.field({
    type: [WebhookEventTypeRef],
    description: 'The event types endpoints can subscribe to.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: () => Object.entries(WEBHOOK_EVENT_TYPES).map(([name, text]) => ({ name, description: text })),
  }),
);

builder.queryField('webhookEndpoints', (t) =>
  t.prismaField({
    type: ['WebhookEndpoint'],
    description: 'The endpoints of the environment, oldest first.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.webhookEndpoint.findMany({
        ...query,
        where: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
        orderBy: { createdAt: 'asc' },
      }),
  }),
);

builder.queryField('webhookEndpoint', (t) =>
  t.prismaField({
    type: 'WebhookEndpoint',
    nullable: true,
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const id = String(args.id);
      if (!isUuid(id)) return null;
      return ctx.prisma.webhookEndpoint.findFirst({
        ...query,
        where: { id, environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
      });
    },
  }),
);

builder.queryField('webhookDelivery', (t) =>
  t.prismaField({
    type: 'WebhookDelivery',
    nullable: true,
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const id = String(args.id);
      if (!isUuid(id)) return null;
      return ctx.prisma.webhookDelivery.findFirst({
        ...query,
        where: { id, environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
      });
    },
  }),
);

builder.queryField('webhookDeliveries', (t) =>
  t.prismaConnection({
    type: 'WebhookDelivery',
    ...ID_PAGES,
    description: 'Deliveries of the environment, newest first; filter by endpoint, notification, status or event type.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), filter: t.arg({ type: DeliveryFilter }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const f = args.filter;
      const where: Prisma.WebhookDeliveryWhereInput = { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) };
      // A malformed id matches nothing (rather than failing the query).
      const idOrNone = (id: string | number) => (isUuid(String(id)) ? String(id) : '00000000-0000-0000-0000-000000000000');
      if (f?.endpointId != null) where.endpointId = idOrNone(f.endpointId);
      if (f?.notificationId != null) where.notificationId = idOrNone(f.notificationId);
      if (f?.status) where.status = f.status;
      if (f?.eventType) where.eventType = f.eventType;
      return ctx.prisma.webhookDelivery.findMany({ ...query, where, orderBy: { id: 'desc' } });
    },
  }),
);

builder.queryField('webhookEndpointEvents', (t) =>
  t.prismaConnection({
    type: 'WebhookEndpointEvent',
    ...ID_PAGES,
    description: "What happened to the environment's endpoints (endpoint.disabled, endpoint.enabled), newest first.",
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.webhookEndpointEvent.findMany({
        ...query,
        where: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
        orderBy: { id: 'desc' },
      }),
  }),
);

// ---------------------------------------------------------------------------------------------
// Mutations

interface EndpointWithSecret {
  endpoint: Prisma.WebhookEndpointGetPayload<object>;
  secret: string;
}

const EndpointWithSecretFields = (name: string, description: string) =>
  builder.objectRef<EndpointWithSecret>(name).implement({
    description,
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpointRef, resolve: (r) => r.endpoint }),
      secret: t.exposeString('secret', { description: 'The Standard Webhooks signing secret ("whsec_" + base64). Keep it secret.' }),
    }),
  });

const CreatedEndpointRef = EndpointWithSecretFields(
  'CreatedWebhookEndpoint',
  'A new endpoint and its secret (shown now, and on explicit reveal).',
);
const RotatedEndpointRef = EndpointWithSecretFields('RotatedWebhookEndpointSecret', 'The endpoint and its new secret.');

builder.mutationField('createWebhookEndpoint', (t) =>
  t.field({
    type: CreatedEndpointRef,
    description: 'Creates an endpoint. The URL is checked now (syntax and resolved addresses) and again before every attempt.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      input: t.arg({ type: CreateWebhookEndpointInput, required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError], directResult: true, union: { name: 'CreateWebhookEndpointResult' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(createSchema, args.input);
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const url = await checkUrl(ctx, 'input.url', input.url);
      const secret = newWebhookSecret();
      // The count and the insert in one statement, so concurrent creates cannot pass the limit
      // together by much (each sees the others only after commit; the limit is a guard, not a quota).
      const [created] = await ctx.prisma.$queryRaw<{ id: string }[]>`
        INSERT INTO webhook_endpoints (id, environment_id, url, description, event_types, secret)
        SELECT ${uuidv7()}::uuid, ${environmentId}::uuid, ${url}, ${input.description ?? null}, ${input.eventTypes}::text[], ${secret}
         WHERE (SELECT count(*) FROM webhook_endpoints WHERE environment_id = ${environmentId}::uuid) < ${MAX_ENDPOINTS_PER_ENVIRONMENT}
        RETURNING id::text`;
      if (!created) {
        throw new ValidationError([], `An environment can have at most ${MAX_ENDPOINTS_PER_ENVIRONMENT} webhook endpoints.`);
      }
      const endpoint = await ctx.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: created.id } });
      return { endpoint, secret };
    },
  }),
);

builder.mutationField('updateWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpointRef,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateWebhookEndpointInput, required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError], dataField: { name: 'endpoint' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(updateSchema, args.input);
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const current = await findEndpoint(ctx, environmentId, String(args.id));
      const data: Prisma.WebhookEndpointUpdateInput = {};
      if (input.url !== undefined) data.url = await checkUrl(ctx, 'input.url', input.url);
      if (input.description !== undefined) data.description = input.description;
      if (input.eventTypes !== undefined) data.eventTypes = input.eventTypes;
      return ctx.prisma.webhookEndpoint.update({ where: { id: current.id }, data });
    },
  }),
);

const DeletedWebhookEndpointRef = builder.objectRef<{ id: string }>('DeletedWebhookEndpoint').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationField('deleteWebhookEndpoint', (t) =>
  t.field({
    type: DeletedWebhookEndpointRef,
    description: 'Deletes an endpoint with its deliveries and attempt log. Attempts in flight finish; nothing is sent after.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const id = assertUuid('WebhookEndpoint', String(args.id));
      const { count } = await ctx.prisma.webhookEndpoint.deleteMany({ where: { id, environmentId } });
      if (count === 0) throw new NotFoundError('WebhookEndpoint', id);
      return { id };
    },
  }),
);

const WebhookEndpointSecretRef = builder
  .objectRef<{ secret: string; previousSecret: string | null; previousSecretExpiresAt: Date | null }>('WebhookEndpointSecret')
  .implement({
    fields: (t) => ({
      secret: t.exposeString('secret'),
      previousSecret: t.exposeString('previousSecret', {
        nullable: true,
        description: "During a rotation's grace period, the previous secret (requests carry both signatures).",
      }),
      previousSecretExpiresAt: t.expose('previousSecretExpiresAt', { type: 'DateTime', nullable: true }),
    }),
  });

builder.mutationField('revealWebhookEndpointSecret', (t) =>
  t.field({
    type: WebhookEndpointSecretRef,
    description: 'Shows the signing secret. A mutation (not a query) so that reading a secret is always a deliberate act.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const endpoint = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      const inGrace = endpoint.previousSecretExpiresAt !== null && endpoint.previousSecretExpiresAt > new Date();
      return {
        secret: endpoint.secret,
        previousSecret: inGrace ? endpoint.previousSecret : null,
        previousSecretExpiresAt: inGrace ? endpoint.previousSecretExpiresAt : null,
      };
    },
  }),
);

builder.mutationField('rotateWebhookEndpointSecret', (t) =>
  t.field({
    type: RotatedEndpointRef,
    description:
      'Replaces the signing secret. For `graceSeconds` (default 24 h, at most 7 days; 0 ends it at once) requests carry signatures with both the new and the previous secret, so receivers can switch without losing a request.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
      graceSeconds: t.arg.int(),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError], directResult: true, union: { name: 'RotateWebhookEndpointSecretResult' } },
    resolve: async (_root, args, ctx) => {
      const grace = args.graceSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
      if (!Number.isInteger(grace) || grace < 0 || grace > MAX_ROTATION_GRACE_SECONDS) {
        throw new ValidationError([{ path: 'graceSeconds', message: `Must be between 0 and ${MAX_ROTATION_GRACE_SECONDS} seconds.` }]);
      }
      const current = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      const secret = newWebhookSecret();
      // One statement, reading the secret it demotes, so concurrent rotations cannot lose one.
      const [row] = await ctx.prisma.$queryRaw<{ id: string }[]>`
        UPDATE webhook_endpoints SET previous_secret = secret, secret = ${secret},
               previous_secret_expires_at = CASE WHEN ${grace}::int > 0 THEN now() + make_interval(secs => ${grace}::int) END,
               updated_at = now()
         WHERE id = ${current.id}::uuid
        RETURNING id::text`;
      if (!row) throw new NotFoundError('WebhookEndpoint', current.id);
      const endpoint = await ctx.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: current.id } });
      return { endpoint, secret };
    },
  }),
);

builder.mutationField('disableWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpointRef,
    description:
      'Stops deliveries to the endpoint: pending ones fail now ("The endpoint is disabled."; one in flight when its attempt ends), and recoverWebhookDeliveries resends them after re-enabling. Records endpoint.disabled.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
      reason: t.arg.string(),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError], dataField: { name: 'endpoint' } },
    resolve: async (_root, args, ctx) => {
      const reason = validate(z.string().trim().min(1).max(500).nullish(), args.reason);
      const current = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      await disableEndpoint(webhookDeps(ctx), current.id, reason ?? 'Disabled by hand.');
      return ctx.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: current.id } });
    },
  }),
);

builder.mutationField('enableWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpointRef,
    description:
      'Re-enables a disabled endpoint and restarts its failure clocks. Deliveries that failed meanwhile are not resent: use recoverWebhookDeliveries.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [NotFoundError], dataField: { name: 'endpoint' } },
    resolve: async (_root, args, ctx) => {
      const current = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      await ctx.prisma.$executeRaw`
        WITH enabled AS (
          UPDATE webhook_endpoints SET enabled = true, disabled_at = NULL, disabled_reason = NULL, failing_since = NULL,
                 consecutive_exhausted = 0, updated_at = now()
           WHERE id = ${current.id}::uuid AND NOT enabled
          RETURNING id, environment_id)
        INSERT INTO webhook_endpoint_events (id, environment_id, endpoint_id, type)
        SELECT pigeon_uuid_v7(), environment_id, id, 'endpoint.enabled' FROM enabled`;
      return ctx.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: current.id } });
    },
  }),
);

builder.mutationField('sendWebhookTestEvent', (t) =>
  t.field({
    type: WebhookDeliveryRef,
    description: `Sends a "${WEBHOOK_TEST_EVENT}" event to the endpoint (whatever it subscribes to), through the normal delivery path. Returns the delivery to follow.`,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
      data: t.arg({ type: 'JSON', description: "Sent as the event's data (a JSON object, at most 16 KB)." }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError], dataField: { name: 'delivery' } },
    resolve: async (_root, args, ctx) => {
      const data = validate(jsonObject(16 * 1024, 'data').nullish(), args.data);
      const endpoint = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      if (!endpoint.enabled) throw new ValidationError([{ path: 'id', message: 'The endpoint is disabled; enable it first.' }]);
      const id = uuidv7();
      const eventData = data ?? { message: 'This is a test event from Pigeon.', endpointId: endpoint.id };
      await ctx.prisma.$executeRaw`
        INSERT INTO webhook_deliveries (id, environment_id, endpoint_id, event_type, payload, next_attempt_at)
        VALUES (${id}::uuid, ${endpoint.environmentId}::uuid, ${endpoint.id}::uuid, ${WEBHOOK_TEST_EVENT},
                pigeon_webhook_payload(${WEBHOOK_TEST_EVENT}, ${JSON.stringify(eventData)}::jsonb), now())`;
      await enqueueOrLeave(webhookDeps(ctx), [
        { deliveryId: id, environmentId: endpoint.environmentId, endpointId: endpoint.id, attemptCount: 0 },
      ]);
      return ctx.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
    },
  }),
);

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: WebhookDeliveryRef,
    description:
      'Attempts a delivery again now, with the same webhook-id and body (a MANUAL attempt). For a finished delivery it is one attempt; for a pending one it comes before the next scheduled attempt.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError, ConflictError], dataField: { name: 'delivery' } },
    resolve: async (_root, args, ctx) => {
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const id = assertUuid('WebhookDelivery', String(args.id));
      const delivery = await ctx.prisma.webhookDelivery.findFirst({ where: { id, environmentId }, include: { endpoint: true } });
      if (!delivery) throw new NotFoundError('WebhookDelivery', id);
      if (!delivery.endpoint.enabled) throw new ValidationError([{ path: 'id', message: 'The endpoint is disabled; enable it first.' }]);
      const [row] = await ctx.prisma.$queryRaw<{ attempt_count: number }[]>`
        UPDATE webhook_deliveries SET status = 'PENDING', next_trigger = 'MANUAL', next_attempt_at = now(), failure_reason = NULL,
               updated_at = now()
         WHERE id = ${id}::uuid AND (lease_until IS NULL OR lease_until < now())
        RETURNING attempt_count`;
      if (!row) throw new ConflictError('An attempt of this delivery is in progress; try again when it has finished.');
      await enqueueOrLeave(webhookDeps(ctx), [
        { deliveryId: id, environmentId, endpointId: delivery.endpointId, attemptCount: row.attempt_count, suffix: `m${Date.now()}` },
      ]);
      return ctx.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
    },
  }),
);

const RecoverResultRef = builder.objectRef<{ count: number }>('RecoveredWebhookDeliveries').implement({
  fields: (t) => ({ count: t.exposeInt('count', { description: 'How many failed deliveries were queued again.' }) }),
});

/** Recovery queues at most this many deliveries per call (the rest: call again). */
export const MAX_RECOVER_PER_CALL = 10_000;

builder.mutationField('recoverWebhookDeliveries', (t) =>
  t.field({
    type: RecoverResultRef,
    description: `Queues every FAILED delivery of the endpoint created at or after \`since\` again (MANUAL attempts, same webhook-ids), oldest first, at most ${MAX_RECOVER_PER_CALL} per call.`,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true, description: 'The endpoint.' }),
      since: t.arg({ type: 'DateTime', required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError], dataField: { name: 'recovered' } },
    resolve: async (_root, args, ctx) => {
      const endpoint = await findEndpoint(ctx, environmentIdFor(ctx, args.environmentId?.toString()), String(args.id));
      if (!endpoint.enabled) throw new ValidationError([{ path: 'id', message: 'The endpoint is disabled; enable it first.' }]);
      if (args.since > new Date()) throw new ValidationError([{ path: 'since', message: 'Must not be in the future.' }]);
      const rows = await ctx.prisma.$queryRaw<{ id: string; attempt_count: number }[]>`
        UPDATE webhook_deliveries AS d SET status = 'PENDING', next_trigger = 'MANUAL', next_attempt_at = now(),
               failure_reason = NULL, updated_at = now()
          FROM (SELECT id FROM webhook_deliveries
                 WHERE endpoint_id = ${endpoint.id}::uuid AND status = 'FAILED' AND created_at >= ${args.since}
                 ORDER BY created_at LIMIT ${MAX_RECOVER_PER_CALL}
                   FOR UPDATE SKIP LOCKED) AS failed
         WHERE d.id = failed.id
        RETURNING d.id::text, d.attempt_count`;
      const suffix = `r${Date.now()}`;
      const jobs: WebhookJobRequest[] = rows.map((r) => ({
        deliveryId: r.id,
        environmentId: endpoint.environmentId,
        endpointId: endpoint.id,
        attemptCount: r.attempt_count,
        suffix,
      }));
      for (let i = 0; i < jobs.length; i += 1_000) await enqueueOrLeave(webhookDeps(ctx), jobs.slice(i, i + 1_000));
      return { count: rows.length };
    },
  }),
);
