// Abuse limits: body size, depth, aliases, tokens, malformed requests, masked unexpected errors,
// and the health endpoints — over real HTTP, since some limits act before GraphQL parsing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, type Tenant, type TestApi } from './harness.ts';

let api: TestApi;
let tenant: Tenant;
let url: string;

beforeAll(async () => {
  api = await createTestApi({ MAX_BODY_BYTES: '65536' });
  tenant = await createTenant(api);
  url = await api.app.start();
});
afterAll(async () => {
  await api?.app.stop();
  await api?.close();
});

async function post(body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(tenant.apiKey), ...headers },
    body: body as BodyInit,
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

it('refuses an oversized body with 413 before parsing it, declared or chunked', async () => {
  const huge = JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(100_000) } });
  const declared = await post(huge);
  expect(declared.status).toBe(413);
  expect(declared.json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(8192)));
      controller.close();
    },
  });
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(413);
});

it('applies the body limit to the SSE stream endpoint too: oversized 413, undeclared length 411', async () => {
  const huge = JSON.stringify({ query: 'subscription { inboxEvents { seq } }', variables: { pad: 'x'.repeat(100_000) } });
  const declared = await fetch(`${url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: huge,
  });
  expect(declared.status).toBe(413);
  expect(((await declared.json()) as any).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

  const chunked = await fetch(`${url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(huge));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  expect(chunked.status).toBe(411);
  expect(((await chunked.json()) as any).errors[0].extensions.code).toBe('LENGTH_REQUIRED');

  // The plugin serves any path ending in the endpoint: the limit covers those too.
  const prefixed = await fetch(`${url}/x/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: huge,
  });
  expect(prefixed.status).toBe(413);
});

it('serves only subscriptions on the stream endpoint (queries and mutations skip its request checks)', async () => {
  const res = await fetch(`${url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(tenant.apiKey) },
    body: JSON.stringify({ query: 'mutation { send(input: { to: "x", title: "t", body: "b" }) { __typename } }' }),
  });
  const text = await res.text();
  expect(text).toContain('"code":"BAD_REQUEST"');
  expect(await api.db.prisma.notification.count({ where: { recipient: { externalId: 'x' } } })).toBe(0);
});

it('answers malformed JSON, invalid UTF-8 and GraphQL syntax errors with a clear error', async () => {
  const badJson = await post('{"query": ');
  expect(badJson.status).toBe(400);
  expect(badJson.json.errors[0].message).toBeTruthy();
  const badUtf8 = await post(new Uint8Array([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
  expect(badUtf8.status).toBeGreaterThanOrEqual(400);
  const syntax = await post(JSON.stringify({ query: 'mutation { send(' }));
  expect(syntax.json.errors[0].message).toMatch(/Syntax Error/);
});

// Depth is limited too (12), but no type of today's schema nests deep enough to reach it without
// introspection, which the limit ignores so GraphiQL keeps working.
it('refuses queries with too many aliases or tokens', async () => {
  const aliases = `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: notifications(first: 1) { edges { node { id } } }`).join(' ')} }`;
  const aliased = await post(JSON.stringify({ query: aliases }));
  expect(JSON.stringify(aliased.json.errors)).toMatch(/alias/i);

  const tokens = `{ ${Array.from({ length: 2500 }, () => '__typename').join(' ')} }`;
  const tooMany = await post(JSON.stringify({ query: tokens }));
  expect(JSON.stringify(tooMany.json.errors)).toMatch(/token/i);
});

it('still serves normal requests after the hostile ones', async () => {
  const ok = await post(JSON.stringify({ query: '{ notifications(first: 1) { edges { node { id } } } }' }));
  expect(ok.status).toBe(200);
  expect(ok.json.errors).toBeUndefined();
});

it('masks unexpected errors and never leaks database messages', async () => {
  // A table renamed behind the API's back: the resolver now fails unexpectedly.
  const broken = await createTestApi();
  const t = await createTenant(broken);
  await broken.db.prisma.$executeRawUnsafe('ALTER TABLE notifications RENAME TO notifications_gone');
  const { body } = await broken.gql('{ notifications(first: 1) { edges { node { id } } } }', {}, bearer(t.apiKey));
  expect(body.errors[0].message).toBe('Unexpected error.');
  expect(body.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
  expect(body.errors[0].extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.stringify(body)).not.toMatch(/notifications_gone|relation|prisma/i);
  await broken.db.prisma.$executeRawUnsafe('ALTER TABLE notifications_gone RENAME TO notifications');
  await broken.close();
});

it('reports liveness and readiness', async () => {
  expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready', database: 'ok', redis: 'ok' });
});

it('refuses form-encoded and text/plain POSTs (no login CSRF from a plain HTML form)', async () => {
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': type }, body: 'query=%7B__typename%7D' });
    expect(res.status, type).toBe(415);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  }
});

it('does not share credentials cross-origin', async () => {
  const res = await fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  // Any origin may call with a bearer token, but the browser never attaches cookies to it.
  expect(res.headers.get('access-control-allow-credentials')).not.toBe('true');
  expect(['*', 'https://evil.example']).toContain(res.headers.get('access-control-allow-origin'));
});

it('answers bad variables with a clear error, not a masked one', async () => {
  const send = 'mutation($input: SendInput!) { send(input: $input) { __typename } }';
  for (const input of [
    { title: 'x', body: 'y' },
    { to: 5, title: 'x', body: 'y' },
    { to: 'u', title: 'x', body: 'y', nope: 1 },
  ]) {
    const { json } = await post(JSON.stringify({ query: send, variables: { input } }));
    expect(json.errors[0].extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
    expect(json.errors[0].message).toMatch(/Variable "\$input"/);
  }
  const dated = await post(
    JSON.stringify({
      query: 'query($f: NotificationFilter) { notifications(filter: $f) { edges { cursor } } }',
      variables: { f: { createdAfter: 'not a date' } },
    }),
  );
  expect(dated.json.errors[0].extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
});

it('refuses NUL characters and absurdly nested JSON before any resolver runs', async () => {
  const send = 'mutation($input: SendInput!) { send(input: $input) { __typename } }';
  const nul = await post(JSON.stringify({ query: send, variables: { input: { to: 'u', title: 'a\u0000b', body: 'y' } } }));
  expect(nul.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  const inline = await post(JSON.stringify({ query: '{ recipient(externalId: "a\\u0000b") { id } }' }));
  expect(inline.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  let deep: unknown = 'leaf';
  for (let i = 0; i < 3000; i++) deep = { d: deep };
  const nested = await post(JSON.stringify({ query: send, variables: { input: { to: 'u', title: 'x', body: 'y', data: deep } } }));
  expect(nested.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
});

it('answers malformed connection arguments with BAD_USER_INPUT', async () => {
  const { json } = await post(JSON.stringify({ query: '{ notifications(first: 5, after: "garbage") { edges { cursor } } }' }));
  expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
});

it('stops promptly although a client still holds a keep-alive connection', async () => {
  const extra = await createTestApi();
  const extraUrl = await extra.app.start();
  const res = await fetch(`${extraUrl}/healthz`);
  await res.text();
  // Without closing idle keep-alive sockets, stop() would wait out the 65 s keep-alive timeout
  // and this test would hit its time limit.
  await extra.app.stop();
  await extra.close();
}, 8_000);

it('masks a database failure while authenticating the request', async () => {
  const broken = await createTestApi();
  const t = await createTenant(broken);
  await broken.db.prisma.$executeRawUnsafe('ALTER TABLE api_keys RENAME TO api_keys_gone');
  const { body } = await broken.gql('{ notifications(first: 1) { edges { node { id } } } }', {}, bearer(t.apiKey));
  expect(body.errors[0].message).toBe('Unexpected error.');
  expect(JSON.stringify(body)).not.toMatch(/api_keys_gone|relation|prisma/i);
  await broken.db.prisma.$executeRawUnsafe('ALTER TABLE api_keys_gone RENAME TO api_keys');
  await broken.close();
});

describe('query cost, with page sizes from literals and variables alike', () => {
  const NESTED = `query($outer: Int, $inner: Int) {
    notifications(first: $outer) { edges { node { id title webhookDeliveries(first: $inner) {
      edges { node { id status attempts(first: $inner) { edges { node { id responseStatus responseBody } } } } } } } } }
  }`;

  it('refuses nested connections whose variable page sizes multiply past the limit, before running them', async () => {
    const r = await api.gql(NESTED, { outer: 100, inner: 100 }, bearer(tenant.apiKey));
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', maxCost: 50_000 });
    expect(r.body.errors[0].extensions.cost).toBeGreaterThan(1_000_000);
    // Literal page sizes count the same.
    const literal = NESTED.replace('($outer: Int, $inner: Int)', '').replaceAll('$outer', '100').replaceAll('$inner', '100');
    expect((await api.gql(literal, {}, bearer(tenant.apiKey))).body.errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    // Left out, each connection counts its default page (20): 20 × 20 × 20 × 5 values is over the limit too.
    expect((await api.gql(NESTED, {}, bearer(tenant.apiKey))).body.errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('serves the same shape with pages that fit', async () => {
    const r = await api.gql(NESTED, { outer: 10, inner: 10 }, bearer(tenant.apiKey));
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.notifications.edges).toBeInstanceOf(Array);
  });
});
