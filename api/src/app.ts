// The API process's HTTP side: graphql-yoga with the Pothos schema, auth, abuse limits and health
// endpoints. createApp() wires dependencies it is given; start()/stop() own only the HTTP server.
import { isUtf8 } from 'node:buffer';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { Database } from '@pigeon/schema';
import { type Logger, type RenderJobData, type WebhookJobData, webhookSettings } from '@pigeon/worker';
import { createTemplateSandbox, type TemplateSandbox, type TemplateSources } from '@pigeon/worker/render/sandbox';
import type { TargetPolicy } from '@pigeon/worker/webhooks/target';
import type { Queue } from 'bullmq';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { ApiKeyResolver } from './auth/api-keys.ts';
import { ClientTokenVerifier } from './auth/client-token.ts';
import { ID_PAGES } from './builder.ts';
import type { Context, InboxRuntime } from './context.ts';
import { costLimitPlugin } from './cost.ts';
import { DEFAULT_DASHBOARD_DIR, dashboardFiles } from './dashboard-files.ts';
import type { ApiEnv } from './env.ts';
import { introspectionPolicyPlugin } from './introspection.ts';
import { maskError } from './mask-error.ts';
import { resolvePrincipal } from './principal.ts';
import { rateBudgetPlugin } from './rate-budget.ts';
import { schema } from './schema/index.ts';
import { graphqlSsePlugin } from './sse.ts';

export interface AppDeps {
  db: Database;
  redis: Redis;
  renderQueue: Queue<RenderJobData>;
  webhookQueue: Queue<WebhookJobData>;
  env: ApiEnv;
  log: Logger;
  inbox: InboxRuntime;
  /** Where endpoint URLs may point (default: from WEBHOOK_ALLOW_LIST). Tests inject a resolver here. */
  webhookTargets?: TargetPolicy;
}

/**
 * Limits on one GraphQL document: generous for every document the clients ship, fatal to abuse.
 * `npx node bench/limits.ts` measures the clients' documents against them (docs/limits.md).
 */
export const LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 2_000,
  maxDirectives: 20,
  maxCost: 50_000,
} as const;

/** Where graphql-sse clients connect (`createClient({ url: '<base>/graphql/stream' })`). */
export const STREAM_PATH = '/graphql/stream';

export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  /** Listens on env.PORT (0 picks a free port); resolves to the bound URL. */
  start(): Promise<string>;
  /** Stops accepting connections and waits for open requests to finish (and ends the preview sandbox). */
  stop(): Promise<void>;
}

const responseCookies = new WeakMap<Request, string[]>();
/** Requests still running this long after stop() are cut off, so shutdown always completes. */
const STOP_DEADLINE_MS = 10_000;

/** Reads at most `limit` bytes of the body; a larger body is refused before it is buffered whole. */
function bodyLimitPlugin(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, endResponse, fetchAPI }) {
      if (request.method !== 'POST' || !requestParser) return;
      const declared = Number(request.headers.get('content-length') ?? Number.NaN);
      const tooLarge = () =>
        new fetchAPI.Response(
          JSON.stringify({
            errors: [{ message: `Request body is larger than ${limit} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
          }),
          // The rest of the body is never read: close the connection instead of leaving it half-consumed.
          { status: 413, headers: { 'content-type': 'application/json', connection: 'close' } },
        );
      if (declared > limit) {
        endResponse(tooLarge());
        return;
      }
      setRequestParser(async (req) => {
        const reader = req.body?.getReader();
        const chunks: Uint8Array[] = [];
        let size = 0;
        if (reader) {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            size += value.byteLength;
            if (size > limit) {
              await reader.cancel();
              return tooLarge();
            }
            chunks.push(value);
          }
        }
        const body = Buffer.concat(chunks);
        // JSON is UTF-8: bytes that are not would be replaced by U+FFFD and stored as if sent.
        if (!isUtf8(body)) {
          return new fetchAPI.Response(
            JSON.stringify({ errors: [{ message: 'Request body is not valid UTF-8.', extensions: { code: 'BAD_REQUEST' } }] }),
            { status: 400, headers: { 'content-type': 'application/json' } },
          );
        }
        const copy = new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body });
        return requestParser(copy);
      });
    },
  };
}

/**
 * Login CSRF and friends: a plain HTML form or a no-preflight fetch can POST only "simple" content
 * types, so GraphQL POSTs must be JSON (GraphQL over HTTP's own media types).
 */
function simpleRequestGuardPlugin(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (type === 'application/json' || type === 'application/graphql-response+json') return;
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [
              { message: 'POST requests must be sent as Content-Type: application/json.', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } },
            ],
          }),
          { status: 415, headers: { 'content-type': 'application/json' } },
        ),
      );
    },
  };
}

const MAX_VARIABLE_DEPTH = 32;

/**
 * PostgreSQL text cannot hold NUL characters and deeply nested JSON exhausts recursive code; both
 * are refused here, once, for every field, before any resolver sees them.
 */
function inputSanityPlugin(): Plugin {
  const problem = (value: unknown, depth: number): string | null => {
    if (typeof value === 'string') return value.includes('\u0000') ? 'must not contain NUL characters' : null;
    if (value === null || typeof value !== 'object') return null;
    if (depth > MAX_VARIABLE_DEPTH) return `must not nest deeper than ${MAX_VARIABLE_DEPTH} levels`;
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) return 'must not contain NUL characters';
      const found = problem(item, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return {
    onParams({ params }) {
      if (params.query != null && typeof params.query !== 'string') {
        throw new GraphQLError('"query" must be a string.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
      }
      const found =
        (params.query?.includes('\u0000') || /\\u0000/i.test(params.query ?? '') ? 'must not contain NUL characters' : null) ??
        problem(params.variables ?? null, 0);
      if (found) throw new GraphQLError(`Request input ${found}.`, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
    },
  };
}

/**
 * graphql-armor's limits throw a code-less "Syntax Error: …" out of validation; reported through
 * onReject instead, each refusal carries a stable code clients can act on.
 */
function limitRejection(code: string) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: unknown, error: GraphQLError) =>
        (context as { reportError(e: GraphQLError): void }).reportError(
          new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code } }),
        ),
    ],
  };
}

export function createApp({ db, redis, renderQueue, webhookQueue, env, log, inbox, webhookTargets }: AppDeps): App {
  const clientTokens = new ClientTokenVerifier(db.prisma);
  const apiKeys = new ApiKeyResolver(db.prisma);
  const targets = webhookTargets ?? webhookSettings(env).targets;
  // Previews render in the same sandbox as the worker, in one thread of this process, started on first use.
  let sandbox: TemplateSandbox | null = null;
  const templatePreview = {
    render: (sources: TemplateSources, data: unknown) => {
      sandbox ??= createTemplateSandbox({ threads: 1 });
      return sandbox.render(sources, data);
    },
  };
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    logging: false,
    landingPage: false,
    // bodyLimitPlugin enforces MAX_BODY_BYTES (and refuses invalid UTF-8) while it buffers the body.
    // Yoga's own limit would run the body through a TransformStream as well: ~5 % of the API's CPU
    // per send in the profile (docs/benchmarks.md).
    maxRequestBodySize: false,
    graphiql: env.GRAPHIQL
      ? {
          title: 'Pigeon GraphiQL',
          defaultQuery: GRAPHIQL_DEFAULT_QUERY,
          headers: JSON.stringify({ Authorization: 'Bearer sk_dev_…' }, null, 2),
          shouldPersistHeaders: true,
        }
      : false,
    // Unexpected errors reach clients as "Unexpected error." with a request id; the log has the rest.
    maskedErrors: { maskError: (error, message) => maskError(error, message, log) },
    // Browser SDKs on other origins authenticate with bearer tokens, never cookies: any origin may
    // call, but credentials are not shared, so a foreign page can never act as a dashboard session.
    cors: { origin: '*', credentials: false, allowedHeaders: ['authorization', 'content-type', 'accept'], maxAge: 600 },
    context: async ({ request }): Promise<Context> => {
      const { principal, csrfRejected } = await resolvePrincipal(db.prisma, clientTokens, apiKeys, request);
      const cookies: string[] = [];
      responseCookies.set(request, cookies);
      return {
        prisma: db.prisma,
        redis,
        renderQueue,
        webhookQueue,
        webhookTargets: targets,
        env,
        log,
        principal,
        csrfRejected,
        clientAddress: request.headers.get('x-pigeon-client-address') ?? 'unknown',
        responseCookies: cookies,
        clientTokens,
        apiKeys,
        sql: db.query,
        inbox,
        templatePreview,
        roleCache: new Map(),
      };
    },
    plugins: [
      simpleRequestGuardPlugin(),
      // GraphQL over SSE (graphql-sse protocol, "distinct connections" mode) for subscriptions.
      graphqlSsePlugin({ endpoint: STREAM_PATH, log }),
      bodyLimitPlugin(env.MAX_BODY_BYTES),
      inputSanityPlugin(),
      maxDepthPlugin({ n: LIMITS.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...limitRejection('QUERY_TOO_DEEP') }),
      maxAliasesPlugin({ n: LIMITS.maxAliases, ...limitRejection('TOO_MANY_ALIASES') }),
      maxTokensPlugin({ n: LIMITS.maxTokens }),
      maxDirectivesPlugin({ n: LIMITS.maxDirectives, ...limitRejection('TOO_MANY_DIRECTIVES') }),
      // Values an operation can produce, page sizes from literals and variables alike.
      costLimitPlugin(schema, { maxCost: LIMITS.maxCost, defaultPageSize: ID_PAGES.defaultSize, maxPageSize: ID_PAGES.maxSize }),
      rateBudgetPlugin({ redis, prefix: env.REDIS_PREFIX, log }),
      introspectionPolicyPlugin({ anonymous: env.INTROSPECTION_ANONYMOUS }),
      {
        onResponse({ request, response }) {
          for (const value of responseCookies.get(request) ?? []) response.headers.append('set-cookie', value);
        },
      },
    ],
  });

  let server: Server | null = null;
  let draining = false;

  async function health(path: string): Promise<{ status: number; body: unknown } | null> {
    if (path === '/healthz') return { status: 200, body: { status: 'ok' } };
    if (path !== '/readyz') return null;
    const checks = await Promise.allSettled([db.prisma.$queryRaw`SELECT 1`, redis.ping()]);
    const [database, redisCheck] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const ready = database === 'ok' && redisCheck === 'ok';
    return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', database, redis: redisCheck } };
  }

  return {
    yoga,
    async start() {
      const files = env.DASHBOARD ? dashboardFiles(env.DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR) : null;
      if (env.DASHBOARD && !files) log.info('no dashboard build to serve (npm start builds it; or npm run build -w @pigeon/dashboard)');
      server = createServer(async (req, res) => {
        // While draining, every response closes its connection, so keep-alive clients let go.
        if (draining) res.setHeader('connection', 'close');
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        const healthResult = await health(path).catch(() => ({ status: 503, body: { status: 'not ready' } }));
        if (healthResult) {
          res.writeHead(healthResult.status, { 'content-type': 'application/json' }).end(JSON.stringify(healthResult.body));
          return;
        }
        if (files && (await files(req, res, path).catch(() => false))) return;
        // The graphql-sse handler reads its body without a limit and outside Yoga's request
        // parsing (where bodyLimitPlugin works), so the stream endpoint's limit is enforced here:
        // a declared length is required (fetch always sends one for a JSON body) and Node's parser
        // never delivers more than it.
        // Same test as the plugin's (it serves any path ending in the endpoint).
        if (path.endsWith(STREAM_PATH) && req.method === 'POST') {
          const declared = Number(req.headers['content-length'] ?? Number.NaN);
          const refusal = !Number.isFinite(declared)
            ? { status: 411, code: 'LENGTH_REQUIRED', message: 'Stream requests need a Content-Length header.' }
            : declared > env.MAX_BODY_BYTES
              ? { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `Request body is larger than ${env.MAX_BODY_BYTES} bytes.` }
              : null;
          if (refusal) {
            res
              .writeHead(refusal.status, { 'content-type': 'application/json', connection: 'close' })
              .end(JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }));
            return;
          }
        }
        // The socket's address (or, behind a trusted proxy, the first X-Forwarded-For hop) — never
        // a header the client chose — feeds the login rate limit.
        const forwarded = env.TRUST_PROXY
          ? String(req.headers['x-forwarded-for'] ?? '')
              .split(',')[0]
              ?.trim()
          : '';
        req.headers['x-pigeon-client-address'] = forwarded || req.socket.remoteAddress || 'unknown';
        yoga(req, res);
      });
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(env.PORT, env.HOST, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      const host = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(env.HOST) ? 'localhost' : env.HOST;
      return `http://${host}:${port}`;
    },
    async stop() {
      const previews = sandbox;
      sandbox = null;
      await previews?.close();
      const s = server;
      if (!s) return;
      server = null;
      draining = true;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      // SSE streams never go idle on their own: complete them (clients resubscribe elsewhere with
      // their cursor), so their connections finish like any other response.
      inbox.hub.endStreams();
      // Idle keep-alive sockets would hold close() for keepAliveTimeout; in-flight requests get
      // `connection: close` and their sockets go idle (and are closed) as they finish.
      const sweep = setInterval(() => s.closeIdleConnections(), 50);
      s.closeIdleConnections();
      const deadline = setTimeout(() => s.closeAllConnections(), STOP_DEADLINE_MS);
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
    },
  };
}

const GRAPHIQL_DEFAULT_QUERY = `# Welcome to Pigeon's GraphiQL. Pick an operation with the ▶ button's menu.
#
# Authenticate in the Headers tab below (it is kept in this browser):
#   API key (backends):    { "Authorization": "Bearer sk_dev_..." }
#   Client token (a user): { "Authorization": "Bearer <token from createClientToken>" }
# \`npm start\` prints a development API key as PIGEON_API_KEY=... on its first run; the dashboard
# (/) creates more. Dashboard sessions work here too when you are logged in at / in this browser,
# plus the header { "X-CSRF-Token": "<value of the pigeon_csrf cookie>" }.

# --- With an API key ---

mutation SendHello {
  send(input: { to: "user-42", title: "Hello", body: "Your first notification", idempotencyKey: "hello-user-42" }) {
    __typename
    ... on SendSuccess { duplicate notification { id status } }
    ... on Error { code message }
  }
}

query RecentNotifications {
  notifications(first: 10) {
    edges { node { id status title recipient { externalId } createdAt deliveredAt readAt } }
  }
}

mutation MintClientToken {
  createClientToken(recipient: "user-42", ttlSeconds: 3600) { token expiresAt }
}

query WebhookEndpoints {
  webhookEventTypes { name description }
  webhookEndpoints { id url eventTypes enabled failingSince }
}

mutation PreviewTemplate {
  previewTemplate(input: { title: "Hi {{ recipient.name }}", body: "{{ count }} new comments", data: { count: 3 }, recipient: { name: "Ada" } }) {
    __typename
    ... on TemplatePreview { title body }
    ... on TemplateRenderError { field kind line column message }
  }
}

# --- With a client token (paste one from MintClientToken into the Headers tab) ---

query MyInbox {
  inbox {
    unreadCount
    unseenCount
    cursor
    notifications(first: 10) { edges { node { id title read seen createdAt } } }
  }
}

mutation MarkAllRead {
  markAllRead { __typename ... on InboxChange { unreadCount seq } ... on Error { code message } }
}
`;
