// Recipients: a tenant's end users, known by the tenant's own id and upserted by `send`.
import { builder, ID_PAGES } from '../builder.ts';
import { ENVIRONMENT_ID_DESCRIPTION, environmentIdFor, environmentScope } from '../environment-id.ts';

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
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.recipient.findMany({
        ...query,
        where: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
        orderBy: { id: 'desc' },
      }),
  }),
);
