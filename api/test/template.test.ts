// Template management: sources are checked against the sandbox's allow-list when saved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, type Tenant, type TestApi } from './harness.ts';

let api: TestApi;
let tenant: Tenant;
beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
});
afterAll(async () => {
  await api?.close();
});

const CREATE = `mutation($e: ID, $input: CreateTemplateInput!) {
  createTemplate(environmentId: $e, input: $input) {
    __typename
    ... on CreateTemplateSuccess { template { id key title body actionUrl category environmentId } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

async function create(input: Record<string, unknown>, headers = bearer(tenant.apiKey), e?: string) {
  const { body } = await api.gql(CREATE, { input, e }, headers);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.createTemplate;
}

describe('createTemplate', () => {
  it('creates a template with an API key and with an ADMIN session', async () => {
    const byKey = await create({ key: 'digest', title: 'Your digest', body: '{{ count }} new items', category: 'digest' });
    expect(byKey.template).toMatchObject({ key: 'digest', title: 'Your digest', category: 'digest', environmentId: tenant.developmentId });
    const bySession = await create({ key: 'from-dashboard', title: 't', body: 'b' }, tenant.sessionHeaders, tenant.productionId);
    expect(bySession.template.environmentId).toBe(tenant.productionId);
  });

  it('refuses a duplicate key in the same environment but not in another', async () => {
    await create({ key: 'dup', title: 't', body: 'b' });
    expect(await create({ key: 'dup', title: 't', body: 'b' })).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    expect((await create({ key: 'dup', title: 't', body: 'b' }, bearer(tenant.productionApiKey))).__typename).toBe('CreateTemplateSuccess');
  });

  it.each([
    ['a syntax error, with its line', { key: 'broken', title: 'ok', body: 'line one\n{{ x | }}' }, 'input.body', /line 2/],
    [
      'a constructor lookup',
      { key: 'ssti-1', title: '{{ x.constructor.constructor("return process")() }}', body: 'b' },
      'input.title',
      /./,
    ],
    [
      'a call through a computed lookup',
      { key: 'ssti-2', title: 't', body: '{{ x["constr" ~ "uctor"]("return 1")() }}' },
      'input.body',
      /calling functions/,
    ],
    ['a global function call', { key: 'ssti-3', title: '{{ range(0, 1000000000) }}', body: 'b' }, 'input.title', /./],
    ['an include', { key: 'ssti-4', title: 't', body: '{% include "/etc/passwd" %}' }, 'input.body', /./],
    ['a bad key', { key: 'Bad Key', title: 't', body: 'b' }, 'input.key', /./],
    ['an empty title', { key: 'empty', title: '', body: 'b' }, 'input.title', /./],
  ])('refuses %s with a ValidationError', async (_label, input, path, message) => {
    const result = await create(input);
    expect(result.__typename).toBe('ValidationError');
    const issue = result.issues.find((i: { path: string }) => i.path === path);
    expect(issue, JSON.stringify(result.issues)).toBeDefined();
    expect(issue.message).toMatch(message);
    expect(await api.db.prisma.template.count({ where: { key: input.key as string } })).toBe(0);
  });
});

describe('updateTemplate and deleteTemplate', () => {
  it('updates only the given fields, re-checking the sources', async () => {
    const { template } = await create({ key: 'editable', title: 'Old', body: 'Body', actionUrl: '/a' });
    const update = async (input: Record<string, unknown>) =>
      (
        await api.gql(
          `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { __typename ... on UpdateTemplateSuccess { template { title body actionUrl } } ... on Error { code } } }`,
          { id: template.id, input },
          bearer(tenant.apiKey),
        )
      ).body.data.updateTemplate;
    expect(await update({ title: 'New' })).toMatchObject({ template: { title: 'New', body: 'Body', actionUrl: '/a' } });
    expect(await update({ actionUrl: null })).toMatchObject({ template: { actionUrl: null } });
    expect(await update({ body: '{{ x.__proto__ }}' })).toMatchObject({ __typename: 'ValidationError' });
    expect((await api.db.prisma.template.findUniqueOrThrow({ where: { id: template.id } })).bodySource).toBe('Body');
  });

  it("answers NOT_FOUND for another environment's template and deletes its own", async () => {
    const { template } = await create({ key: 'deletable', title: 't', body: 'b' });
    const del = async (key: string, id: string) =>
      (await api.gql(`mutation($id: ID!) { deleteTemplate(id: $id) { __typename ... on Error { code } } }`, { id }, bearer(key))).body.data
        .deleteTemplate;
    expect(await del(tenant.productionApiKey, template.id)).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await del(tenant.apiKey, 'not-a-uuid')).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await del(tenant.apiKey, template.id)).toEqual({ __typename: 'DeletedTemplate' });
    expect(await api.db.prisma.template.count({ where: { id: template.id } })).toBe(0);
  });
});
