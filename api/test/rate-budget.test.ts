// Rate budgets, in-process through yoga.fetch against real Redis counters: per API key and per
// recipient (client tokens), counted per root field so aliases and fragments cannot bypass them, a
// subscription start costing one, and dashboard sessions outside these budgets.
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRootFields } from '../src/rate-budget.ts';
import { bearer, createTenant, createTestApi, mintClientToken, type Tenant, type TestApi, uniqueName } from './harness.ts';

let api: TestApi;
let tenant: Tenant;
const API_KEY_BUDGET = 5;
const CLIENT_TOKEN_BUDGET = 3;

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
  // Budgets are set before any client token of the environment is verified (verifiers cache them briefly).
  const { body } = await api.gql(
    `mutation($e: ID!, $input: UpdateEnvironmentInput!) {
       updateEnvironment(environmentId: $e, input: $input) {
         __typename ... on UpdateEnvironmentSuccess { environment { id apiKeyOpsPerMinute clientTokenOpsPerMinute } } ... on Error { message } } }`,
    { e: tenant.developmentId, input: { apiKeyOpsPerMinute: API_KEY_BUDGET, clientTokenOpsPerMinute: CLIENT_TOKEN_BUDGET } },
    tenant.sessionHeaders,
  );
  expect(body.data?.updateEnvironment?.environment, JSON.stringify(body)).toEqual({
    id: tenant.developmentId,
    apiKeyOpsPerMinute: API_KEY_BUDGET,
    clientTokenOpsPerMinute: CLIENT_TOKEN_BUDGET,
  });
});
afterAll(async () => {
  await api?.close();
});

/** A new API key of the environment: every test starts from a full budget. */
async function newApiKey(environmentId = tenant.developmentId): Promise<string> {
  const { body } = await api.gql(
    `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "budget" }) { __typename ... on CreatedApiKey { secret } } }`,
    { e: environmentId },
    tenant.sessionHeaders,
  );
  const secret = body.data?.createApiKey?.secret;
  if (!secret) throw new Error(`createApiKey failed: ${JSON.stringify(body)}`);
  return secret as string;
}

const LIST = `{ notifications(first: 1) { edges { node { id } } } }`;
const INBOX = `{ inbox { unreadCount } }`;

async function expectAllowed(query: string, headers: Record<string, string>, label = '') {
  const { status, body } = await api.gql(query, {}, headers);
  expect(body.errors, `${label} ${JSON.stringify(body)}`).toBeUndefined();
  expect(status, label).toBe(200);
  return body;
}

/** RATE_LIMITED with a usable retry-after, both in the GraphQL error and in HTTP (429 + Retry-After). */
async function expectRateLimited(query: string, headers: Record<string, string>, label = '', variables: Record<string, unknown> = {}) {
  const { status, body, response } = await api.gql(query, variables, headers);
  expect(body.data ?? null, `${label} ${JSON.stringify(body)}`).toBeNull();
  expect(body.errors, label).toHaveLength(1);
  const [error] = body.errors;
  expect(error.extensions?.code, `${label} ${JSON.stringify(body)}`).toBe('RATE_LIMITED');
  const retryAfter = error.extensions.retryAfter;
  expect(Number.isInteger(retryAfter), `retryAfter ${retryAfter}`).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(error.message).toMatch(/rate budget/i);
  expect(status, label).toBe(429);
  expect(response.headers.get('retry-after'), label).toBe(String(retryAfter));
  return error;
}

async function notificationsTo(externalId: string): Promise<number> {
  return api.db.prisma.notification.count({ where: { recipient: { externalId } } });
}

describe('countRootFields', () => {
  const count = (source: string, operationName?: string | null) => countRootFields(parse(source), operationName);

  it('counts root fields, aliases included, and not their sub-selections', () => {
    expect(count('{ a }')).toBe(1);
    expect(count('{ a b c }')).toBe(3);
    expect(count('{ x: a y: a z: a }')).toBe(3);
    expect(count('{ a { b c { d e } } }')).toBe(1);
    expect(count('mutation { s1: send(input: {}) { __typename } s2: send(input: {}) { __typename } }')).toBe(2);
    expect(count('subscription { inboxEvents { seq } }')).toBe(1);
  });

  it('expands fragments and inline fragments at the root, each spread counting', () => {
    expect(count('query { ...F } fragment F on Query { a b }')).toBe(2);
    expect(count('query { ...F ...F c } fragment F on Query { a b }')).toBe(5);
    expect(count('{ ... on Query { a b } c }')).toBe(3);
    expect(count('{ ... { ... { a b } } }')).toBe(2);
    expect(count('query { ...F } fragment F on Query { a ...G } fragment G on Query { b c }')).toBe(3);
    // A cycle (invalid GraphQL, rejected by validation anyway) does not hang the counter.
    expect(count('query { ...F } fragment F on Query { a ...F }')).toBe(1);
  });

  it('counts __typename as free but charges at least one per operation', () => {
    expect(count('{ __typename }')).toBe(1);
    expect(count('{ __typename a }')).toBe(1);
    expect(count('{ __typename a b }')).toBe(2);
  });

  it('counts the operation that runs: the named one, or the first', () => {
    const document = 'query A { a } query B { a b c }';
    expect(count(document, 'A')).toBe(1);
    expect(count(document, 'B')).toBe(3);
    expect(count(document, null)).toBe(1);
    expect(count(document, 'Missing')).toBe(0);
  });
});

/** Large enough to be charged in slices (of 30). */
const BIG_BUDGET = 3_000;
/** Seven root fields that do no database work. */
const SEVEN_FIELDS = {
  perRequest: 7,
  query: `{ ${Array.from({ length: 7 }, (_, i) => `a${i}: webhookEventTypes { name }`).join(' ')} }`,
};

/** A new tenant whose development environment's API keys have `budget` operations a minute. */
async function tenantWithBudget(budget: number): Promise<Tenant> {
  const created = await createTenant(api);
  const { body } = await api.gql(
    `mutation($e: ID!, $input: UpdateEnvironmentInput!) { updateEnvironment(environmentId: $e, input: $input) { __typename } }`,
    { e: created.developmentId, input: { apiKeyOpsPerMinute: budget } },
    created.sessionHeaders,
  );
  expect(body.data?.updateEnvironment?.__typename).toBe('UpdateEnvironmentSuccess');
  return created;
}

describe('API key budgets', () => {
  it('run 5 operations a minute; the 6th is RATE_LIMITED with retryAfter, HTTP 429 and Retry-After', async () => {
    const key = await newApiKey();
    for (let i = 0; i < API_KEY_BUDGET; i++) await expectAllowed(LIST, bearer(key), `operation ${i + 1}`);
    const error = await expectRateLimited(LIST, bearer(key), 'operation 6');
    expect(error.message).toMatch(/API key/);
    expect(error.message).toMatch(/5 operations per minute/);
    await expectRateLimited(LIST, bearer(key), 'operation 7');
  });

  it('count aliases: six aliased sends in one request are refused and none of them runs', async () => {
    const key = await newApiKey();
    const to = uniqueName('aliased');
    const sends = Array.from(
      { length: API_KEY_BUDGET + 1 },
      (_, i) => `s${i}: send(input: { to: "${to}", title: "t${i}", body: "b" }) { __typename }`,
    ).join('\n');
    await expectRateLimited(`mutation { ${sends} }`, bearer(key), 'six aliased sends');
    expect(await notificationsTo(to)).toBe(0);
    expect(await api.db.prisma.recipient.count({ where: { externalId: to } })).toBe(0);
  });

  it('count aliases: five aliased root fields use up the whole budget', async () => {
    const key = await newApiKey();
    const to = uniqueName('aliased-five');
    const sends = Array.from(
      { length: API_KEY_BUDGET },
      (_, i) => `s${i}: send(input: { to: "${to}", title: "t${i}", body: "b" }) { __typename }`,
    ).join('\n');
    const body = await expectAllowed(`mutation { ${sends} }`, bearer(key), 'five aliased sends');
    expect(Object.values(body.data).map((r) => (r as { __typename: string }).__typename)).toEqual(Array(5).fill('SendSuccess'));
    expect(await notificationsTo(to)).toBe(5);
    await expectRateLimited(`mutation { send(input: { to: "${to}", title: "one more", body: "b" }) { __typename } }`, bearer(key));
    expect(await notificationsTo(to)).toBe(5);
  });

  it('count root fields reached through fragments and inline fragments', async () => {
    const key = await newApiKey();
    const six = `query { ...Three ... on Query { d: notifications(first: 1) { edges { cursor } } e: notifications(first: 1) { edges { cursor } } } f: notifications(first: 1) { edges { cursor } } }
      fragment Three on Query { a: notifications(first: 1) { edges { cursor } } b: notifications(first: 1) { edges { cursor } } c: notifications(first: 1) { edges { cursor } } }`;
    await expectRateLimited(six, bearer(key), 'six root fields through fragments');

    const other = await newApiKey();
    const five = `query { ...Three ... on Query { d: notifications(first: 1) { edges { cursor } } } e: notifications(first: 1) { edges { cursor } } }
      fragment Three on Query { a: notifications(first: 1) { edges { cursor } } b: notifications(first: 1) { edges { cursor } } c: notifications(first: 1) { edges { cursor } } }`;
    await expectAllowed(five, bearer(other), 'five root fields through fragments');
    await expectRateLimited(LIST, bearer(other), 'after five through fragments');
  });

  it('are per key: a second key of the same environment has its own budget', async () => {
    const first = await newApiKey();
    const second = await newApiKey();
    for (let i = 0; i < API_KEY_BUDGET; i++) await expectAllowed(LIST, bearer(first));
    await expectRateLimited(LIST, bearer(first), 'first key exhausted');
    for (let i = 0; i < API_KEY_BUDGET; i++) await expectAllowed(LIST, bearer(second), `second key operation ${i + 1}`);
    await expectRateLimited(LIST, bearer(second), 'second key exhausted');
  });

  it('are exact for large budgets too, which each process charges from Redis in slices of 1 %', async () => {
    const { apiKey } = await tenantWithBudget(BIG_BUDGET);
    const budget = BIG_BUDGET;
    // Seven root fields per request (no database work): 428 requests fit (2,996), the 429th does
    // not, though requests of 7 do not divide the slices of 30: remainders carry over.
    const { perRequest, query } = SEVEN_FIELDS;
    const fit = Math.floor(budget / perRequest);
    for (let i = 0; i < fit; i++) await expectAllowed(query, bearer(apiKey), `request ${i + 1} of ${fit}`);
    await expectRateLimited(query, bearer(apiKey), `request ${fit + 1}`);
    // What is left (3,000 − 428 × 7 = 4) still serves smaller operations, one by one, and no more.
    for (let i = 0; i < budget - fit * perRequest; i++)
      await expectAllowed('{ webhookEventTypes { name } }', bearer(apiKey), `rest ${i + 1}`);
    await expectRateLimited('{ webhookEventTypes { name } }', bearer(apiKey), 'after the rest');
  });

  it('are exact for large budgets under concurrent requests (one slice reserved at a time per process)', async () => {
    const { apiKey } = await tenantWithBudget(BIG_BUDGET);
    const budget = BIG_BUDGET;
    const { perRequest, query } = SEVEN_FIELDS;
    // All at once: without one reservation at a time, each waiting request would take a slice of
    // its own and the budget would run out (for everyone) long before 2,996 operations.
    const answers = await Promise.all(Array.from({ length: 500 }, () => api.gql(query, {}, bearer(apiKey))));
    const codes = answers.map(({ body }) => body.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((c) => c === 'OK')).toHaveLength(Math.floor(budget / perRequest));
    expect(codes.filter((c) => c !== 'OK').every((c) => c === 'RATE_LIMITED')).toBe(true);
  });

  it("follow the key's own environment budget (production keeps the default)", async () => {
    const key = await newApiKey(tenant.productionId);
    for (let i = 0; i < API_KEY_BUDGET + 3; i++) await expectAllowed(LIST, bearer(key), `production operation ${i + 1}`);
  });
});

/** Opens inboxEvents over graphql-sse (distinct connections) and returns the first message it sends. */
async function firstStreamMessage(headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const response = await api.app.yoga.fetch('http://pigeon.test/graphql/stream', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query: 'subscription { inboxEvents { type seq } }' }),
    signal: controller.signal,
  });
  let text = '';
  try {
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    const deadline = Date.now() + 10_000;
    while (reader && !/event: (next|complete)\n[^\n]*\n\n/.test(text) && Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader?.cancel().catch(() => {});
  } finally {
    controller.abort();
  }
  return { status: response.status, text };
}

describe('client token budgets', () => {
  it('are per recipient: two tokens of one recipient share a budget, another recipient has its own', async () => {
    const key = await newApiKey();
    const shared = uniqueName('shared');
    const a = await mintClientToken(api, key, shared, 600);
    const b = await mintClientToken(api, key, shared, 900);
    const other = await mintClientToken(api, key, uniqueName('other'));
    expect(a.token).not.toBe(b.token);
    expect(a.recipientId).toBe(b.recipientId);

    await expectAllowed(INBOX, bearer(a.token), 'token a, 1');
    await expectAllowed(INBOX, bearer(b.token), 'token b, 2');
    await expectAllowed(INBOX, bearer(a.token), 'token a, 3');
    const error = await expectRateLimited(INBOX, bearer(b.token), 'token b, 4');
    expect(error.message).toMatch(/client tokens/);
    await expectRateLimited(INBOX, bearer(a.token), 'token a, 5');

    for (let i = 0; i < CLIENT_TOKEN_BUDGET; i++) await expectAllowed(INBOX, bearer(other.token), `other recipient ${i + 1}`);
    await expectRateLimited(INBOX, bearer(other.token), 'other recipient exhausted');
  });

  it('count aliased root fields too', async () => {
    const key = await newApiKey();
    const user = await mintClientToken(api, key, uniqueName('aliases'));
    await expectRateLimited(`{ a: inbox { seq } b: inbox { seq } c: inbox { seq } d: inbox { seq } }`, bearer(user.token));
  });

  it('charge one for starting a subscription', async () => {
    const key = await newApiKey();
    const user = await mintClientToken(api, key, uniqueName('subscriber'));
    const first = await firstStreamMessage(bearer(user.token));
    expect(first.status).toBe(200);
    expect(first.text).toContain('CONNECTED');
    for (let i = 1; i < CLIENT_TOKEN_BUDGET; i++) await expectAllowed(INBOX, bearer(user.token), `after subscribing, ${i}`);
    await expectRateLimited(INBOX, bearer(user.token), 'budget used by the subscription and the queries');
    // With the budget used up, starting a subscription is refused too.
    const refused = await firstStreamMessage(bearer(user.token));
    expect(refused.text).toContain('RATE_LIMITED');
    expect(refused.text).not.toContain('CONNECTED');
  });

  it('are separate from API key budgets, both ways', async () => {
    // A recipient's exhausted budget leaves the API key that minted its token untouched.
    const key = await newApiKey();
    const user = await mintClientToken(api, key, uniqueName('separate'));
    for (let i = 0; i < CLIENT_TOKEN_BUDGET; i++) await expectAllowed(INBOX, bearer(user.token));
    await expectRateLimited(INBOX, bearer(user.token), 'client token exhausted');
    for (let i = 1; i < API_KEY_BUDGET; i++) await expectAllowed(LIST, bearer(key), `API key operation ${i + 1}`);
    await expectRateLimited(LIST, bearer(key), 'API key exhausted');

    // An exhausted API key leaves the recipients' budgets untouched.
    const otherKey = await newApiKey();
    const otherUser = await mintClientToken(api, otherKey, uniqueName('separate-2'));
    for (let i = 1; i < API_KEY_BUDGET; i++) await expectAllowed(LIST, bearer(otherKey));
    await expectRateLimited(LIST, bearer(otherKey), 'second API key exhausted');
    for (let i = 0; i < CLIENT_TOKEN_BUDGET; i++) await expectAllowed(INBOX, bearer(otherUser.token), `client token ${i + 1}`);
  });
});

describe('dashboard sessions', () => {
  it('are not limited by API key or client token budgets', async () => {
    const query = `query($e: ID!) { notifications(environmentId: $e, first: 1) { edges { cursor } } }`;
    for (let i = 0; i < API_KEY_BUDGET * 3; i++) {
      const { status, body } = await api.gql(query, { e: tenant.developmentId }, tenant.sessionHeaders);
      expect(body.errors, `session operation ${i + 1}: ${JSON.stringify(body)}`).toBeUndefined();
      expect(status).toBe(200);
    }
    const aliases = Array.from({ length: 10 }, (_, i) => `n${i}: notifications(environmentId: $e, first: 1) { edges { cursor } }`).join(
      ' ',
    );
    const { body } = await api.gql(`query($e: ID!) { ${aliases} }`, { e: tenant.developmentId }, tenant.sessionHeaders);
    expect(body.errors, JSON.stringify(body)).toBeUndefined();
    expect(Object.keys(body.data)).toHaveLength(10);
  });
});
