// The Node SDK against the real API over real HTTP: typed send (inline and by template), idempotency
// keys and duplicates, retries through a fault-injecting proxy (refused requests, lost responses,
// Retry-After, operations that must not repeat), the rate budget, every typed error with the
// server's own message, and client tokens used against the inbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../../../api/test/harness.ts';
import { gqlData, sleep } from '../../../api/test/webhook-kit.ts';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  IdempotencyConflictError,
  NetworkError,
  NotFoundError,
  Pigeon,
  PigeonError,
  RateLimitedError,
  ServerError,
  TemplateNotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '../src/index.ts';
import {
  closedPort,
  type FaultProxy,
  graphqlError,
  operationOf,
  type ProxyAction,
  type SdkTestApi,
  sdkTestApi,
  startFaultProxy,
} from './fixtures.ts';

let t: SdkTestApi;
let pigeon: Pigeon;

beforeAll(async () => {
  t = await sdkTestApi();
  pigeon = new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: t.baseUrl });
});
afterAll(() => t?.stop());

/** Rows stored under this idempotency key in the tenant's development environment. */
function rowsWithKey(idempotencyKey: string): Promise<number> {
  return t.api.db.prisma.notification.count({ where: { environmentId: t.tenant.developmentId, idempotencyKey } });
}

async function withProxy<T>(script: readonly ProxyAction[], run: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await startFaultProxy(t.baseUrl, script);
  try {
    return await run(proxy);
  } finally {
    await proxy.close();
  }
}

/** Whatever `promise` rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a result');
}

describe('send', () => {
  it('sends title and body, generating an idempotency key, and returns the typed notification', async () => {
    const result = await pigeon.send({ to: 'ada', title: 'Welcome <3', body: 'Glad you are here.', data: { plan: 'pro' } });
    expect(result.duplicate).toBe(false);
    expect(result.idempotencyKey).toMatch(/^sdk-[0-9a-f-]{36}$/);
    expect(result.notification).toMatchObject({
      status: 'ACCEPTED',
      recipient: { externalId: 'ada' },
      template: null,
      // Stored as templates render: HTML with the text escaped.
      title: 'Welcome &lt;3',
      body: 'Glad you are here.',
      data: { plan: 'pro' },
      idempotencyKey: result.idempotencyKey,
      read: false,
    });
    expect(await pigeon.notification(result.notification.id)).toMatchObject({ id: result.notification.id });
    expect(await pigeon.notification('01a20000-0000-7000-8000-000000000000')).toBeNull();
    expect(await rowsWithKey(result.idempotencyKey)).toBe(1);
  });

  it('sends by template and keeps the idempotency key it is given', async () => {
    const created = await gqlData(
      t.api,
      `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) {
         __typename ... on CreateTemplateSuccess { template { key } } ... on Error { code message } } }`,
      { input: { key: 'comment-created', title: '{{ author }} commented', body: '{{ excerpt }}', category: 'comments' } },
      bearer(t.tenant.apiKey),
    );
    expect(created.createTemplate).toEqual({ __typename: 'CreateTemplateSuccess', template: { key: 'comment-created' } });

    const result = await pigeon.send({
      to: 'grace',
      template: 'comment-created',
      data: { author: 'Ada', excerpt: 'Looks good!' },
      idempotencyKey: 'comment-1',
    });
    expect(result.idempotencyKey).toBe('comment-1');
    expect(result.notification).toMatchObject({
      template: 'comment-created',
      category: 'comments',
      idempotencyKey: 'comment-1',
      recipient: { externalId: 'grace' },
    });
    // Rendered by the worker, then readable through the SDK.
    const deadline = Date.now() + 10_000;
    let rendered = await pigeon.notification(result.notification.id);
    while (rendered?.status !== 'DELIVERED' && Date.now() < deadline) {
      await sleep(50);
      rendered = await pigeon.notification(result.notification.id);
    }
    expect(rendered).toMatchObject({ status: 'DELIVERED', title: 'Ada commented', body: 'Looks good!' });
  });

  it('answers a repeated key with the original notification, duplicate: true, and stores one row', async () => {
    const input = { to: 'ada', title: 'Once', body: 'only once', idempotencyKey: 'order-42-shipped' };
    const first = await pigeon.send(input);
    const second = await pigeon.send(input);
    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ duplicate: true, idempotencyKey: 'order-42-shipped' });
    // The same notification (the worker may have delivered it in between).
    expect(second.notification).toMatchObject({ id: first.notification.id, createdAt: first.notification.createdAt, title: 'Once' });
    expect(await rowsWithKey('order-42-shipped')).toBe(1);
  });
});

describe('retries', () => {
  it('retries a send refused with 503 and stores it once', async () => {
    await withProxy([{ status: 503 }, { status: 503 }], async (proxy) => {
      const result = await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).send({ to: 'ada', title: 'Hi', body: 'after 503s' });
      expect(result.duplicate).toBe(false);
      expect(proxy.requests.map((r) => r.action)).toEqual([{ status: 503 }, { status: 503 }, 'forward']);
      // Every attempt carried the same key.
      expect(new Set(proxy.requests.map((r) => r.body.variables?.input.idempotencyKey))).toEqual(new Set([result.idempotencyKey]));
      expect(await rowsWithKey(result.idempotencyKey)).toBe(1);
    });
  });

  it('retries a send whose response was lost with the same key: duplicate, one notification', async () => {
    await withProxy(['lose-response'], async (proxy) => {
      const result = await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).send({
        to: 'ada',
        title: 'Hi',
        body: 'lost answer',
      });
      expect(proxy.requests).toHaveLength(2);
      expect(proxy.requests[0]).toMatchObject({ action: 'lose-response', upstreamStatus: 200 });
      expect(proxy.requests[1]?.body.variables?.input.idempotencyKey).toBe(proxy.requests[0]?.body.variables?.input.idempotencyKey);
      expect(result.duplicate).toBe(true);
      expect(await rowsWithKey(result.idempotencyKey)).toBe(1);
      expect(await pigeon.notification(result.notification.id)).toMatchObject({ idempotencyKey: result.idempotencyKey });
    });
  });

  it('waits what the server asks for before retrying (Retry-After on 503/429, extensions.retryAfter)', async () => {
    const refusals: ProxyAction[] = [
      { status: 503, headers: { 'retry-after': '1' } },
      { status: 429, headers: { 'retry-after': '1' } },
      // The API's own shapes, without the header: the SDK reads extensions.retryAfter.
      graphqlError(429, 'RATE_LIMITED', { retryAfter: 1 }),
      graphqlError(503, 'OVERLOADED', { retryAfter: 1 }),
    ];
    const gaps = await Promise.all(
      refusals.map((refusal, i) =>
        withProxy([refusal], async (proxy) => {
          await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).send({ to: 'ada', title: 'Hi', body: `refusal ${i}` });
          expect(proxy.requests.map((r) => r.action)).toEqual([refusal, 'forward']);
          return (proxy.requests[1]?.at ?? 0) - (proxy.requests[0]?.at ?? 0);
        }),
      ),
    );
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);
  });

  it('retries a send that timed out and one whose connection was reset', async () => {
    await withProxy(['hang', 'reset'], async (proxy) => {
      const result = await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url, timeoutMs: 1_000 }).send({
        to: 'ada',
        title: 'Hi',
        body: 'after a timeout',
      });
      // (On a very slow machine the forwarded attempt could time out too and be repeated: still one row.)
      expect(proxy.requests.slice(0, 3).map((r) => r.action)).toEqual(['hang', 'reset', 'forward']);
      expect(proxy.requests[0]?.headers).toMatchObject({ authorization: `Bearer ${t.tenant.apiKey}`, 'content-type': 'application/json' });
      expect(await rowsWithKey(result.idempotencyKey)).toBe(1);
    });
  });

  it('gives up at once with maxRetries: 0 (ServerError with the status)', async () => {
    await withProxy([{ status: 503 }], async (proxy) => {
      const error = await rejection(
        new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url, maxRetries: 0 }).send({ to: 'ada', title: 'Hi', body: 'no retry' }),
      );
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ status: 503, code: 'HTTP_503' });
      expect(proxy.requests).toHaveLength(1);
    });
  });

  it('gives up after maxRetries and throws the last failure', async () => {
    await withProxy([{ status: 502 }, { status: 502 }, { status: 502 }], async (proxy) => {
      const error = await rejection(
        new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url, maxRetries: 2 }).send({ to: 'ada', title: 'Hi', body: 'too many' }),
      );
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ status: 502 });
      expect(proxy.requests).toHaveLength(3);
    });
  });

  it('never repeats an operation that is not idempotent (webhooks.create) after a 503', async () => {
    const input = { url: 'http://127.0.0.1:9/never-called', eventTypes: ['notification.read'] };
    await withProxy([{ status: 503 }], async (proxy) => {
      const error = await rejection(new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).webhooks.create(input));
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ status: 503 });
      expect(proxy.requests).toHaveLength(1);
    });
    // The response lost after the endpoint was created: one endpoint, not two.
    await withProxy(['lose-response'], async (proxy) => {
      const error = await rejection(new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).webhooks.create(input));
      expect(error).toBeInstanceOf(ServerError);
      expect(proxy.requests.map(operationOf)).toEqual(['PigeonCreateWebhookEndpoint']);
    });
    // Nor after a timeout, a reset or OVERLOADED: each may come after the endpoint was written.
    for (const action of ['hang', 'reset', graphqlError(503, 'OVERLOADED', { retryAfter: 0 })] as const) {
      await withProxy([action], async (proxy) => {
        const error = await rejection(new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url, timeoutMs: 500 }).webhooks.create(input));
        expect(error).toBeInstanceOf(action === 'hang' || action === 'reset' ? NetworkError : ServerError);
        expect(proxy.requests).toHaveLength(1);
      });
    }
    expect((await pigeon.webhooks.list()).filter((e) => e.url === input.url)).toHaveLength(1);
  });

  it('repeats any operation refused by the rate budget (nothing ran)', async () => {
    await withProxy([graphqlError(429, 'RATE_LIMITED', { retryAfter: 0 })], async (proxy) => {
      const { endpoint } = await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).webhooks.create({
        url: 'http://127.0.0.1:9/rate-limited-once',
        eventTypes: ['notification.read'],
      });
      expect(proxy.requests).toHaveLength(2);
      expect((await pigeon.webhooks.list()).filter((e) => e.url === endpoint.url)).toHaveLength(1);
    });
  });
});

describe('rate budget', () => {
  it('throws RateLimitedError with retryAfter and the server message when the wait exceeds maxRetryDelayMs', async () => {
    await gqlData(
      t.api,
      `mutation($e: ID!) { updateEnvironment(environmentId: $e, input: { apiKeyOpsPerMinute: 2 }) { __typename } }`,
      { e: t.tenant.productionId },
      t.tenant.sessionHeaders,
    );
    await withProxy([], async (proxy) => {
      const production = new Pigeon({ apiKey: t.tenant.productionApiKey, baseUrl: proxy.url, maxRetryDelayMs: 100 });
      await production.send({ to: 'ada', title: '1', body: 'one' });
      await production.send({ to: 'ada', title: '2', body: 'two' });
      const error = await rejection(production.send({ to: 'ada', title: '3', body: 'three' }));
      expect(error).toBeInstanceOf(RateLimitedError);
      const limited = error as RateLimitedError;
      expect(limited.retryAfter).toBeGreaterThan(0);
      expect(limited.status).toBe(429);
      expect(limited.message).toBe(
        `The rate budget of this API key (2 operations per minute) is used up. Retry after ${limited.retryAfter} s.`,
      );
      // It did not wait a minute and try again.
      expect(proxy.requests).toHaveLength(3);
    });
  });
});

describe('typed errors', () => {
  it('ValidationError names each field (no content; a bad actionUrl)', async () => {
    const empty = await rejection(pigeon.send({ to: 'ada' }));
    expect(empty).toBeInstanceOf(ValidationError);
    expect(empty).toMatchObject({
      code: 'VALIDATION',
      message: 'input.title: Give a template, or a title and body.; input.body: Give a template, or a title and body.',
      issues: [
        { path: 'input.title', message: 'Give a template, or a title and body.' },
        { path: 'input.body', message: 'Give a template, or a title and body.' },
      ],
    });

    const badUrl = await rejection(pigeon.send({ to: 'ada', title: 'Hi', body: 'x', actionUrl: 'javascript:alert(1)' }));
    expect(badUrl).toBeInstanceOf(ValidationError);
    expect((badUrl as ValidationError).issues).toEqual([
      { path: 'input.actionUrl', message: 'Must be an http(s) URL or a path starting with "/".' },
    ]);
  });

  it('TemplateNotFoundError carries the key', async () => {
    const error = await rejection(pigeon.send({ to: 'ada', template: 'no-such-template' }));
    expect(error).toBeInstanceOf(TemplateNotFoundError);
    expect(error).toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
      key: 'no-such-template',
      message: 'No template with key "no-such-template" exists in this environment.',
    });
  });

  it('IdempotencyConflictError: the same key with a different payload', async () => {
    const first = await pigeon.send({ to: 'ada', title: 'Invoice', body: '€10', idempotencyKey: 'invoice-7' });
    const error = await rejection(pigeon.send({ to: 'ada', title: 'Invoice', body: '€12', idempotencyKey: 'invoice-7' }));
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      idempotencyKey: 'invoice-7',
      notificationId: first.notification.id,
      message: `Idempotency key "invoice-7" was already used for notification ${first.notification.id} with a different payload.`,
    });
    expect(await rowsWithKey('invoice-7')).toBe(1);
  });

  it('UnauthenticatedError for an unknown and for a revoked API key', async () => {
    const unknown = await rejection(
      new Pigeon({ apiKey: 'sk_dev_notarealkey', baseUrl: t.baseUrl }).send({ to: 'a', title: 'x', body: 'y' }),
    );
    expect(unknown).toBeInstanceOf(UnauthenticatedError);
    expect(unknown).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, message: 'The API key is unknown or has been revoked.' });

    const created = await gqlData(
      t.api,
      `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "to revoke" }) { ... on CreatedApiKey { secret apiKey { id } } } }`,
      { e: t.tenant.developmentId },
      t.tenant.sessionHeaders,
    );
    const { secret, apiKey } = created.createApiKey;
    const doomed = new Pigeon({ apiKey: secret, baseUrl: t.baseUrl });
    await doomed.send({ to: 'ada', title: 'before', body: 'revocation' });
    await gqlData(
      t.api,
      `mutation($e: ID!, $id: ID!) { revokeApiKey(environmentId: $e, id: $id) { __typename } }`,
      { e: t.tenant.developmentId, id: apiKey.id },
      t.tenant.sessionHeaders,
    );
    const revoked = await rejection(doomed.send({ to: 'ada', title: 'after', body: 'revocation' }));
    expect(revoked).toBeInstanceOf(UnauthenticatedError);
    expect(revoked).toMatchObject({ message: 'The API key is unknown or has been revoked.' });
  });

  it('ForbiddenError: a client token used where an API key is needed', async () => {
    const { token } = await pigeon.createClientToken('ada');
    const error = await rejection(new Pigeon({ apiKey: token, baseUrl: t.baseUrl }).send({ to: 'ada', title: 'x', body: 'y' }));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ code: 'FORBIDDEN', message: 'This principal may not use this field.' });
  });

  it('NotFoundError: updating an endpoint that does not exist', async () => {
    const id = '0190d2a4-0000-7000-8000-000000000000';
    const error = await rejection(pigeon.webhooks.update(id, { description: 'x' }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: `WebhookEndpoint "${id}" was not found.` });
  });

  it('NetworkError: nothing listens at baseUrl', async () => {
    const port = await closedPort();
    const error = await rejection(
      new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 }).send({ to: 'a', title: 'x', body: 'y' }),
    );
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR' });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('BadRequestError: a request the API refuses before running it', async () => {
    const error = await rejection(pigeon.send({ to: 'ada\u0000', title: 'x', body: 'y' }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', status: 400, message: 'Request input must not contain NUL characters.' });
  });

  it('every typed error is a PigeonError; a missing API key is a TypeError at construction', () => {
    for (const ErrorClass of [
      BadRequestError,
      ConflictError,
      ForbiddenError,
      IdempotencyConflictError,
      NetworkError,
      NotFoundError,
      RateLimitedError,
      ServerError,
      TemplateNotFoundError,
      UnauthenticatedError,
      ValidationError,
    ]) {
      expect(ErrorClass.prototype).toBeInstanceOf(PigeonError);
    }
    expect(() => new Pigeon({ apiKey: '' })).toThrow(TypeError);
  });
});

describe('client tokens', () => {
  it('refuses a lifetime out of range with ValidationError and its issues', async () => {
    const error = await rejection(pigeon.createClientToken('ada', { ttlSeconds: 5 }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      code: 'VALIDATION',
      message: 'ttlSeconds: Must be at least 60 seconds.',
      issues: [{ path: 'ttlSeconds', message: 'Must be at least 60 seconds.' }],
    });
  });

  it('mints a token that works against the inbox', async () => {
    const sent = await pigeon.send({ to: 'lin', title: 'For Lin', body: 'inbox test' });
    const minted = await pigeon.createClientToken('lin', { ttlSeconds: 600 });
    expect(minted.recipient.externalId).toBe('lin');
    expect(minted.token).toEqual(expect.any(String));
    const ttl = Date.parse(minted.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);

    const inbox = async () =>
      (await gqlData(t.api, `{ inbox { recipientId externalId notifications { edges { node { id } } } } }`, {}, bearer(minted.token)))
        .inbox;
    const deadline = Date.now() + 10_000;
    let seen = await inbox();
    while (seen.notifications.edges.length === 0 && Date.now() < deadline) {
      await sleep(50);
      seen = await inbox();
    }
    expect(seen).toEqual({
      recipientId: minted.recipient.id,
      externalId: 'lin',
      notifications: { edges: [{ node: { id: sent.notification.id } }] },
    });
  });
});
