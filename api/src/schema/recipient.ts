// Recipients: a tenant's end users, known by the tenant's own id and upserted by `send`.
import { builder, ID_PAGES } from '../builder.ts';
import { ENVIRONMENT_ID_DESCRIPTION, environmentIdFor, environmentScope } from '../environment-id.ts';
import { NotFoundError } from '../errors.ts';

export const RecipientRef = builder.prismaObject('Recipient', {
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.exposeID('environmentId'),
    externalId: t.exposeString('externalId', { description: "The tenant's own id for this user (send's `to`)." }),
    name: t.exposeString('name', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true }),
    unreadCount: t.exposeInt('unreadCount'),
    unseenCount: t.exposeInt('unseenCount'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('recipient', (t) =>
  t.prismaField({
    type: 'Recipient',
    nullable: true,
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), externalId: t.arg.string({ required: true }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.recipient.findUnique({
        ...query,
        where: {
          environmentId_externalId: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()), externalId: args.externalId },
        },
      }),
  }),
);

builder.queryField('recipients', (t) =>
  t.prismaConnection({
    type: 'Recipient',
    ...ID_PAGES,
    description: 'Recipients of the environment, newest first.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      search: t.arg.string({ description: 'Only recipients whose external id, name or email contains this (any case).' }),
    },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) => {
      const search = args.search?.trim().slice(0, 200);
      return ctx.prisma.recipient.findMany({
        ...query,
        where: {
          environmentId: environmentIdFor(ctx, args.environmentId?.toString()),
          ...(search
            ? {
                OR: [
                  { externalId: { contains: search, mode: 'insensitive' } },
                  { name: { contains: search, mode: 'insensitive' } },
                  { email: { contains: search, mode: 'insensitive' } },
                ],
              }
            : {}),
        },
        orderBy: { id: 'desc' },
      });
    },
  }),
);

const DeletedRecipientRef = builder
  .objectRef<{ id: string; externalId: string; notificationsDeleted: number }>('DeletedRecipient')
  .implement({
    description: 'A recipient erased with everything Pigeon held about them.',
    fields: (t) => ({
      id: t.exposeID('id'),
      externalId: t.exposeString('externalId'),
      notificationsDeleted: t.exposeInt('notificationsDeleted'),
    }),
  });

builder.mutationField('deleteRecipient', (t) =>
  t.field({
    type: DeletedRecipientRef,
    description:
      'Erases a recipient (a data-deletion request): their profile, notifications, inbox events, and the webhook deliveries and attempts that carried their notifications. Their open streams end; a later send to the same id starts a new recipient.',
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }), externalId: t.arg.string({ required: true }) },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const deleted = await ctx.prisma.$transaction(async (tx) => {
        const recipient = await tx.recipient.findUnique({
          where: { environmentId_externalId: { environmentId, externalId: args.externalId } },
          select: { id: true, externalId: true },
        });
        if (!recipient) return null;
        // Webhook payloads copy the notification (title, body, data): they go too, with their attempts.
        await tx.webhookDelivery.deleteMany({ where: { environmentId, notification: { recipientId: recipient.id } } });
        const notifications = await tx.notification.deleteMany({ where: { environmentId, recipientId: recipient.id } });
        // Inbox events go with the recipient (foreign key cascade).
        await tx.recipient.delete({ where: { id: recipient.id } });
        return { ...recipient, notificationsDeleted: notifications.count };
      });
      if (!deleted) throw new NotFoundError('Recipient', args.externalId);
      return deleted;
    },
  }),
);
