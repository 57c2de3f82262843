// Client tokens: minted by a tenant's backend (API key) for one of its users; rotated by project admins.
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import {
  DEFAULT_CLIENT_TOKEN_TTL_SECONDS,
  environmentSigningSelect,
  MAX_CLIENT_TOKEN_TTL_SECONDS,
  MIN_CLIENT_TOKEN_TTL_SECONDS,
  type MintedClientToken,
  mintClientToken,
  newSigningSecret,
} from '../auth/client-token.ts';
import { builder } from '../builder.ts';
import { environmentScope } from '../environment-id.ts';
import { upsertRecipient } from '../recipients.ts';
import { EnvironmentRef } from './project.ts';
import { RecipientRef } from './recipient.ts';
import { recipientExternalId } from './send.ts';

const ClientTokenRef = builder.objectRef<MintedClientToken & { recipientId: string }>('ClientToken').implement({
  description: 'A token for one end user\'s browser: send it as "Authorization: Bearer <token>". Mint a new one before `expiresAt`.',
  fields: (t) => ({
    token: t.exposeString('token'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    recipient: t.field({
      type: RecipientRef,
      resolve: (parent, _args, ctx) => ctx.prisma.recipient.findUniqueOrThrow({ where: { id: parent.recipientId } }),
    }),
  }),
});

const mintSchema = z.object({
  recipient: recipientExternalId,
  ttlSeconds: z
    .number()
    .int()
    .min(MIN_CLIENT_TOKEN_TTL_SECONDS, `Must be at least ${MIN_CLIENT_TOKEN_TTL_SECONDS} seconds.`)
    .max(MAX_CLIENT_TOKEN_TTL_SECONDS, `Must be at most ${MAX_CLIENT_TOKEN_TTL_SECONDS} seconds (24 h).`),
});

builder.mutationField('createClientToken', (t) =>
  t.field({
    type: ClientTokenRef,
    description:
      "Mints a client token for one recipient of the key's environment (created if it does not exist yet). " +
      `Default lifetime ${DEFAULT_CLIENT_TOKEN_TTL_SECONDS / 60} minutes, at most 24 hours. Invalid arguments fail with extensions.code VALIDATION.`,
    args: {
      recipient: t.arg.string({ required: true, description: "The recipient's external id (send's `to`)." }),
      ttlSeconds: t.arg.int({ description: `Lifetime in seconds, ${MIN_CLIENT_TOKEN_TTL_SECONDS}–${MAX_CLIENT_TOKEN_TTL_SECONDS}.` }),
    },
    authScopes: { apiKey: true },
    resolve: async (_root, args, ctx) => {
      if (ctx.principal?.kind !== 'apiKey') throw new Error('unreachable: apiKey scope');
      const parsed = mintSchema.safeParse({ recipient: args.recipient, ttlSeconds: args.ttlSeconds ?? DEFAULT_CLIENT_TOKEN_TTL_SECONDS });
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        // The public contract returns ClientToken! (not a union), so bad input is a coded GraphQL error.
        throw new GraphQLError(issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
          extensions: { code: 'VALIDATION', issues },
        });
      }
      const { environmentId } = ctx.principal;
      // Fresh from the database, never a cache: right after a rotation, new tokens use the new secret.
      const [environment, recipient] = await Promise.all([
        ctx.prisma.environment.findUniqueOrThrow({ where: { id: environmentId }, select: environmentSigningSelect }),
        upsertRecipient(ctx.prisma, environmentId, parsed.data.recipient),
      ]);
      const minted = await mintClientToken({
        secret: environment.clientTokenSecret,
        environmentId,
        recipientId: recipient,
        ttlSeconds: parsed.data.ttlSeconds,
      });
      return { ...minted, recipientId: recipient };
    },
  }),
);

builder.mutationField('rotateClientTokenSecret', (t) =>
  t.prismaField({
    type: EnvironmentRef,
    description:
      "Replaces the environment's client-token signing secret. Tokens signed with the previous secret stay valid until they expire (at most 24 h); " +
      'rotating again within those 24 h ends the oldest secret at once.',
    args: { environmentId: t.arg.id({ required: true }) },
    authScopes: environmentScope('ADMIN', false),
    resolve: async (query, _root, args, ctx) => {
      const environmentId = String(args.environmentId);
      // One statement: concurrent rotations each demote the secret that was current when they ran.
      // (The environment scope has already checked that the environment exists.)
      const keepPreviousUntil = new Date(Date.now() + (MAX_CLIENT_TOKEN_TTL_SECONDS + 60) * 1000);
      await ctx.prisma.$executeRaw`
        UPDATE environments
           SET previous_client_token_secret = client_token_secret,
               client_token_secret = ${newSigningSecret()},
               previous_secret_expires_at = ${keepPreviousUntil}
         WHERE id = ${environmentId}::uuid`;
      const updated = await ctx.prisma.environment.findUniqueOrThrow({ ...query, where: { id: environmentId } });
      ctx.clientTokens.invalidate(environmentId);
      return updated;
    },
  }),
);
