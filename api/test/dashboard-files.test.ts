// The API process serves the dashboard's build at / (same origin as /graphql), with the page for
// the app's routes, immutable caching for hashed assets, and nothing outside the build directory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres } from '@pigeon/schema';
import { createLogger } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/server.ts';
import { createTestDatabase, flushPrefix, TEST_REDIS_URL, testEnv, uniqueName } from './harness.ts';

let dir: string;
let server: RunningServer;
let base: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: ReturnType<typeof openPostgres>;
const prefix = uniqueName('pigeondash');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pigeon-dashboard-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>Pigeon</title><div id="root"></div>');
  await writeFile(join(dir, 'assets', 'app-3f9a.js'), 'console.log("app")');
  await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(tmpdir(), 'pigeon-outside.txt'), 'outside');
  database = await createTestDatabase();
  db = openPostgres({ url: database.url, poolSize: 4 });
  server = await startServer({
    env: testEnv(database.url, prefix, { DASHBOARD_DIR: dir }),
    db,
    log: createLogger('silent'),
    withWorkers: false,
  });
  base = server.url.replace('//localhost:', '//127.0.0.1:');
});

afterAll(async () => {
  await server?.stop();
  await db?.close();
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A raw GET (fetch would normalize "/../" away before it reaches the server). */
function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('serves the page at / and at every route of the app, with a strict policy', async () => {
  for (const path of ['/', '/projects/123/keys', '/invitations/abc?x=1']) {
    const r = await get(path);
    expect(r.status, path).toBe(200);
    expect(r.body).toContain('<div id="root">');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['x-frame-options']).toBe('DENY');
  }
});

it('serves hashed assets as immutable and other files as they are', async () => {
  const js = await get('/assets/app-3f9a.js');
  expect(js).toMatchObject({ status: 200, body: 'console.log("app")' });
  expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  const svg = await get('/favicon.svg');
  expect(svg.headers['content-type']).toBe('image/svg+xml');
  expect(svg.headers['cache-control']).toBe('no-cache');
});

it('answers 404 for missing files and never reads outside the build', async () => {
  expect((await get('/assets/missing.js')).status).toBe(404);
  for (const path of ['/../pigeon-outside.txt', '/%2e%2e/pigeon-outside.txt', '/assets/..%2f..%2fpigeon-outside.txt', '/%00']) {
    const r = await get(path);
    expect(r.body, path).not.toContain('outside');
    expect(r.body, path).not.toContain('<div id="root">');
  }
});

it('leaves /graphql, GraphiQL and the health checks to the API', async () => {
  const graphql = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  expect(await graphql.json()).toEqual({ data: { me: null } });
  const graphiql = await get('/graphql', { accept: 'text/html' });
  expect(graphiql.body).toContain('Pigeon GraphiQL');
  expect((await get('/healthz')).body).toContain('ok');
});
