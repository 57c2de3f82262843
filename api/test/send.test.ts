import { renderJob } from '@pigeon/worker';
import pg from 'pg';
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

  it('writes nothing for a repeated key: no recipient, no profile change', async () => {
    const first = await send({ to: 'idem-4', recipient: { name: 'First' }, title: 'A', body: 'a', idempotencyKey: 'order-1004' });
    const sameRecipient = await send({ to: 'idem-4', recipient: { name: 'Second' }, title: 'A', body: 'a', idempotencyKey: 'order-1004' });
    const otherRecipient = await send({ to: 'idem-4-other', title: 'A', body: 'a', idempotencyKey: 'order-1004' });
    for (const result of [sameRecipient, otherRecipient]) {
      expect(result).toMatchObject({ __typename: 'IdempotencyConflictError', notificationId: first.notification.id });
    }
    const recipients = await api.db.prisma.recipient.findMany({
      where: { environmentId: tenant.developmentId, externalId: { in: ['idem-4', 'idem-4-other'] } },
    });
    expect(recipients.map((r) => [r.externalId, r.name])).toEqual([['idem-4', 'First']]);
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
    const { createLogger, createRenderQueue, createWebhookQueue } = await import('@pigeon/worker');
    const { Redis } = await import('ioredis');
    // A queue whose Redis never answers (nothing listens on port 1): the enqueue can only wait.
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    dead.on('error', () => {});
    const deadQueue = createRenderQueue(dead, { prefix: api.env.REDIS_PREFIX });
    const deadWebhookQueue = createWebhookQueue(dead, { prefix: api.env.REDIS_PREFIX });
    const app = createApp({
      db: api.db,
      redis: api.redis,
      renderQueue: deadQueue,
      webhookQueue: deadWebhookQueue,
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

describe('one statement per send', () => {
  const FULL = `mutation Send($input: SendInput!) {
    send(input: $input) {
      __typename
      ... on SendSuccess { duplicate notification { ...All } }
      ... on Error { code message }
    }
  }
  fragment All on Notification {
    id environmentId status failureReason template title body actionUrl category data idempotencyKey
    createdAt deliveredAt readAt seenAt archivedAt read seen archived inboxSeq
    recipient { id externalId name email metadata }
  }`;

  /** A connection of its own, outside the API's pool: to hold locks and watch who waits for them. */
  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: api.databaseUrl });
    await client.connect();
    return client;
  }

  /** Waits until `n` backends of this database wait for a lock; false if that never happens (or `done()`). */
  async function lockWaiters(monitor: pg.Client, n: number, done: () => boolean = () => false): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !done()) {
      const { rows } = await monitor.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0].n >= n) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }

  async function recipientRows(externalId: string) {
    return api.db.prisma.recipient.findMany({ where: { environmentId: tenant.developmentId, externalId } });
  }

  it('answers with the notification exactly as a later read of the stored row shows it', async () => {
    await api.gql(
      `mutation { createTemplate(input: { key: "digest", title: "t", body: "b", category: "weekly" }) { __typename } }`,
      {},
      bearer(tenant.apiKey),
    );
    const inputs = [
      { to: 'as-stored', recipient: { name: 'Ann', metadata: { plan: 'pro' } }, title: 'A & B', body: '<b>', data: { x: [1] } },
      { to: 'as-stored', template: 'digest', data: { n: 2 }, idempotencyKey: 'as-stored-1', actionUrl: '/inbox' },
      { to: 'as-stored', template: 'digest', category: 'override' },
    ];
    for (const input of inputs) {
      const { body } = await api.gql(FULL, { input }, bearer(tenant.apiKey));
      expect(body.errors, JSON.stringify(input)).toBeUndefined();
      const sent = body.data.send.notification;
      const read = await api.gql(
        `query($id: ID!) { notification(id: $id) { ...All } } ${FULL.slice(FULL.indexOf('fragment'))}`,
        {
          id: sent.id,
        },
        bearer(tenant.apiKey),
      );
      expect(read.body.data.notification, JSON.stringify(input)).toEqual(sent);
    }
    const rows = await api.db.prisma.notification.findMany({ where: { recipient: { externalId: 'as-stored' } }, orderBy: { id: 'asc' } });
    const template = await api.db.prisma.template.findFirstOrThrow({ where: { environmentId: tenant.developmentId, key: 'digest' } });
    expect(rows.map((r) => [r.templateId, r.templateKey, r.category, r.title, r.body, r.status])).toEqual([
      [null, null, null, 'A &amp; B', '&lt;b&gt;', 'ACCEPTED'],
      [template.id, 'digest', 'weekly', null, null, 'ACCEPTED'],
      [template.id, 'digest', 'override', null, null, 'ACCEPTED'],
    ]);
  });

  it('writes nothing, not even the recipient, when the template does not exist', async () => {
    const result = await send({ to: 'never-created', recipient: { name: 'Nobody' }, template: 'missing-template' });
    expect(result).toMatchObject({ __typename: 'TemplateNotFoundError', key: 'missing-template' });
    expect(await recipientRows('never-created')).toEqual([]);
  });

  it('gives every one of 40 concurrent first sends to a new recipient the same recipient row', async () => {
    for (const [externalId, recipient] of [
      ['crowd-plain', undefined],
      ['crowd-profile', { name: 'Crowd', email: 'crowd@example.com' }],
    ] as const) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => send({ to: externalId, recipient, title: `#${i}`, body: 'b' })),
      );
      expect(results.map((r) => r.__typename)).toEqual(Array(40).fill('SendSuccess'));
      const rows = await recipientRows(externalId);
      expect(rows).toHaveLength(1);
      const notifications = await api.db.prisma.notification.findMany({ where: { recipientId: rows[0]?.id } });
      expect(notifications).toHaveLength(40);
      if (recipient) expect(rows[0]).toMatchObject(recipient);
    }
  });

  it('retries when the recipient was created by a transaction that committed after the send statement began', async () => {
    // Deterministic version of the race above: the sends' statements take their snapshots, then
    // wait on the uncommitted row (ON CONFLICT); once it commits they can neither insert it nor see
    // it, so only the second statement finds it.
    const holder = await connect();
    const monitor = await connect();
    try {
      for (const [externalId, recipient] of [
        ['late-plain', undefined],
        ['late-profile', { name: 'Late', email: 'late@example.com' }],
      ] as const) {
        await holder.query('BEGIN');
        const { rows } = await holder.query(
          `INSERT INTO recipients (id, environment_id, external_id, updated_at) VALUES (gen_random_uuid(), $1, $2, now()) RETURNING id::text`,
          [tenant.developmentId, externalId],
        );
        const held = rows[0].id as string;
        const sends = Array.from({ length: 6 }, (_, i) => send({ to: externalId, recipient, title: `#${i}`, body: 'b' }));
        const allWaiting = await lockWaiters(monitor, 6);
        await holder.query('COMMIT');
        expect(allWaiting, 'the sends never queued behind the uncommitted recipient').toBe(true);
        const results = await Promise.all(sends);
        expect(results.map((r) => r.__typename)).toEqual(Array(6).fill('SendSuccess'));
        expect((await recipientRows(externalId)).map((r) => r.id)).toEqual([held]);
        const stored = await api.db.prisma.recipient.findUniqueOrThrow({ where: { id: held } });
        if (recipient) expect(stored).toMatchObject(recipient);
        expect(await api.db.prisma.notification.count({ where: { recipientId: held } })).toBe(6);
      }

      // createClientToken upserts recipients with the same statement.
      await holder.query('BEGIN');
      const { rows } = await holder.query(
        `INSERT INTO recipients (id, environment_id, external_id, updated_at) VALUES (gen_random_uuid(), $1, 'late-token', now()) RETURNING id::text`,
        [tenant.developmentId],
      );
      const minting = Array.from({ length: 4 }, () =>
        api.gql(`mutation { createClientToken(recipient: "late-token") { recipient { id } } }`, {}, bearer(tenant.apiKey)),
      );
      const allWaiting = await lockWaiters(monitor, 4);
      await holder.query('COMMIT');
      expect(allWaiting, 'the mints never queued behind the uncommitted recipient').toBe(true);
      const minted = await Promise.all(minting);
      expect(minted.map((m) => m.body.errors ?? m.body.data.createClientToken.recipient.id)).toEqual(Array(4).fill(rows[0].id));
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await monitor.end();
    }
  });

  it('answers from the winner when a concurrent transaction commits the same key while the send inserts', async () => {
    const first = await send({ to: 'key-race', title: 'x', body: 'y' });
    const holder = await connect();
    const monitor = await connect();
    try {
      await holder.query('BEGIN');
      const { rows } = await holder.query(
        `INSERT INTO notifications (id, environment_id, recipient_id, idempotency_key, request_hash, updated_at)
         SELECT gen_random_uuid(), environment_id, recipient_id, 'key-race', 'another payload', now() FROM notifications WHERE id = $1
         RETURNING id::text`,
        [first.notification.id],
      );
      // The send's snapshot has no row with the key; its insert waits on the uncommitted one.
      const sending = send({ to: 'key-race', title: 'x', body: 'y', idempotencyKey: 'key-race' });
      const waiting = await lockWaiters(monitor, 1);
      await holder.query('COMMIT');
      expect(waiting, 'the send never waited for the uncommitted key').toBe(true);
      expect(await sending).toMatchObject({ __typename: 'IdempotencyConflictError', notificationId: rows[0].id });
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await monitor.end();
    }
  });

  it('does not wait for a delivery holding the recipient row FOR NO KEY UPDATE', async () => {
    const profile = { name: 'Busy', email: 'busy@example.com' };
    await send({ to: 'busy', recipient: profile, title: 'first', body: 'b' });
    const [recipient] = await recipientRows('busy');
    const holder = await connect();
    const monitor = await connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM recipients WHERE id = $1 FOR NO KEY UPDATE', [recipient?.id]);
      for (const input of [
        { to: 'busy', title: 'plain', body: 'b' },
        { to: 'busy', recipient: profile, title: 'same profile', body: 'b' },
        { to: 'busy', recipient: { name: 'Busy' }, title: 'part of the same profile', body: 'b' },
      ]) {
        let finished = false;
        const sending = send(input).finally(() => {
          finished = true;
        });
        // Either the send finishes, or it queues behind the lock (then this fails instead of hanging).
        const waiting = lockWaiters(monitor, 1, () => finished).then((queued) => ({ queued }));
        const outcome = await Promise.race([sending, waiting]);
        expect(outcome, input.title).toMatchObject({ __typename: 'SendSuccess' });
        await waiting;
      }
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await monitor.end();
    }
    expect(await api.db.prisma.notification.count({ where: { recipientId: recipient?.id } })).toBe(4);
  });

  it('answers TemplateNotFoundError when the template is deleted while the send inserts', async () => {
    await api.gql(
      `mutation { createTemplate(input: { key: "vanishing", title: "t", body: "b" }) { __typename } }`,
      {},
      bearer(tenant.apiKey),
    );
    const template = await api.db.prisma.template.findFirstOrThrow({ where: { environmentId: tenant.developmentId, key: 'vanishing' } });
    const holder = await connect();
    const monitor = await connect();
    try {
      await holder.query('BEGIN');
      await holder.query('DELETE FROM templates WHERE id = $1', [template.id]);
      // The send's snapshot still has the template; its foreign key check waits for the delete.
      const sending = send({ to: 'vanishing-user', template: 'vanishing' });
      const waiting = await lockWaiters(monitor, 1);
      await holder.query('COMMIT');
      expect(waiting, 'the send never waited for the deleted template row').toBe(true);
      expect(await sending).toMatchObject({ __typename: 'TemplateNotFoundError', key: 'vanishing' });
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await monitor.end();
    }
    expect(await api.db.prisma.notification.count({ where: { templateKey: 'vanishing' } })).toBe(0);
  });
});
