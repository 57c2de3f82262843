// The embedded mode: PGlite in a data directory owned by one process, API and workers together.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Database, DataDirLockedError, openEmbedded, openPostgres } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import { createLogger } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadApiEnv } from '../src/env.ts';
import { seed } from '../src/seed.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { createTestDatabase, flushPrefix, TEST_REDIS_URL, uniqueName } from './harness.ts';

const dataDir = join(mkdtempSync(join(tmpdir(), 'pigeon-embedded-')), 'nested', 'pglite');
const prefix = uniqueName('pigeonembedded');
let db: Database;
let server: RunningServer;

beforeAll(async () => {
  db = await openEmbedded(dataDir);
  const pglite = db.pglite;
  if (!pglite) throw new Error('embedded database without PGlite');
  await applyMigrations({ kind: 'pglite', pglite });
  const env = loadApiEnv({ REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PIGEON_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
  server = await startServer({ env, db, log: createLogger('silent'), withWorkers: true });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.close();
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  rmSync(dataDir, { recursive: true, force: true });
});

it('migrates, seeds and delivers a templated send in one process', async () => {
  const seeded = await seed(db.prisma);
  expect(seeded.apiKey).toMatch(/^sk_dev_/);
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${seeded.apiKey}` },
    body: JSON.stringify({
      query: `mutation { send(input: { to: "embedded-user", recipient: { name: "Lin" }, template: "welcome" }) { ... on SendSuccess { notification { id } } } }`,
    }),
  });
  const id = ((await res.json()) as any).data.send.notification.id as string;
  await expect
    .poll(async () => (await db.prisma.notification.findUniqueOrThrow({ where: { id } })).status, { timeout: 10_000, interval: 50 })
    .toBe('DELIVERED');
  const n = await db.prisma.notification.findUniqueOrThrow({ where: { id } });
  expect(n.title).toBe('Welcome, Lin!');
  expect(await db.prisma.inboxEvent.count({ where: { notificationId: id } })).toBe(1);
});

it('refuses a second owner of the data directory, in this process and in another', async () => {
  await expect(openEmbedded(dataDir)).rejects.toBeInstanceOf(DataDirLockedError);
  const start = fileURLToPath(new URL('../src/start.ts', import.meta.url));
  const second = spawnSync(process.execPath, [start], {
    env: { ...process.env, DATABASE_URL: '', PIGEON_DATA_DIR: dataDir, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(second.status).toBe(1);
  expect(second.stderr).toContain(`already owned by process ${process.pid}`);

  // The standalone commands refuse too, instead of writing behind the owner's back.
  for (const cli of ['../../schema/src/migrate-cli.ts', '../src/seed-cli.ts']) {
    const run = spawnSync(process.execPath, [fileURLToPath(new URL(cli, import.meta.url))], {
      env: { ...process.env, DATABASE_URL: '', PIGEON_DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, cli).toBe(1);
    expect(run.stderr, cli).toContain('already owned by process');
  }
});

it('seeds PostgreSQL from the command line and prints the key on a line of its own', async () => {
  const database = await createTestDatabase();
  try {
    const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/seed-cli.ts', import.meta.url))], {
      env: { ...process.env, DATABASE_URL: database.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const keyLine = run.stdout.split('\n').find((l) => l.startsWith('PIGEON_API_KEY='));
    expect(keyLine).toMatch(/^PIGEON_API_KEY=sk_dev_[\w-]{43}$/);
    // Running it again keeps the one demo project and prints a new, different key.
    const again = spawnSync(process.execPath, [fileURLToPath(new URL('../src/seed-cli.ts', import.meta.url))], {
      env: { ...process.env, DATABASE_URL: database.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(again.stdout).toMatch(/^PIGEON_API_KEY=sk_dev_/m);
    expect(again.stdout).not.toContain(keyLine);
    const seeded = openPostgres({ url: database.url, poolSize: 1 });
    expect(await seeded.prisma.project.count()).toBe(1);
    expect(await seeded.prisma.apiKey.count()).toBe(2);
    await seeded.close();
  } finally {
    await database.drop();
  }
});

it('`npm start` delivers signed webhooks to a receiver on this machine (the local start allows loopback)', async () => {
  const received: { headers: Record<string, string>; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
      res.end('thanks');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
  const ownDir = mkdtempSync(join(tmpdir(), 'pigeon-start-'));
  const ownPrefix = uniqueName('pigeonstart');
  // WEBHOOK_ALLOW_LIST unset: the one-process start allows loopback by itself.
  const { WEBHOOK_ALLOW_LIST: _unset, ...inherited } = process.env;
  const child = spawn(process.execPath, [fileURLToPath(new URL('../src/start.ts', import.meta.url))], {
    env: {
      ...inherited,
      DATABASE_URL: '',
      PIGEON_DATA_DIR: join(ownDir, 'pglite'),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: ownPrefix,
      PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  try {
    await expect
      .poll(() => /GraphQL: +(\S+)\/graphql/.test(stdout) && /PIGEON_API_KEY=/.test(stdout), { timeout: 45_000, interval: 100 })
      .toBe(true);
    const base = (/GraphQL: +(\S+)\/graphql/.exec(stdout) as RegExpExecArray)[1] as string;
    const apiKey = (/PIGEON_API_KEY=(\S+)/.exec(stdout) as RegExpExecArray)[1] as string;
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query, variables }),
      });
      return ((await res.json()) as any).data;
    };
    const created = await gql(
      `mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: ["notification.delivered"] }) {
         __typename ... on CreatedWebhookEndpoint { secret } ... on ValidationError { message } } }`,
      { url: receiverUrl },
    );
    expect(created.createWebhookEndpoint.__typename, JSON.stringify(created)).toBe('CreatedWebhookEndpoint');
    const sent = await gql(
      `mutation { send(input: { to: "demo-user", title: "Hello", body: "from the demo" }) { ... on SendSuccess { notification { id } } } }`,
    );
    const id = sent.send.notification.id as string;
    await expect.poll(() => received.length, { timeout: 15_000, interval: 50 }).toBe(1);
    const [request] = received as [{ headers: Record<string, string>; body: string }];
    const event = new Webhook(created.createWebhookEndpoint.secret).verify(request.body, request.headers) as any;
    expect(event).toMatchObject({
      type: 'notification.delivered',
      data: { id, status: 'DELIVERED', title: 'Hello', recipient: { id: 'demo-user' } },
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- start.ts stderr ---\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    receiver.closeAllConnections();
    receiver.close();
    const redis = new Redis(TEST_REDIS_URL);
    await flushPrefix(redis, ownPrefix);
    await redis.quit();
    rmSync(ownDir, { recursive: true, force: true });
  }
}, 90_000);
