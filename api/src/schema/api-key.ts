// API keys: per environment, shown once, stored as a hash; managed by project ADMINs and OWNERs.
import { z } from 'zod';
import { generateApiKey } from '../auth/secrets.ts';
import { builder } from '../builder.ts';
import { environmentScope } from '../environment-id.ts';
import { assertUuid, NotFoundError, ValidationError } from '../errors.ts';
import { validate } from '../validation.ts';

export const ApiKeyRef = builder.prismaObject('ApiKey', {
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.exposeID('environmentId'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The visible start of the key, e.g. "sk_dev_3f9a1c".' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ apiKey: { id: string }; secret: string }>('CreatedApiKey').implement({
  description: 'A new key. `secret` is shown this once; only its hash is stored.',
  fields: (t) => ({
    apiKey: t.field({
      type: ApiKeyRef,
      resolve: (parent, _args, ctx) => ctx.prisma.apiKey.findUniqueOrThrow({ where: { id: parent.apiKey.id } }),
    }),
    secret: t.exposeString('secret'),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});

const createSchema = z.object({ name: z.string().trim().min(1, 'Give the key a name.').max(100) });

builder.queryField('apiKeys', (t) =>
  t.prismaField({
    type: ['ApiKey'],
    description: "The environment's API keys, newest first (revoked ones included, marked).",
    args: { environmentId: t.arg.id({ required: true }) },
    authScopes: environmentScope('MEMBER', false),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.apiKey.findMany({ ...query, where: { environmentId: String(args.environmentId) }, orderBy: { createdAt: 'desc' } }),
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKeyRef,
    args: { environmentId: t.arg.id({ required: true }), input: t.arg({ type: CreateApiKeyInput, required: true }) },
    authScopes: environmentScope('ADMIN', false),
    errors: { types: [ValidationError, NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const input = validate(createSchema, args.input);
      const environmentId = String(args.environmentId);
      const environment = await ctx.prisma.environment.findUnique({ where: { id: environmentId }, select: { kind: true } });
      if (!environment) throw new NotFoundError('Environment', environmentId);
      const key = generateApiKey(environment.kind);
      const apiKey = await ctx.prisma.apiKey.create({
        data: { environmentId, name: input.name, prefix: key.prefix, keyHash: key.hash },
        select: { id: true },
      });
      return { apiKey, secret: key.secret };
    },
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    description:
      'Revokes a key: calls with it then fail with UNAUTHENTICATED (at once on the API process that revoked it, within a second on the others). Revoking twice is harmless.',
    args: { environmentId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', false),
    errors: { types: [NotFoundError], dataField: { name: 'apiKey' } },
    resolve: async (_root, args, ctx) => {
      const id = assertUuid('API key', String(args.id));
      const environmentId = String(args.environmentId);
      await ctx.prisma.apiKey.updateMany({ where: { id, environmentId, revokedAt: null }, data: { revokedAt: new Date() } });
      ctx.apiKeys.forgetKey(id);
      const key = await ctx.prisma.apiKey.findFirst({ where: { id, environmentId } });
      if (!key) throw new NotFoundError('API key', id);
      return key;
    },
  }),
);
