// The API fields the dashboard adds: template previews through the worker's sandbox, test sends from
// a session, recipient search and erasure (a data-deletion request).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, startTestWorker, type Tenant, type TestApi } from './harness.ts';

let api: TestApi;
let tenant: Tenant;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  // Webhook endpoints here point at loopback (never contacted: nothing listens on port 9).
  api = await createTestApi({ WEBHOOK_ALLOW_LIST: '127.0.0.0/8' });
  tenant = await createTenant(api);
  worker = await startTestWorker(api);
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

const PREVIEW = `mutation($e: ID, $input: PreviewTemplateInput!) {
  previewTemplate(environmentId: $e, input: $input) {
    __typename
    ... on TemplatePreview { title body actionUrl }
    ... on TemplateRenderError { code message field kind line column }
    ... on ValidationError { issues { path message } }
  }
}`;

async function preview(input: Record<string, unknown>, headers = tenant.sessionHeaders) {
  const r = await api.gql(PREVIEW, { e: tenant.developmentId, input }, headers);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.previewTemplate;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('previewTemplate', () => {
  it('renders with sample data and a sample recipient exactly as the worker would (escaped text)', async () => {
    const result = await preview({
      title: 'Hi {{ recipient.name }}: {{ count }} new',
      body: '<p>{{ author }} said {{ text }}</p>',
      actionUrl: '/threads/{{ thread }}',
      data: { count: 3, author: 'Tom & Jerry', text: '<script>x</script>', thread: 'abc' },
      recipient: { id: 'user-1', name: 'Ada' },
    });
    expect(result).toEqual({
      __typename: 'TemplatePreview',
      title: 'Hi Ada: 3 new',
      body: '<p>Tom &amp; Jerry said &lt;script&gt;x&lt;/script&gt;</p>',
      actionUrl: '/threads/abc',
    });
  });

  it('fills a profile field the recipient does not have with default() (the seeded welcome template)', async () => {
    const nameless = await preview({ title: 'Welcome, {{ recipient.name | default("friend") }}!', body: 'x', recipient: { id: 'u-1' } });
    expect(nameless).toMatchObject({ __typename: 'TemplatePreview', title: 'Welcome, friend!' });
    const named = await preview({
      title: 'Welcome, {{ recipient.name | default("friend") }}!',
      body: 'x',
      recipient: { id: 'u-1', name: 'Ada' },
    });
    expect(named.title).toBe('Welcome, Ada!');
  });

  it('renders what a real send renders', async () => {
    const sources = { title: 'Order {{ order.id }}', body: 'Total: {{ order.total | round(2) }} {{ currency | upper }}' };
    const data = { order: { id: 'A-17', total: 12.3456 }, currency: 'eur' };
    const shown = await preview({ ...sources, data, recipient: { id: 'buyer-1' } });
    const key = `order-${randomUUID().slice(0, 8)}`;
    await api.gql(
      'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename } }',
      { input: { key, ...sources } },
      bearer(tenant.apiKey),
    );
    const sent = await api.gql(
      'mutation($input: SendInput!) { send(input: $input) { ... on SendSuccess { notification { id } } } }',
      { input: { to: 'buyer-1', template: key, data } },
      bearer(tenant.apiKey),
    );
    const id = sent.body.data.send.notification.id;
    const rendered: { title?: string; body?: string } = {};
    await until('rendered', async () => {
      const n = await api.gql('query($id: ID!) { notification(id: $id) { status title body } }', { id }, bearer(tenant.apiKey));
      if (n.body.data.notification.status !== 'DELIVERED') return false;
      Object.assign(rendered, { title: n.body.data.notification.title, body: n.body.data.notification.body });
      return true;
    });
    expect({ title: shown.title, body: shown.body }).toEqual(rendered);
  });

  it('reports render errors with field, kind, line and column', async () => {
    const syntax = await preview({ title: 'ok', body: 'line one\nline two {% if %}' });
    expect(syntax).toMatchObject({
      __typename: 'TemplateRenderError',
      code: 'TEMPLATE_RENDER_ERROR',
      field: 'body',
      kind: 'syntax',
      line: 2,
      column: 16,
    });

    const missing = await preview({ title: 'Hi {{ nobody.name }}', body: 'x', data: {} });
    expect(missing).toMatchObject({ __typename: 'TemplateRenderError', field: 'title', kind: 'undefined', line: 1 });

    const forbidden = await preview({ title: 'ok', body: '{{ range.constructor("return process")() }}' });
    expect(forbidden).toMatchObject({ __typename: 'TemplateRenderError', field: 'body', kind: 'forbidden', line: 1 });

    const xs = Array.from({ length: 200 }, (_, i) => i);
    const loop = await preview({ title: 'ok', body: '{% for a in xs %}{% for b in xs %}.{% endfor %}{% endfor %}', data: { xs } });
    expect(loop).toMatchObject({ __typename: 'TemplateRenderError', field: 'body', kind: 'loop-limit' });

    const url = await preview({ title: 'ok', body: 'x', actionUrl: 'javascript:alert(1)' });
    expect(url).toMatchObject({ __typename: 'TemplateRenderError', field: 'actionUrl', kind: 'invalid-url' });
  });

  it('refuses non-object sample data and empty titles with field issues', async () => {
    const array = await preview({ title: 'x', body: 'y', data: [1, 2] });
    expect(array.__typename).toBe('ValidationError');
    expect(array.issues[0].path).toBe('input.data');
    const empty = await preview({ title: '', body: 'y' });
    expect(empty.issues[0].path).toBe('input.title');
  });

  it('is open to members and the environment API key, and saves nothing', async () => {
    const before = await api.db.prisma.template.count({ where: { environmentId: tenant.developmentId } });
    const withKey = await api.gql(PREVIEW, { input: { title: 'a', body: 'b' } }, bearer(tenant.apiKey));
    expect(withKey.body.data.previewTemplate).toMatchObject({ __typename: 'TemplatePreview', title: 'a' });
    expect(await api.db.prisma.template.count({ where: { environmentId: tenant.developmentId } })).toBe(before);
  });
});

describe('sendTestNotification', () => {
  it('sends from a session as the environment would, idempotently, into the inbox', async () => {
    const SEND = `mutation($e: ID!, $input: SendInput!) { sendTestNotification(environmentId: $e, input: $input) {
      __typename ... on SendSuccess { duplicate notification { id status recipient { externalId } } }
      ... on TemplateNotFoundError { key } ... on Error { code message } } }`;
    const input = { to: 'tester', title: 'Test', body: 'From the dashboard', idempotencyKey: `t-${randomUUID()}` };
    const first = await api.gql(SEND, { e: tenant.developmentId, input }, tenant.sessionHeaders);
    const result = first.body.data.sendTestNotification;
    expect(result).toMatchObject({
      __typename: 'SendSuccess',
      duplicate: false,
      notification: { status: 'ACCEPTED', recipient: { externalId: 'tester' } },
    });
    const again = await api.gql(SEND, { e: tenant.developmentId, input }, tenant.sessionHeaders);
    expect(again.body.data.sendTestNotification).toMatchObject({ duplicate: true, notification: { id: result.notification.id } });
    await until('delivered', async () => {
      const n = await api.gql(
        'query($e: ID, $id: ID!) { notification(environmentId: $e, id: $id) { status } }',
        {
          e: tenant.developmentId,
          id: result.notification.id,
        },
        tenant.sessionHeaders,
      );
      return n.body.data.notification.status === 'DELIVERED';
    });
    const missing = await api.gql(SEND, { e: tenant.developmentId, input: { to: 'tester', template: 'nope' } }, tenant.sessionHeaders);
    expect(missing.body.data.sendTestNotification).toMatchObject({ __typename: 'TemplateNotFoundError', key: 'nope' });
  });
});

describe('recipients', () => {
  const SEND = 'mutation($input: SendInput!) { send(input: $input) { ... on SendSuccess { notification { id } } } }';

  it('are searched by external id, name or email', async () => {
    const tag = randomUUID().slice(0, 8);
    for (const [to, name, email] of [
      [`alpha-${tag}`, 'Alpha Person', null],
      [`beta-${tag}`, 'Someone', `ALPHA-${tag}@example.com`],
      [`gamma-${tag}`, 'Gamma', null],
    ] as const) {
      await api.gql(SEND, { input: { to, recipient: { name, email }, title: 't', body: 'b' } }, bearer(tenant.apiKey));
    }
    const r = await api.gql(
      'query($s: String) { recipients(search: $s, first: 10) { edges { node { externalId } } } }',
      { s: `alpha-${tag}` },
      bearer(tenant.apiKey),
    );
    const ids = r.body.data.recipients.edges.map((e: { node: { externalId: string } }) => e.node.externalId).sort();
    expect(ids).toEqual([`alpha-${tag}`, `beta-${tag}`]);
  });

  it('are erased with their notifications, inbox events and webhook payloads, and nothing of anyone else', async () => {
    const endpoint = await api.gql(
      'mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:9/hooks", eventTypes: ["notification.accepted"] }) { __typename } }',
      {},
      bearer(tenant.apiKey),
    );
    expect(endpoint.body.data.createWebhookEndpoint.__typename).toBe('CreatedWebhookEndpoint');
    const victim = `erase-${randomUUID()}`;
    const bystander = `keep-${randomUUID()}`;
    for (const to of [victim, victim, bystander]) {
      await api.gql(SEND, { input: { to, title: 'Private', body: 'secret stuff' } }, bearer(tenant.apiKey));
    }
    const recipientId = (await api.db.prisma.recipient.findFirstOrThrow({ where: { externalId: victim } })).id;
    await until('delivered (inbox events written)', async () => (await api.db.prisma.inboxEvent.count({ where: { recipientId } })) === 2);
    expect(await api.db.prisma.webhookDelivery.count({ where: { notification: { recipientId } } })).toBe(2);

    const DELETE = `mutation($e: ID, $x: String!) { deleteRecipient(environmentId: $e, externalId: $x) {
      __typename ... on DeletedRecipient { externalId notificationsDeleted } ... on Error { code message } } }`;
    const r = await api.gql(DELETE, { e: tenant.developmentId, x: victim }, tenant.sessionHeaders);
    expect(r.body.data.deleteRecipient).toEqual({ __typename: 'DeletedRecipient', externalId: victim, notificationsDeleted: 2 });

    const db = api.db.prisma;
    expect(await db.recipient.count({ where: { id: recipientId } })).toBe(0);
    expect(await db.notification.count({ where: { recipientId } })).toBe(0);
    expect(await db.inboxEvent.count({ where: { recipientId } })).toBe(0);
    const leftovers = await db.webhookDelivery.findMany({ where: { environmentId: tenant.developmentId }, select: { payload: true } });
    expect(JSON.stringify(leftovers)).not.toContain(victim);
    expect(JSON.stringify(leftovers)).toContain(bystander);
    expect(await db.notification.count({ where: { recipient: { externalId: bystander } } })).toBe(1);

    const again = await api.gql(DELETE, { e: tenant.developmentId, x: victim }, tenant.sessionHeaders);
    expect(again.body.data.deleteRecipient).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
  });
});
