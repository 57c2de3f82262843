// A catalogue of hostile requests for the hostile-input fault test: malformed GraphQL and JSON,
// huge variables, deep queries, alias and fragment multiplication, token and directive floods,
// oversized bodies (declared and chunked), invalid UTF-8, NUL characters, batching, wrong media
// types and abuse of the stream endpoint. Each is sent as raw HTTP and judged: a clear error is a
// 4xx status, or a GraphQL error with `extensions.code`, or a typed error member with a `code` —
// never a success and never the masked INTERNAL_SERVER_ERROR.

export interface HostileContext {
  base: string;
  apiKey: string;
  clientToken: string;
  /** The API's MAX_BODY_BYTES. */
  maxBodyBytes: number;
}

export interface HostileRequest {
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | (() => ReadableStream<Uint8Array>);
}

export interface HostileKind {
  name: string;
  make(ctx: HostileContext): HostileRequest;
}

export interface Judged {
  status: number;
  /** The first error code found (extensions.code of a GraphQL error, or a typed error member's code). */
  code: string | null;
  message: string;
  clear: boolean;
  /** The answer carried data and no error at all: the request was served. */
  served: boolean;
  bytes: number;
}

const SEND = 'mutation($input: SendInput!) { send(input: $input) { __typename ... on Error { code message } } }';

const json = (ctx: HostileContext, body: unknown, auth: 'key' | 'token' | 'none' = 'key'): HostileRequest => ({
  path: '/graphql',
  headers: {
    'content-type': 'application/json',
    ...(auth === 'key'
      ? { authorization: `Bearer ${ctx.apiKey}` }
      : auth === 'token'
        ? { authorization: `Bearer ${ctx.clientToken}` }
        : {}),
  },
  body: JSON.stringify(body),
});

/** `levels` round trips notification → webhookDeliveries → node → notification (4 levels each). */
function deepQuery(levels: number): string {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `id webhookDeliveries { edges { node { notification { ${inner} } } } }`;
  return `{ notifications(first: 1) { edges { node { ${inner} } } } }`;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

export const HOSTILE_KINDS: readonly HostileKind[] = [
  { name: 'malformed JSON', make: (ctx) => ({ ...json(ctx, null), body: '{"query": "{ notifications { edges ' }) },
  { name: 'malformed GraphQL', make: (ctx) => json(ctx, { query: 'mutation { send(input: { to: "x", title: ' }) },
  { name: 'unknown field', make: (ctx) => json(ctx, { query: '{ notifications { nope } }' }) },
  { name: 'empty query', make: (ctx) => json(ctx, { query: '' }) },
  { name: 'query not a string', make: (ctx) => json(ctx, { query: { evil: true } }) },
  { name: 'variables not an object', make: (ctx) => json(ctx, { query: '{ __typename }', variables: [1, 2, 3] }) },
  {
    name: 'huge variable (just under the body limit)',
    make: (ctx) => json(ctx, { query: SEND, variables: { input: { to: 'x', title: 't'.repeat(ctx.maxBodyBytes - 1_000), body: 'b' } } }),
  },
  {
    name: 'huge variables (20,000 unknown keys)',
    make: (ctx) =>
      json(ctx, {
        query: SEND,
        variables: {
          input: { to: 'x', title: 't', body: 'b', ...Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) },
        },
      }),
  },
  {
    name: 'huge variables (50,000 ids)',
    make: (ctx) =>
      json(
        ctx,
        {
          query: 'mutation($ids: [ID!]!) { markRead(ids: $ids) { __typename ... on Error { code message } } }',
          variables: { ids: Array.from({ length: 50_000 }, (_, i) => String(i)) },
        },
        'token',
      ),
  },
  {
    // Built as text: 40,000 levels would overflow JSON.stringify's stack here.
    name: 'deeply nested JSON variable (40,000 levels)',
    make: (ctx) => ({
      ...json(ctx, null),
      body: `{"query": ${JSON.stringify(SEND)}, "variables": {"input": {"to": "x", "title": "t", "body": "b", "data": ${'{"d":'.repeat(40_000)}"leaf"${'}'.repeat(40_000)}}}}`,
    }),
  },
  { name: 'deep query (41 levels)', make: (ctx) => json(ctx, { query: deepQuery(10) }) },
  {
    name: 'alias bomb (500 aliases)',
    make: (ctx) =>
      json(ctx, {
        query: `{ ${Array.from({ length: 500 }, (_, i) => `a${i}: notifications(first: 50) { edges { node { id title } } }`).join(' ')} }`,
      }),
  },
  {
    name: 'alias flood (100 aliases, under the token limit)',
    make: (ctx) =>
      json(ctx, { query: `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: notifications(first: 1) { edges { cursor } }`).join(' ')} }` }),
  },
  {
    name: 'fragment multiplication',
    make: (ctx) => {
      const fragments = ['fragment F0 on Query { notifications(first: 50) { edges { node { id } } } }'];
      for (let i = 1; i <= 8; i++) fragments.push(`fragment F${i} on Query { a: __typename ...F${i - 1} b: __typename ...F${i - 1} }`);
      return json(ctx, { query: `{ ...F8 } ${fragments.join(' ')}` });
    },
  },
  {
    name: 'expensive selection (cost)',
    make: (ctx) =>
      json(ctx, {
        query:
          '{ notifications(first: 100) { edges { node { id webhookDeliveries(first: 100) { edges { node { id attempts(first: 100) { edges { node { id } } } } } } } } } }',
      }),
  },
  {
    name: 'token flood (5,000 tokens)',
    make: (ctx) => json(ctx, { query: `{ ${Array.from({ length: 5_000 }, () => '__typename').join(' ')} }` }),
  },
  {
    name: 'directive flood (500)',
    make: (ctx) => json(ctx, { query: `{ __typename ${Array.from({ length: 500 }, () => '@include(if: true)').join(' ')} }` }),
  },
  {
    name: 'directive flood (50, under the token limit)',
    make: (ctx) => json(ctx, { query: `{ __typename ${Array.from({ length: 50 }, () => '@skip(if: false)').join(' ')} }` }),
  },
  {
    name: 'batch of 1,000 operations',
    make: (ctx) => ({ ...json(ctx, null), body: JSON.stringify(Array.from({ length: 1_000 }, () => ({ query: '{ __typename }' }))) }),
  },
  {
    name: 'oversized body (declared length)',
    make: (ctx) => json(ctx, { query: SEND, variables: { input: { to: 'x', title: 't', body: 'b'.repeat(ctx.maxBodyBytes + 10_000) } } }),
  },
  {
    name: 'oversized body (chunked, no length)',
    make: (ctx) => ({
      ...json(ctx, null),
      body: () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            // Just over the limit: the server stops reading at the limit and answers 413; what is
            // still unsent must fit in the socket's buffers, or the client sees a reset, not the answer.
            const chunk = bytes('x'.repeat(16 * 1024));
            for (let sent = 0; sent <= ctx.maxBodyBytes; sent += chunk.length) controller.enqueue(chunk);
            controller.close();
          },
        }),
    }),
  },
  {
    name: 'invalid UTF-8 in JSON structure',
    make: (ctx) => ({
      ...json(ctx, null),
      body: concat(bytes('{"qu'), new Uint8Array([0xff, 0xfe, 0xc3]), bytes('ery": "{ __typename }"}')),
    }),
  },
  {
    name: 'invalid UTF-8 inside the query',
    make: (ctx) => ({
      ...json(ctx, null),
      body: concat(bytes('{"query": "{ '), new Uint8Array([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff]), bytes(' }"}')),
    }),
  },
  {
    name: 'invalid UTF-8 in a variable',
    make: (ctx) => ({
      ...json(ctx, null),
      body: concat(
        bytes(`{"query": ${JSON.stringify(SEND)}, "variables": {"input": {"to": "utf8-victim-`),
        new Uint8Array([0xf8, 0x88, 0x80, 0x80, 0x80]),
        bytes('", "title": "t", "body": "b"}}}'),
      ),
    }),
  },
  { name: 'NUL character', make: (ctx) => json(ctx, { query: SEND, variables: { input: { to: 'x\u0000', title: 't', body: 'b' } } }) },
  {
    name: 'wrong media type',
    make: (ctx) => ({
      path: '/graphql',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${ctx.apiKey}` },
      body: '{ __typename }',
    }),
  },
  {
    name: 'forged bearer token',
    make: (ctx) => ({
      ...json(ctx, { query: '{ inbox { unreadCount } }' }, 'none'),
      headers: { 'content-type': 'application/json', authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
    }),
  },
  {
    name: 'stream: oversized subscription',
    make: (ctx) => ({
      path: '/graphql/stream',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ctx.clientToken}` },
      body: JSON.stringify({ query: 'subscription { inboxEvents { seq } }', variables: { pad: 'x'.repeat(ctx.maxBodyBytes + 1_000) } }),
    }),
  },
  {
    name: 'stream: chunked body without a length',
    make: (ctx) => ({
      path: '/graphql/stream',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ctx.clientToken}` },
      body: () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes(JSON.stringify({ query: 'subscription { inboxEvents { seq } }' })));
            controller.close();
          },
        }),
    }),
  },
  {
    name: 'stream: mutation instead of subscription',
    make: (ctx) => ({
      path: '/graphql/stream',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ctx.apiKey}` },
      body: JSON.stringify({ query: 'mutation { send(input: { to: "x", title: "t", body: "b" }) { __typename } }' }),
    }),
  },
];

function findCode(body: unknown): { code: string | null; message: string } {
  if (body === null || typeof body !== 'object') return { code: null, message: '' };
  const errors = (body as { errors?: { message?: string; extensions?: { code?: unknown } }[] }).errors;
  const first = Array.isArray(errors) ? errors[0] : undefined;
  if (first)
    return { code: typeof first.extensions?.code === 'string' ? first.extensions.code : null, message: String(first.message ?? '') };
  // A typed error member inside data (e.g. send's ValidationError).
  const data = (body as { data?: Record<string, { code?: unknown; message?: unknown; __typename?: string } | null> }).data;
  for (const value of Object.values(data ?? {})) {
    if (value && typeof value.code === 'string') return { code: value.code, message: String(value.message ?? '') };
  }
  return { code: null, message: '' };
}

/** Sends one hostile request and judges its answer. */
export async function sendHostile(ctx: HostileContext, kind: HostileKind): Promise<Judged> {
  const request = kind.make(ctx);
  const body = typeof request.body === 'function' ? request.body() : request.body;
  const res = await fetch(`${ctx.base}${request.path}`, {
    method: 'POST',
    headers: request.headers,
    body: body as BodyInit,
    ...(typeof request.body === 'function' ? { duplex: 'half' } : {}),
    signal: AbortSignal.timeout(30_000),
  } as RequestInit);
  const text = await res.text();
  let parsed: unknown = null;
  // The stream endpoint answers errors as one SSE `next` event.
  const payload = (res.headers.get('content-type') ?? '').includes('text/event-stream') ? (/^data: (.+)$/m.exec(text)?.[1] ?? '') : text;
  try {
    parsed = JSON.parse(payload);
  } catch {
    // not JSON: judged unclear below
  }
  const { code, message } = findCode(parsed);
  const clear = code !== null && code !== 'INTERNAL_SERVER_ERROR' && message.length > 0;
  const served = res.status === 200 && message === '' && (parsed as { data?: unknown } | null)?.data != null;
  return { status: res.status, code, message: message.slice(0, 160), clear, served, bytes: text.length };
}
