// Notifications as API keys and dashboard members see them: one by id, or a page of them.
import type { Prisma } from '@pigeon/schema';
import { builder, ID_PAGES } from '../builder.ts';
import { ENVIRONMENT_ID_DESCRIPTION, environmentIdFor, environmentScope } from '../environment-id.ts';
import { isUuid } from '../uuid.ts';
import { RecipientRef } from './recipient.ts';

export const NotificationStatusEnum = builder.enumType('NotificationStatus', {
  values: {
    ACCEPTED: { description: 'Stored and queued; not rendered yet.' },
    DELIVERED: { description: "Rendered and in the recipient's inbox." },
    FAILED: { description: 'Will never be delivered; see failureReason.' },
  } as const,
});

export const NotificationRef = builder.prismaObject('Notification', {
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.exposeID('environmentId'),
    status: t.expose('status', { type: NotificationStatusEnum }),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    recipient: t.relation('recipient', { type: RecipientRef }),
    template: t.exposeString('templateKey', { nullable: true, description: 'The key of the template it was sent with.' }),
    title: t.exposeString('title', {
      nullable: true,
      description: 'Rendered title: HTML whose text is escaped (decode entities to show plain text). Null until rendered.',
    }),
    body: t.exposeString('body', {
      nullable: true,
      description: "Rendered body: HTML whose text is escaped; markup comes only from the template's own source. Null until rendered.",
    }),
    actionUrl: t.exposeString('actionUrl', { nullable: true }),
    category: t.exposeString('category', { nullable: true }),
    data: t.expose('data', { type: 'JSON', nullable: true }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    readAt: t.expose('readAt', { type: 'DateTime', nullable: true }),
    seenAt: t.expose('seenAt', { type: 'DateTime', nullable: true }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
    // No field-level `select`: every scalar is loaded with the object anyway, and a `select` here
    // made Pothos re-read rows that did not come through a Pothos query (stream events) — one
    // query per event per stream.
    read: t.boolean({ resolve: (n) => n.readAt !== null }),
    seen: t.boolean({ resolve: (n) => n.seenAt !== null }),
    archived: t.boolean({ resolve: (n) => n.archivedAt !== null }),
    inboxSeq: t.exposeInt('deliveredSeq', {
      nullable: true,
      description: "The inbox sequence number of its DELIVERED event (compare with ALL_READ / ALL_SEEN events' upToSeq).",
    }),
  }),
});

builder.queryField('notification', (t) =>
  t.prismaField({
    type: 'Notification',
    nullable: true,
    description: "One notification of the caller's environment; null when there is none with this id there.",
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const id = String(args.id);
      if (!isUuid(id)) return null;
      return ctx.prisma.notification.findFirst({
        ...query,
        where: { id, environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
      });
    },
  }),
);

const NotificationFilter = builder.inputType('NotificationFilter', {
  fields: (t) => ({
    recipient: t.string({ description: "Only this recipient's (their external id)." }),
    status: t.field({ type: NotificationStatusEnum }),
    template: t.string({ description: 'Only those sent with this template key.' }),
    category: t.string(),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
  }),
});

builder.queryField('notifications', (t) =>
  t.prismaConnection({
    type: 'Notification',
    ...ID_PAGES,
    description: 'Notifications of the environment, newest first (ids are time-ordered UUIDv7, unique, so paging never skips or repeats).',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), filter: t.arg({ type: NotificationFilter }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const f = args.filter;
      const where: Prisma.NotificationWhereInput = { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) };
      if (f?.recipient) where.recipient = { externalId: f.recipient };
      if (f?.status) where.status = f.status;
      if (f?.template) where.templateKey = f.template;
      if (f?.category) where.category = f.category;
      if (f?.createdAfter || f?.createdBefore) {
        where.createdAt = { ...(f.createdAfter ? { gt: f.createdAfter } : {}), ...(f.createdBefore ? { lt: f.createdBefore } : {}) };
      }
      return ctx.prisma.notification.findMany({ ...query, where, orderBy: { id: 'desc' } });
    },
  }),
);
