// Templates: Nunjucks sources for title, body and action URL, unique by key per environment.
// Sources are parsed and checked against the sandbox's allow-list when saved, so a template that
// could never render is refused up front with its line and column.
import type { Prisma } from '@pigeon/schema';
import { checkTemplate, type TemplateSources } from '@pigeon/worker/render/sandbox';
import { templateContext } from '@pigeon/worker/render-notification';
import { z } from 'zod';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { ENVIRONMENT_ID_DESCRIPTION, environmentIdFor, environmentScope } from '../environment-id.ts';
import { assertUuid, ConflictError, NotFoundError, TemplateRenderError, ValidationError } from '../errors.ts';
import { isUniqueViolation } from '../unique-violation.ts';
import { validate } from '../validation.ts';

export const TemplateRef = builder.prismaObject('Template', {
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.exposeID('environmentId'),
    key: t.exposeString('key'),
    name: t.exposeString('name', { nullable: true }),
    category: t.exposeString('category', { nullable: true }),
    title: t.exposeString('titleSource', { description: 'Nunjucks source of the title.' }),
    body: t.exposeString('bodySource', { description: 'Nunjucks source of the body.' }),
    actionUrl: t.exposeString('actionUrlSource', { nullable: true, description: 'Nunjucks source of the action URL.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const templateKey = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'Use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit.');

const category = z.string().trim().min(1).max(64);

const templateFields = {
  name: z.string().trim().min(1).max(200).nullish(),
  category: category.nullish(),
  title: z.string().min(1, 'A template needs a title.').max(2_000),
  body: z.string().max(20_000),
  actionUrl: z.string().max(2_000).nullish(),
};
const createSchema = z.object({ key: templateKey, ...templateFields });
const updateSchema = z.object({
  key: templateKey.optional(),
  name: templateFields.name,
  category: templateFields.category,
  title: templateFields.title.optional(),
  body: templateFields.body.optional(),
  actionUrl: templateFields.actionUrl,
});

const CreateTemplateInput = builder.inputType('CreateTemplateInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Unique per environment; what `send(template:)` names.' }),
    name: t.string(),
    category: t.string(),
    title: t.string({ required: true }),
    body: t.string({ required: true }),
    actionUrl: t.string(),
  }),
});

const UpdateTemplateInput = builder.inputType('UpdateTemplateInput', {
  description: 'Fields left out stay as they are; null clears an optional field.',
  fields: (t) => ({
    key: t.string(),
    name: t.string(),
    category: t.string(),
    title: t.string(),
    body: t.string(),
    actionUrl: t.string(),
  }),
});

function checkSources(sources: TemplateSources): void {
  const problem = checkTemplate(sources);
  if (!problem) return;
  const where = problem.line ? ` (line ${problem.line}${problem.column ? `, column ${problem.column}` : ''})` : '';
  throw new ValidationError([{ path: `input.${problem.field}`, message: `${problem.message}${where}` }]);
}

async function findTemplate(ctx: Context, environmentId: string, id: string) {
  const template = await ctx.prisma.template.findFirst({ where: { id: assertUuid('Template', id), environmentId } });
  if (!template) throw new NotFoundError('Template', id);
  return template;
}

builder.queryField('templates', (t) =>
  t.prismaField({
    type: ['Template'],
    args: { environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }) },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.template.findMany({
        ...query,
        where: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()) },
        orderBy: { key: 'asc' },
      }),
  }),
);

builder.queryField('template', (t) =>
  t.prismaField({
    type: 'Template',
    nullable: true,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      key: t.arg.string({ required: true }),
    },
    authScopes: environmentScope('MEMBER', true),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.template.findUnique({
        ...query,
        where: { environmentId_key: { environmentId: environmentIdFor(ctx, args.environmentId?.toString()), key: args.key } },
      }),
  }),
);

builder.mutationField('createTemplate', (t) =>
  t.field({
    type: TemplateRef,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      input: t.arg({ type: CreateTemplateInput, required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, ConflictError], dataField: { name: 'template' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(createSchema, args.input);
      checkSources({ title: input.title, body: input.body, actionUrl: input.actionUrl ?? null });
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      try {
        return await ctx.prisma.template.create({
          data: {
            environmentId,
            key: input.key,
            name: input.name ?? null,
            category: input.category ?? null,
            titleSource: input.title,
            bodySource: input.body,
            actionUrlSource: input.actionUrl ?? null,
          },
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError(`A template with key "${input.key}" already exists in this environment.`);
        throw error;
      }
    },
  }),
);

builder.mutationField('updateTemplate', (t) =>
  t.field({
    type: TemplateRef,
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateTemplateInput, required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [ValidationError, NotFoundError, ConflictError], dataField: { name: 'template' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(updateSchema, args.input);
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const current = await findTemplate(ctx, environmentId, String(args.id));
      const next = {
        title: input.title ?? current.titleSource,
        body: input.body ?? current.bodySource,
        actionUrl: input.actionUrl === undefined ? current.actionUrlSource : input.actionUrl,
      };
      checkSources(next);
      const data: Prisma.TemplateUpdateInput = {
        titleSource: next.title,
        bodySource: next.body,
        actionUrlSource: next.actionUrl,
      };
      if (input.key !== undefined) data.key = input.key;
      if (input.name !== undefined) data.name = input.name;
      if (input.category !== undefined) data.category = input.category;
      try {
        return await ctx.prisma.template.update({ where: { id: current.id }, data });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError(`A template with key "${input.key}" already exists in this environment.`);
        throw error;
      }
    },
  }),
);

const DeletedTemplateRef = builder.objectRef<{ id: string }>('DeletedTemplate').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationField('deleteTemplate', (t) =>
  t.field({
    type: DeletedTemplateRef,
    description:
      'Deletes a template. Notifications already sent keep their content; ACCEPTED ones still waiting to render fail with a reason.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      id: t.arg.id({ required: true }),
    },
    authScopes: environmentScope('ADMIN', true),
    errors: { types: [NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const environmentId = environmentIdFor(ctx, args.environmentId?.toString());
      const id = assertUuid('Template', String(args.id));
      const { count } = await ctx.prisma.template.deleteMany({ where: { id, environmentId } });
      if (count === 0) throw new NotFoundError('Template', id);
      return { id };
    },
  }),
);

// ---- preview ----

interface Preview {
  title: string;
  body: string;
  actionUrl: string | null;
}

const TemplatePreviewRef = builder.objectRef<Preview>('TemplatePreview').implement({
  description: 'What the worker would render: `title` and `body` are HTML with escaped text, as on notifications.',
  fields: (t) => ({
    title: t.exposeString('title'),
    body: t.exposeString('body'),
    actionUrl: t.exposeString('actionUrl', { nullable: true }),
  }),
});

const PreviewRecipientInput = builder.inputType('PreviewRecipientInput', {
  description: 'The sample recipient templates see as `recipient` (id is the external id).',
  fields: (t) => ({
    id: t.string(),
    name: t.string(),
    email: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

const PreviewTemplateInput = builder.inputType('PreviewTemplateInput', {
  fields: (t) => ({
    title: t.string({ required: true }),
    body: t.string({ required: true }),
    actionUrl: t.string(),
    data: t.field({ type: 'JSON', description: 'Sample data: a JSON object, as `send(data:)` would pass.' }),
    recipient: t.field({ type: PreviewRecipientInput }),
  }),
});

const previewSchema = z.object({
  title: templateFields.title,
  body: templateFields.body,
  actionUrl: templateFields.actionUrl,
  data: z
    .unknown()
    .refine((d) => d == null || (typeof d === 'object' && !Array.isArray(d)), 'Sample data must be a JSON object.')
    .nullish(),
  recipient: z
    .object({
      id: z.string().max(256).nullish(),
      name: z.string().max(200).nullish(),
      email: z.string().max(254).nullish(),
      metadata: z.unknown().nullish(),
    })
    .nullish(),
});

builder.mutationField('previewTemplate', (t) =>
  t.field({
    type: TemplatePreviewRef,
    description:
      'Renders template sources with sample data in the same sandbox and with the same limits as the worker, without saving anything. A mutation because it runs code-like templates; it changes nothing.',
    args: {
      environmentId: t.arg.id({ description: ENVIRONMENT_ID_DESCRIPTION }),
      input: t.arg({ type: PreviewTemplateInput, required: true }),
    },
    authScopes: environmentScope('MEMBER', true),
    errors: { types: [ValidationError, TemplateRenderError], directResult: true, union: { name: 'PreviewTemplateResult' } },
    resolve: async (_root, args, ctx) => {
      const input = validate(previewSchema, args.input);
      const sources = { title: input.title, body: input.body, actionUrl: input.actionUrl ?? null };
      const problem = checkTemplate(sources);
      const outcome = problem
        ? ({ ok: false, error: problem } as const)
        : await ctx.templatePreview.render(
            sources,
            templateContext(input.data ?? null, {
              externalId: input.recipient?.id ?? 'preview-recipient',
              name: input.recipient?.name ?? null,
              email: input.recipient?.email ?? null,
              metadata: input.recipient?.metadata ?? null,
            }),
          );
      if (outcome.ok) return outcome.content;
      throw new TemplateRenderError(outcome.error);
    },
  }),
);
