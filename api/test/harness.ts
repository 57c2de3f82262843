// Test fixtures: every test file gets its own PostgreSQL database (migrated from the real
// migrations) and its own Redis key prefix, and talks to the real API in-process through
// yoga.fetch — no mocks of Postgres, Redis, BullMQ or Prisma.
import { randomBytes } from 'node:crypto';
import { type Database, openPostgres } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import {
  createLogger,
  createRenderQueue,
  createWebhookQueue,
  type RenderJobData,
  startWorkerRuntime,
  type WebhookJobData,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
  webhookSettings,
} from '@pigeon/worker';
import type { TargetPolicy } from '@pigeon/worker/webhooks/target';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type App, createApp } from '../src/app.ts';
import type { InboxRuntime } from '../src/context.ts';
import { type ApiEnv, loadApiEnv } from '../src/env.ts';
import { createInboxRuntime } from '../src/inbox/runtime.ts';

export const ADMIN_DATABASE_URL = process.env.PIGEON_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.PIGEON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, migrated PostgreSQL database; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = uniqueName('pigeon_test');
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name);
  await applyMigrations({ kind: 'postgres', connectionString: url });
  return {
    name,
    url,
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Removes every Redis key under a test's prefix (only its own). */
export async function flushPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

export interface TestApi {
  env: ApiEnv;
  db: Database;
  databaseUrl: string;
  redis: Redis;
  renderQueue: Queue<RenderJobData>;
  webhookQueue: Queue<WebhookJobData>;
  app: App;
  inbox: InboxRuntime;
  /** Runs one GraphQL operation in-process and returns the parsed JSON body and the response. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: { data?: T; errors?: any }; response: Response }>;
  close(): Promise<void>;
}

/** An API configuration for a test: its own database and Redis prefix, a free port, no logs. */
export function testEnv(databaseUrl: string, prefix: string, overrides: Record<string, string> = {}): ApiEnv {
  return loadApiEnv({
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...overrides,
  });
}

export async function createTestApi(
  overrides: Record<string, string> = {},
  options: { webhookTargets?: TargetPolicy } = {},
): Promise<TestApi> {
  const database = await createTestDatabase();
  const prefix = uniqueName('pigeontest');
  const env = testEnv(database.url, prefix, {
    // In-process requests all come from one "address"; tests of the limit itself override this.
    SIGNUP_MAX_PER_HOUR: '100000',
    ...overrides,
  });
  const db = openPostgres({ url: database.url, poolSize: 10 });
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null });
  const renderQueue = createRenderQueue(redis, { prefix });
  const webhookQueue = createWebhookQueue(redis, { prefix });
  const log = createLogger(env.LOG_LEVEL);
  const live = await createInboxRuntime({
    prisma: db.prisma,
    redis,
    redisUrl: env.REDIS_URL,
    prefix,
    log,
    recheckIntervalMs: env.INBOX_RECHECK_INTERVAL_MS,
  });
  const app = createApp({ db, redis, renderQueue, webhookQueue, env, log, inbox: live.inbox, webhookTargets: options.webhookTargets });
  return {
    env,
    db,
    databaseUrl: database.url,
    redis,
    renderQueue,
    webhookQueue,
    app,
    async gql(query, variables, headers = {}) {
      const response = await app.yoga.fetch('http://pigeon.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: await response.json(), response };
    },
    inbox: live.inbox,
    async close() {
      await app.stop();
      await live.close();
      await Promise.all([renderQueue.close(), webhookQueue.close()]);
      await flushPrefix(redis, prefix);
      await redis.quit();
      await db.close();
      await database.drop();
    },
  };
}

/** Anything that runs one GraphQL operation the way TestApi.gql does (in-process or over HTTP). */
export type GqlClient = Pick<TestApi, 'gql'>;

/** The same gql() over real HTTP, for servers running as their own processes or listeners. */
export function httpClient(base: string): GqlClient {
  return {
    async gql(query, variables, headers = {}) {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as { data?: any; errors?: any }, response };
    },
  };
}

export interface Tenant {
  userId: string;
  sessionHeaders: Record<string, string>;
  projectId: string;
  developmentId: string;
  productionId: string;
  apiKey: string;
  productionApiKey: string;
}

/** Signs a user up, returns headers that authenticate as their session (cookie + CSRF). */
export async function signUp(api: GqlClient, email = `${uniqueName('u')}@example.com`, password = 'correct horse battery staple') {
  const { body, response } = await api.gql(
    `mutation($input: SignUpInput!) { signUp(input: $input) { __typename ... on AuthPayload { csrfToken user { id } } ... on Error { code message } } }`,
    { input: { email, password } },
  );
  const result = body.data?.signUp;
  if (result?.__typename !== 'AuthPayload') throw new Error(`signUp failed: ${JSON.stringify(body)}`);
  const cookies = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return {
    userId: result.user.id as string,
    email,
    headers: { cookie: cookies, 'x-csrf-token': result.csrfToken as string },
  };
}

/** A user with a project, both environments, and an API key in each. */
export async function createTenant(api: GqlClient): Promise<Tenant> {
  const user = await signUp(api);
  const created = await api.gql(
    `mutation { createProject(input: { name: "Acme" }) { __typename ... on CreateProjectSuccess { project { id environments { id kind } } } } }`,
    {},
    user.headers,
  );
  const project = created.body.data?.createProject?.project;
  if (!project) throw new Error(`createProject failed: ${JSON.stringify(created.body)}`);
  const envId = (kind: string) => project.environments.find((e: { kind: string }) => e.kind === kind).id as string;
  const key = async (environmentId: string) => {
    const r = await api.gql(
      `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "test" }) { __typename ... on CreatedApiKey { secret } } }`,
      { e: environmentId },
      user.headers,
    );
    const secret = r.body.data?.createApiKey?.secret;
    if (!secret) throw new Error(`createApiKey failed: ${JSON.stringify(r.body)}`);
    return secret as string;
  };
  const developmentId = envId('DEVELOPMENT');
  const productionId = envId('PRODUCTION');
  return {
    userId: user.userId,
    sessionHeaders: user.headers,
    projectId: project.id,
    developmentId,
    productionId,
    apiKey: await key(developmentId),
    productionApiKey: await key(productionId),
  };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Mints a client token for `recipient` with an API key; returns the token and the recipient's id. */
export async function mintClientToken(
  api: GqlClient,
  apiKey: string,
  recipient: string,
  ttlSeconds?: number,
): Promise<{ token: string; recipientId: string; expiresAt: string }> {
  const r = await api.gql(
    `mutation($r: String!, $ttl: Int) { createClientToken(recipient: $r, ttlSeconds: $ttl) { token expiresAt recipient { id } } }`,
    { r: recipient, ttl: ttlSeconds },
    bearer(apiKey),
  );
  const minted = r.body.data?.createClientToken;
  if (!minted) throw new Error(`createClientToken failed: ${JSON.stringify(r.body)}`);
  return { token: minted.token, recipientId: minted.recipient.id, expiresAt: minted.expiresAt };
}

/** Starts the render worker (and reconciler) of this test's API in-process. */
export async function startTestWorker(
  api: TestApi,
  options: Partial<Omit<WorkerRuntimeOptions, 'db' | 'log'>> = {},
): Promise<WorkerRuntime> {
  return startWorkerRuntime({
    db: api.db,
    redisUrl: api.env.REDIS_URL,
    redisPrefix: api.env.REDIS_PREFIX,
    concurrency: 4,
    reconcileAfterMs: 60_000,
    reconcileIntervalMs: 1_000,
    renderThreads: 1,
    renderTimeoutMs: 1_000,
    inboxRetentionHours: 72,
    inboxPruneIntervalMs: 600_000,
    webhookConcurrency: 16,
    webhooks: webhookSettings(api.env),
    webhookRetentionHours: 720,
    webhookPruneIntervalMs: 600_000,
    log: createLogger('silent'),
    ...options,
  });
}
