// send → render worker → DELIVERED with an inbox event, through the real BullMQ worker, and the
// reconciler closing the crash window between commit and enqueue.
import { createLogger, inboxChannel, renderJob, startWorkerRuntime, type WorkerRuntime, webhookSettings } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, type Tenant, type TestApi } from './harness.ts';

let api: TestApi;
let tenant: Tenant;
let worker: WorkerRuntime | null = null;

async function startWorker(reconcileAfterMs = 60_000) {
  worker = await startWorkerRuntime({
    db: api.db,
    redisUrl: api.env.REDIS_URL,
    redisPrefix: api.env.REDIS_PREFIX,
    concurrency: 4,
    reconcileAfterMs,
    reconcileIntervalMs: 100,
    renderThreads: 1,
    renderTimeoutMs: 500,
    inboxRetentionHours: 72,
    inboxPruneIntervalMs: 60_000,
    webhookConcurrency: 4,
    webhooks: webhookSettings(api.env),
    webhookRetentionHours: 720,
    webhookPruneIntervalMs: 600_000,
    log: createLogger('silent'),
  });
}

async function stopWorker() {
  await worker?.stop();
  worker = null;
}

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
});
afterAll(async () => {
  await stopWorker();
  await api?.close();
});

async function send(input: Record<string, unknown>) {
  const { body } = await api.gql(
    `mutation($input: SendInput!) { send(input: $input) { __typename ... on SendSuccess { notification { id } } ... on Error { code message } } }`,
    { input },
    bearer(tenant.apiKey),
  );
  expect(body.data?.send?.__typename, JSON.stringify(body)).toBe('SendSuccess');
  return body.data.send.notification.id as string;
}

async function settled(id: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await api.db.prisma.notification.findUniqueOrThrow({ where: { id } });
    if (n.status !== 'ACCEPTED') return n;
    if (Date.now() > deadline) throw new Error(`notification ${id} still ACCEPTED after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function createTemplate(key: string, title: string, body: string, actionUrl?: string) {
  const { body: res } = await api.gql(
    `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Error { message } } }`,
    { input: { key, title, body, actionUrl } },
    bearer(tenant.apiKey),
  );
  expect(res.data.createTemplate.__typename, JSON.stringify(res)).toBe('CreateTemplateSuccess');
}

describe('render worker', () => {
  beforeAll(() => startWorker());
  afterAll(() => stopWorker());

  it('delivers an inline notification, appends inbox event 1 and publishes a wake-up', async () => {
    const subscriber = new Redis(api.env.REDIS_URL);
    const recipientExternalId = 'round-trip';
    const messages: string[] = [];
    const id = await send({ to: recipientExternalId, title: 'Hi', body: 'there' });
    const recipient = await api.db.prisma.recipient.findFirstOrThrow({ where: { externalId: recipientExternalId } });
    await subscriber.subscribe(inboxChannel(api.env.REDIS_PREFIX, tenant.developmentId, recipient.id));
    subscriber.on('message', (_c, m) => messages.push(m));

    const n = await settled(id);
    expect(n).toMatchObject({ status: 'DELIVERED', title: 'Hi', body: 'there', failureReason: null });
    expect(n.deliveredAt).toBeInstanceOf(Date);
    const events = await api.db.prisma.inboxEvent.findMany({ where: { recipientId: recipient.id } });
    expect(events).toMatchObject([{ seq: 1, type: 'DELIVERED', notificationId: id, unreadCount: 1, unseenCount: 1 }]);
    const after = await api.db.prisma.recipient.findUniqueOrThrow({ where: { id: recipient.id } });
    expect(after).toMatchObject({ lastSeq: 1, unreadCount: 1, unseenCount: 1 });
    // The wake-up may have been published before we subscribed; a second send proves the channel.
    const second = await send({ to: recipientExternalId, title: 'Again', body: '2' });
    await settled(second);
    // The first wake-up (seq 1) may also arrive; wait for the second's.
    await expect
      .poll(() => messages.map((m) => JSON.parse(m)))
      .toContainEqual({
        environmentId: tenant.developmentId,
        recipientId: recipient.id,
        seq: 2,
      });
    await subscriber.quit();
  });

  it('renders a template with data and the recipient profile', async () => {
    await createTemplate(
      'order-shipped',
      'Order {{ order.id }} shipped',
      'Hi {{ recipient.name }}, {{ items | join(", ") }} <b>{{ note }}</b>',
      '/orders/{{ order.id }}',
    );
    const id = await send({
      to: 'shopper',
      recipient: { name: 'Ada' },
      template: 'order-shipped',
      data: { order: { id: 'A-1' }, items: ['tea', 'cake'], note: '<script>' },
    });
    const n = await settled(id);
    expect(n).toMatchObject({
      status: 'DELIVERED',
      title: 'Order A-1 shipped',
      body: 'Hi Ada, tea, cake <b>&lt;script&gt;</b>',
      actionUrl: '/orders/A-1',
      templateKey: 'order-shipped',
    });
  });

  it("lets the caller's actionUrl override the template's, and keeps it when the template has none", async () => {
    await createTemplate('with-url', 't', 'b', '/from-template');
    await createTemplate('without-url', 't', 'b');
    const overridden = await settled(await send({ to: 'u0', template: 'with-url', actionUrl: '/from-send' }));
    const kept = await settled(await send({ to: 'u0', template: 'without-url', actionUrl: 'https://example.com/x' }));
    const fromTemplate = await settled(await send({ to: 'u0', template: 'with-url' }));
    expect([overridden.actionUrl, kept.actionUrl, fromTemplate.actionUrl]).toEqual([
      '/from-send',
      'https://example.com/x',
      '/from-template',
    ]);
  });

  it('fails a notification whose template meets an undefined variable, with a reason, and carries on', async () => {
    await createTemplate('needs-name', 'Hello {{ name }}', 'x');
    const bad = await send({ to: 'u1', template: 'needs-name', data: {} });
    const good = await send({ to: 'u1', title: 'fine', body: 'fine' });
    const failed = await settled(bad);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toMatch(/needs-name/);
    expect(failed.failureReason).toMatch(/name/);
    expect((await settled(good)).status).toBe('DELIVERED');
    expect(await api.db.prisma.inboxEvent.count({ where: { notificationId: bad } })).toBe(0);
  });

  it('fails a runaway template (timeout) without stopping other work', async () => {
    await createTemplate(
      'runaway',
      'x',
      '{% for i in items %}{% for j in items %}{% for k in items %}{{ i }}{% endfor %}{% endfor %}{% endfor %}',
    );
    const items = Array.from({ length: 3000 }, (_, i) => i);
    const bad = await send({ to: 'u2', template: 'runaway', data: { items } });
    const others = await Promise.all([1, 2, 3].map((i) => send({ to: `u2-${i}`, title: 'ok', body: String(i) })));
    const failed = await settled(bad);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toBeTruthy();
    for (const id of others) expect((await settled(id)).status).toBe('DELIVERED');
  });

  it('fails notifications whose stored template is hostile, each with a reason, and carries on', async () => {
    // Written straight to the database: the API refuses most of these when a template is saved,
    // but the worker must hold even for rows that never went through that check.
    const hostile: Record<string, string> = {
      'computed-lookup': '{{ x["constr" ~ "uctor"] }}',
      'constructor-call': '{{ x.constructor.constructor("return process")() }}',
      'range-global': '{{ range(0, 1e9) }}',
      'cycler-global': '{{ cycler.constructor("return process")() }}',
      'proto-lookup': '{{ x.__proto__ }}',
      'include-tag': '{% include "/etc/passwd" %}',
      'huge-output': '{% for i in items %}{{ big }}{% endfor %}',
    };
    const ids: Record<string, string> = {};
    for (const [key, body] of Object.entries(hostile)) {
      await api.db.prisma.template.create({
        data: { environmentId: tenant.developmentId, key: `hostile-${key}`, titleSource: 't', bodySource: body },
      });
      ids[key] = await send({
        to: 'target',
        template: `hostile-${key}`,
        data: { x: {}, items: Array.from({ length: 200 }, (_, i) => i), big: 'y'.repeat(20_000) },
      });
    }
    const healthy = await send({ to: 'target', title: 'still fine', body: 'ok' });
    for (const [key, id] of Object.entries(ids)) {
      const n = await settled(id);
      expect(n.status, key).toBe('FAILED');
      expect(n.failureReason, key).toMatch(new RegExp(`hostile-${key}`));
    }
    expect((await settled(healthy)).status).toBe('DELIVERED');
  });

  it('fails notifications whose template was deleted before rendering', async () => {
    await stopWorker();
    await createTemplate('short-lived', 'x', 'y');
    const id = await send({ to: 'u3', template: 'short-lived' });
    const t = await api.db.prisma.template.findFirstOrThrow({ where: { key: 'short-lived' } });
    await api.gql(`mutation($id: ID!) { deleteTemplate(id: $id) { __typename } }`, { id: t.id }, bearer(tenant.apiKey));
    await startWorker();
    const n = await settled(id);
    expect(n.status).toBe('FAILED');
    expect(n.failureReason).toMatch(/deleted/);
  });

  it('keeps the inbox sequence contiguous under concurrent deliveries to one recipient', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => send({ to: 'busy', title: `n${i}`, body: 'b' })));
    for (const id of ids) await settled(id);
    const recipient = await api.db.prisma.recipient.findFirstOrThrow({ where: { externalId: 'busy' } });
    const seqs = (await api.db.prisma.inboxEvent.findMany({ where: { recipientId: recipient.id }, orderBy: { seq: 'asc' } })).map(
      (e) => e.seq,
    );
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(recipient).toMatchObject({ lastSeq: 30, unreadCount: 30, unseenCount: 30 });
  });
});

describe('reconciler', () => {
  it('re-enqueues a notification whose job was lost between commit and enqueue', async () => {
    await stopWorker();
    const id = await send({ to: 'crash-window', title: 'lost job', body: 'x' });
    // Simulate the crash: the row is committed, but the job never reached Redis.
    expect(await api.renderQueue.remove(renderJob.jobId(id))).toBe(1);
    expect(await api.renderQueue.getJob(renderJob.jobId(id))).toBeUndefined();

    await startWorker(300);
    const n = await settled(id);
    expect(n.status).toBe('DELIVERED');
    expect(await api.db.prisma.inboxEvent.count({ where: { notificationId: id } })).toBe(1);
  });

  it('re-enqueues everything after Redis lost all queues, and delivers each exactly once', async () => {
    await stopWorker();
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => send({ to: `flushed-${i % 3}`, title: `t${i}`, body: 'x' })));
    await api.renderQueue.obliterate({ force: true });
    await startWorker(200);
    for (const id of ids) expect((await settled(id)).status).toBe('DELIVERED');
    const events = await api.db.prisma.inboxEvent.findMany({ where: { notificationId: { in: ids } } });
    expect(events).toHaveLength(10);
  });
});
