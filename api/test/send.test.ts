import { renderJob } from '@pigeon/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, type Tenant, type TestApi } from './harness.ts';

const SEND = `mutation Send($input: SendInput!) {
  send(input: $input) {
    __typename
    ... on SendSuccess { duplicate notification { id status title body category actionUrl data recipient { externalId name email } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on IdempotencyConflictError { idempotencyKey notificationId }
    ... on TemplateNotFoundError { key }
  }
}`;

let api: TestApi;
let tenant: Tenant;

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
});
afterAll(async () => {
  await api?.close();
});

async function send(input: Record<string, unknown>, key = tenant.apiKey) {
  const { body } = await api.gql(SEND, { input }, bearer(key));
  expect(body.errors).toBeUndefined();
  return body.data.send;
}

describe('send', () => {
  it('persists an inline notification, upserts the recipient and enqueues one job', async () => {
    const result = await send({
      to: 'user-1',
      recipient: { name: 'Ada', email: 'ada@example.com' },
      title: 'Hello',
      body: 'World',
      category: 'greeting',
      actionUrl: 'https://example.com/x',
      data: { n: 1 },
    });
    expect(result).toMatchObject({
      __typename: 'SendSuccess',
      duplicate: false,
      notification: {
        status: 'ACCEPTED',
        title: 'Hello',
        body: 'World',
        category: 'greeting',
        actionUrl: 'https://example.com/x',
        data: { n: 1 },
        recipient: { externalId: 'user-1', name: 'Ada', email: 'ada@example.com' },
      },
    });
    const job = await api.renderQueue.getJob(renderJob.jobId(result.notification.id));
    expect(job?.data).toEqual({ notificationId: result.notification.id, environmentId: tenant.developmentId });
  });

  it('keeps stored profile fields that a later send leaves out', async () => {
    await send({ to: 'user-2', recipient: { name: 'Grace', email: 'grace@example.com' }, title: 'a', body: 'b' });
    const second = await send({ to: 'user-2', recipient: { name: 'Grace H.' }, title: 'c', body: 'd' });
    expect(second.notification.recipient).toEqual({ externalId: 'user-2', name: 'Grace H.', email: 'grace@example.com' });
    const count = await api.db.prisma.recipient.count({ where: { environmentId: tenant.developmentId, externalId: 'user-2' } });
    expect(count).toBe(1);
  });

  it.each([
    ['input.to', { to: '', title: 't', body: 'b' }],
    ['input.title', { to: 'u', body: 'b' }],
    ['input.body', { to: 'u', title: 't' }],
    ['input.title', { to: 'u', template: 'welcome', title: 't' }],
    ['input.actionUrl', { to: 'u', title: 't', body: 'b', actionUrl: 'javascript:alert(1)' }],
    ['input.actionUrl', { to: 'u', title: 't', body: 'b', actionUrl: '//evil.example' }],
    ['input.data', { to: 'u', title: 't', body: 'b', data: [1, 2] }],
    ['input.data', { to: 'u', title: 't', body: 'b', data: { big: 'x'.repeat(40_000) } }],
    ['input.recipient.email', { to: 'u', title: 't', body: 'b', recipient: { email: 'not-an-email' } }],
    ['input.to', { to: 'u\u0007x', title: 't', body: 'b' }],
    ['input.idempotencyKey', { to: 'u', title: 't', body: 'b', idempotencyKey: '' }],
    ['input.template', { to: 'u', template: 'Not A Key!' }],
  ])('rejects bad input with a ValidationError on %s and stores nothing (case %#)', async (path, input) => {
    const before = await api.db.prisma.notification.count();
    const result = await send(input);
    expect(result.__typename).toBe('ValidationError');
    expect(result.code).toBe('VALIDATION');
    expect(result.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect(await api.db.prisma.notification.count()).toBe(before);
  });

  it('answers an unknown template with TemplateNotFoundError', async () => {
    const result = await send({ to: 'u', template: 'does-not-exist' });
    expect(result).toMatchObject({ __typename: 'TemplateNotFoundError', code: 'TEMPLATE_NOT_FOUND', key: 'does-not-exist' });
  });

  it('rejects a request without credentials, with an unknown key and with a revoked key', async () => {
    const input = { to: 'u', title: 't', body: 'b' };
    const none = await api.gql(SEND, { input });
    expect(none.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const unknown = await api.gql(SEND, { input }, bearer('sk_dev_doesnotexist'));
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const garbage = await api.gql(SEND, { input }, { authorization: 'Basic abc' });
    expect(garbage.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const created = await api.gql(
      `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "short-lived" }) { ... on CreatedApiKey { secret apiKey { id } } } }`,
      { e: tenant.developmentId },
      tenant.sessionHeaders,
    );
    const { secret, apiKey } = created.body.data.createApiKey;
    expect((await send(input, secret)).__typename).toBe('SendSuccess');
    const revoked = await api.gql(
      `mutation($e: ID!, $id: ID!) { revokeApiKey(environmentId: $e, id: $id) { __typename ... on RevokeApiKeySuccess { apiKey { revokedAt } } } }`,
      { e: tenant.developmentId, id: apiKey.id },
      tenant.sessionHeaders,
    );
    expect(revoked.body.data.revokeApiKey.apiKey.revokedAt).toBeTruthy();
    const after = await api.gql(SEND, { input }, bearer(secret));
    expect(after.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(after.body.data?.send ?? null).toBeNull();
  });
});

describe('idempotency', () => {
  it('returns the original notification for a repeated key and enqueues once', async () => {
    const input = { to: 'idem-1', title: 'Once', body: 'only', idempotencyKey: 'order-1001' };
    const first = await send(input);
    const second = await send({ ...input });
    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ __typename: 'SendSuccess', duplicate: true, notification: { id: first.notification.id } });
    expect(await api.db.prisma.notification.count({ where: { idempotencyKey: 'order-1001' } })).toBe(1);
  });

  it('treats the same key with a different payload as a conflict', async () => {
    const first = await send({ to: 'idem-2', title: 'A', body: 'a', idempotencyKey: 'order-1002' });
    const conflict = await send({ to: 'idem-2', title: 'B', body: 'a', idempotencyKey: 'order-1002' });
    expect(conflict).toMatchObject({
      __typename: 'IdempotencyConflictError',
      code: 'IDEMPOTENCY_CONFLICT',
      idempotencyKey: 'order-1002',
      notificationId: first.notification.id,
    });
  });

  it('lets exactly one of 50 concurrent sends with one key create a row and a job', async () => {
    const input = { to: 'race', recipient: { name: 'Racer' }, title: 'Race', body: 'once', idempotencyKey: 'race-key' };
    const results = await Promise.all(Array.from({ length: 50 }, () => send(input)));
    expect(results.every((r) => r.__typename === 'SendSuccess')).toBe(true);
    const ids = new Set(results.map((r) => r.notification.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    const rows = await api.db.prisma.notification.findMany({ where: { idempotencyKey: 'race-key' } });
    expect(rows).toHaveLength(1);
    const jobs = await api.renderQueue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
    expect(jobs.filter((j) => j.data.notificationId === rows[0]?.id)).toHaveLength(1);
  });

  it('scopes keys to the environment: the same key in production is a separate send', async () => {
    const input = { to: 'idem-3', title: 'A', body: 'a', idempotencyKey: 'shared-key' };
    const dev = await send(input);
    const prod = await send(input, tenant.productionApiKey);
    expect(dev.duplicate).toBe(false);
    expect(prod.duplicate).toBe(false);
    expect(prod.notification.id).not.toBe(dev.notification.id);
  });
});

describe('tenancy', () => {
  it("never shows one environment's notifications to another environment's key", async () => {
    const other = await createTenant(api);
    const mine = await send({ to: 'shared-user', title: 'mine', body: 'x' });
    const theirs = await send({ to: 'shared-user', title: 'theirs', body: 'y' }, other.apiKey);
    const prod = await send({ to: 'shared-user', title: 'prod', body: 'z' }, tenant.productionApiKey);

    const read = async (key: string, id: string) =>
      (await api.gql(`query($id: ID!) { notification(id: $id) { id title } }`, { id }, bearer(key))).body.data.notification;
    expect(await read(tenant.apiKey, mine.notification.id)).toMatchObject({ title: 'mine' });
    expect(await read(tenant.apiKey, theirs.notification.id)).toBeNull();
    expect(await read(tenant.apiKey, prod.notification.id)).toBeNull();
    expect(await read(other.apiKey, mine.notification.id)).toBeNull();

    const list = async (key: string) =>
      (
        await api.gql(`{ notifications(first: 100) { edges { node { id environmentId } } } }`, {}, bearer(key))
      ).body.data.notifications.edges.map((e: { node: { id: string; environmentId: string } }) => e.node);
    const otherList = await list(other.apiKey);
    expect(otherList.map((n: { id: string }) => n.id)).toEqual([theirs.notification.id]);
    expect((await list(tenant.apiKey)).every((n: { environmentId: string }) => n.environmentId === tenant.developmentId)).toBe(true);

    // An API key may not name another environment, even one of its own project.
    const crossEnv = await api.gql(
      `query($e: ID) { notifications(environmentId: $e, first: 5) { edges { node { id } } } }`,
      { e: tenant.productionId },
      bearer(tenant.apiKey),
    );
    expect(crossEnv.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // The same external id is a different recipient per environment.
    const recipients = await api.db.prisma.recipient.findMany({ where: { externalId: 'shared-user' } });
    expect(new Set(recipients.map((r) => r.environmentId)).size).toBe(3);
  });

  it('pages notifications newest first without skipping or repeating', async () => {
    const fresh = await createTenant(api);
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push((await send({ to: 'pager', title: `n${i}`, body: 'b' }, fresh.apiKey)).notification.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (
        await api.gql(
          `query($after: String) { notifications(first: 3, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
          { after },
          bearer(fresh.apiKey),
        )
      ).body.data.notifications;
      seen.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...sent].reverse());
  });
});

describe('send when Redis is unavailable', () => {
  it('still answers fast with the committed notification, leaving it to the reconciler', async () => {
    const { createApp } = await import('../src/app.ts');
    const { createLogger, createRenderQueue } = await import('@pigeon/worker');
    const { Redis } = await import('ioredis');
    // A queue whose Redis never answers (nothing listens on port 1): the enqueue can only wait.
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    dead.on('error', () => {});
    const deadQueue = createRenderQueue(dead, { prefix: api.env.REDIS_PREFIX });
    const app = createApp({
      db: api.db,
      redis: api.redis,
      renderQueue: deadQueue,
      env: api.env,
      log: createLogger('silent'),
      inbox: api.inbox,
    });
    const response = await app.yoga.fetch('http://pigeon.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(tenant.apiKey) },
      body: JSON.stringify({ query: SEND, variables: { input: { to: 'offline', title: 'queued later', body: 'x' } } }),
    });
    const body = (await response.json()) as any;
    expect(body.data.send).toMatchObject({ __typename: 'SendSuccess', duplicate: false, notification: { status: 'ACCEPTED' } });
    const row = await api.db.prisma.notification.findUniqueOrThrow({ where: { id: body.data.send.notification.id } });
    expect(row.status).toBe('ACCEPTED');
    dead.disconnect();
  }, 5_000);
});

describe('content', () => {
  it('stores inline title and body as templates render them: HTML with the text escaped', async () => {
    const result = await send({ to: 'escaper', title: 'Tom & Jerry <3', body: '<script>alert(1)</script>' });
    expect(result.notification).toMatchObject({ title: 'Tom &amp; Jerry &lt;3', body: '&lt;script&gt;alert(1)&lt;/script&gt;' });
  });

  it('answers a retried send whose template was deleted since with the original notification', async () => {
    await api.gql(
      `mutation { createTemplate(input: { key: "soon-gone", title: "t", body: "b" }) { __typename } }`,
      {},
      bearer(tenant.apiKey),
    );
    const input = { to: 'retrier', template: 'soon-gone', idempotencyKey: 'retry-after-delete' };
    const first = await send(input);
    const template = await api.db.prisma.template.findFirstOrThrow({ where: { key: 'soon-gone', environmentId: tenant.developmentId } });
    await api.db.prisma.template.delete({ where: { id: template.id } });
    expect(await send(input)).toMatchObject({ __typename: 'SendSuccess', duplicate: true, notification: { id: first.notification.id } });
    expect(await send({ ...input, idempotencyKey: 'a-new-key' })).toMatchObject({ __typename: 'TemplateNotFoundError' });
  });
});
