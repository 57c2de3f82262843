// The embedded mode: PGlite in a data directory owned by one process, API and workers together.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Database, DataDirLockedError, openEmbedded, openPostgres } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import { createLogger } from '@pigeon/worker';
import { Redis } from 'ioredis';
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
