// The Pothos builder: configuration only (context, scalars, auth scopes, plugins, root types).
// Object types live in schema/<domain>.ts.

import type { Role } from '@pigeon/schema';
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from './context.ts';
import { forbidden, unauthenticated } from './errors.ts';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';
import { roleRank } from './principal.ts';
import { isUuid } from './uuid.ts';

export interface EnvironmentScope {
  /** The `environmentId` argument (dashboard sessions must give it; API keys may omit it). */
  environmentId: string | null | undefined;
  /** Least role a dashboard member needs. */
  role: Role;
  /** Whether the environment's own API keys may call this field. */
  apiKey: boolean;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  AuthScopes: {
    /** Any valid API key. */
    apiKey: boolean;
    /** Any valid client token. */
    clientToken: boolean;
    /** Any logged-in dashboard user. */
    session: boolean;
    /** An API key of that environment, or a dashboard member of its project with at least `role`. */
    environment: EnvironmentScope;
    /** A dashboard member of the project with at least `role`. */
    project: { projectId: string; role: Role };
  };
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    cacheKey: (value) => JSON.stringify(value),
    unauthorizedError: (_parent, context, _info, result) =>
      context.principal
        ? forbidden(result.message.startsWith('Not authorized') ? 'This principal may not use this field.' : result.message)
        : unauthenticated(
            context.csrfRejected
              ? `Session cookie sent without a valid X-CSRF-Token header (copy it from the pigeon_csrf cookie).`
              : 'Authentication required: send "Authorization: Bearer <key or token>" or log in.',
          ),
    authScopes: (context) => {
      const p = context.principal;
      const roleIn = (environmentId: string) => {
        let cached = context.roleCache.get(environmentId);
        if (!cached) {
          cached =
            p?.kind === 'session'
              ? context.prisma.membership
                  .findFirst({
                    where: { userId: p.userId, project: { environments: { some: { id: environmentId } } } },
                    select: { role: true },
                  })
                  .then((m) => m?.role ?? null)
              : Promise.resolve(null);
          context.roleCache.set(environmentId, cached);
        }
        return cached;
      };
      return {
        apiKey: p?.kind === 'apiKey',
        clientToken: p?.kind === 'clientToken',
        session: p?.kind === 'session',
        environment: async ({ environmentId, role, apiKey }) => {
          if (p?.kind === 'apiKey') return apiKey && (environmentId == null || environmentId.toLowerCase() === p.environmentId);
          if (p?.kind !== 'session' || !environmentId || !isUuid(environmentId)) return false;
          const held = await roleIn(environmentId);
          return held !== null && roleRank[held] >= roleRank[role];
        },
        project: async ({ projectId, role }) => {
          if (p?.kind !== 'session' || !isUuid(projectId)) return false;
          const m = await context.prisma.membership.findUnique({
            where: { projectId_userId: { projectId, userId: p.userId } },
            select: { role: true },
          });
          return m !== null && roleRank[m.role] >= roleRank[role];
        },
      };
    },
  },
  errors: {
    // Never the bare Error class: that would expose database and driver messages to clients.
    defaultTypes: [],
    defaultResultOptions: { name: ({ fieldName }) => `${capitalize(fieldName)}Success` },
    defaultUnionOptions: { name: ({ fieldName }) => `${capitalize(fieldName)}Result` },
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** Relay connections paged by the rows' unique, time-ordered UUIDv7 id: 20 per page, at most 100. */
export const ID_PAGES = { cursor: 'id', defaultSize: 20, maxSize: 100 } as const;
