// Projects hold people (memberships with roles) and exactly two environments.
import { z } from 'zod';
import { newSigningSecret } from '../auth/client-token.ts';
import { builder } from '../builder.ts';
import { environmentScope } from '../environment-id.ts';
import { ValidationError } from '../errors.ts';
import { validate } from '../validation.ts';
import { UserRef } from './account.ts';

export const RoleEnum = builder.enumType('Role', { values: ['OWNER', 'ADMIN', 'MEMBER'] as const });
export const EnvironmentKindEnum = builder.enumType('EnvironmentKind', { values: ['DEVELOPMENT', 'PRODUCTION'] as const });

export const EnvironmentRef = builder.prismaObject('Environment', {
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: EnvironmentKindEnum }),
    projectId: t.exposeID('projectId'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    apiKeyOpsPerMinute: t.exposeInt('apiKeyOpsPerMinute', {
      description: 'Operations (root fields) each API key may run per minute; more fail with RATE_LIMITED.',
    }),
    clientTokenOpsPerMinute: t.exposeInt('clientTokenOpsPerMinute', {
      description: "Operations each recipient's client tokens may run per minute, together.",
    }),
    introspection: t.exposeBoolean('introspection', {
      description:
        "Whether this environment's API keys and client tokens may introspect the schema (__schema, __type). Off for new PRODUCTION environments.",
    }),
    previousClientTokenSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'After a rotation: tokens signed with the previous secret are accepted until then.',
    }),
  }),
});

export const MembershipRef = builder.prismaObject('Membership', {
  fields: (t) => ({
    id: t.exposeID('id'),
    role: t.expose('role', { type: RoleEnum }),
    user: t.relation('user', { type: UserRef }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ProjectRef = builder.prismaObject('Project', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    environments: t.relation('environments', { query: { orderBy: { kind: 'asc' } } }),
    members: t.relation('memberships', { query: { orderBy: { createdAt: 'asc' } } }),
    viewerRole: t.field({
      type: RoleEnum,
      nullable: true,
      description: "The logged-in user's role in this project.",
      resolve: async (project, _args, ctx) => {
        if (ctx.principal?.kind !== 'session') return null;
        const m = await ctx.prisma.membership.findUnique({
          where: { projectId_userId: { projectId: project.id, userId: ctx.principal.userId } },
          select: { role: true },
        });
        return m?.role ?? null;
      },
    }),
  }),
});

builder.queryField('projects', (t) =>
  t.prismaField({
    type: ['Project'],
    description: 'The projects the logged-in user is a member of.',
    authScopes: { session: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.principal?.kind === 'session'
        ? ctx.prisma.project.findMany({
            ...query,
            where: { memberships: { some: { userId: ctx.principal.userId } } },
            orderBy: { createdAt: 'asc' },
          })
        : [],
  }),
);

builder.queryField('project', (t) =>
  t.prismaField({
    type: 'Project',
    description: 'One project the logged-in user is a member of.',
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ project: { projectId: String(args.id), role: 'MEMBER' } }),
    resolve: (query, _root, args, ctx) => ctx.prisma.project.findUniqueOrThrow({ ...query, where: { id: String(args.id) } }),
  }),
);

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});

const createProjectSchema = z.object({ name: z.string().trim().min(1, 'Give the project a name.').max(100) });

builder.mutationField('createProject', (t) =>
  // t.field, not t.prismaField: with the errors plugin around a prismaField, a selection of only
  // __typename makes Prisma 7 throw on an empty `select` (see ENVIRONMENT-NOTES).
  t.field({
    type: ProjectRef,
    description: 'Creates a project with its DEVELOPMENT and PRODUCTION environments; the caller becomes its OWNER.',
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    authScopes: { session: true },
    errors: { types: [ValidationError], dataField: { name: 'project' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(createProjectSchema, args.input);
      if (ctx.principal?.kind !== 'session') throw new Error('unreachable: session scope');
      return ctx.prisma.project.create({
        data: {
          name: input.name,
          memberships: { create: { userId: ctx.principal.userId, role: 'OWNER' } },
          environments: {
            create: [
              { kind: 'DEVELOPMENT', clientTokenSecret: newSigningSecret() },
              { kind: 'PRODUCTION', clientTokenSecret: newSigningSecret(), introspection: false },
            ],
          },
        },
      });
    },
  }),
);

const UpdateEnvironmentInput = builder.inputType('UpdateEnvironmentInput', {
  fields: (t) => ({
    apiKeyOpsPerMinute: t.int(),
    clientTokenOpsPerMinute: t.int(),
    introspection: t.boolean(),
  }),
});

const opsPerMinute = z.number().int().min(1, 'Must be at least 1.').max(1_000_000, 'Must be at most 1,000,000.');
const updateEnvironmentSchema = z.object({
  apiKeyOpsPerMinute: opsPerMinute.nullish(),
  clientTokenOpsPerMinute: opsPerMinute.nullish(),
  introspection: z.boolean().nullish(),
});

builder.mutationField('updateEnvironment', (t) =>
  t.field({
    type: EnvironmentRef,
    description: "Changes an environment's settings (rate budgets, introspection). Fields left out keep their value.",
    args: { environmentId: t.arg.id({ required: true }), input: t.arg({ type: UpdateEnvironmentInput, required: true }) },
    authScopes: environmentScope('ADMIN', false),
    errors: { types: [ValidationError], dataField: { name: 'environment' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(updateEnvironmentSchema, args.input);
      const updated = await ctx.prisma.environment.update({
        where: { id: String(args.environmentId) },
        data: {
          ...(input.apiKeyOpsPerMinute != null ? { apiKeyOpsPerMinute: input.apiKeyOpsPerMinute } : {}),
          ...(input.clientTokenOpsPerMinute != null ? { clientTokenOpsPerMinute: input.clientTokenOpsPerMinute } : {}),
          ...(input.introspection != null ? { introspection: input.introspection } : {}),
        },
      });
      // This process's client-token cache holds the budget and the introspection setting: drop it so
      // the change applies here at once (other API processes pick it up within the cache's 10 s).
      ctx.clientTokens.invalidate(updated.id);
      ctx.apiKeys.forgetEnvironment(updated.id);
      return updated;
    },
  }),
);
