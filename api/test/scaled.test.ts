// The scaled topology as separate processes: `api/src/scaled.ts` (what `npm run start:scaled`
// runs) migrates a fresh PostgreSQL database and starts two API processes sharing one port and
// two worker processes; a send over real HTTP comes back DELIVERED by a worker process.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL, flushPrefix, TEST_REDIS_URL, uniqueName } from './harness.ts';

const entry = fileURLToPath(new URL('../src/scaled.ts', import.meta.url));
let child: ChildProcess;
let base: string;
let databaseName: string;
const prefix = uniqueName('pigeonscaled');
let output = '';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function gql(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { res, body: (await res.json()) as any };
}

beforeAll(async () => {
  databaseName = uniqueName('pigeon_scaled');
  await admin((c) => c.query(`CREATE DATABASE ${databaseName}`));
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${databaseName}`;
  const port = await freePort();
  base = `http://localhost:${port}`;
  child = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      DATABASE_URL: url.toString(),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SCALED_API_PROCESSES: '2',
      SCALED_WORKER_PROCESSES: '2',
      DATABASE_POOL_SIZE: '4',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const deadline = Date.now() + 45_000;
  while (!output.includes('scaled topology ready')) {
    if (child.exitCode !== null) throw new Error(`scaled topology exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`scaled topology did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
  }
  const redis = new Redis(TEST_REDIS_URL);
  await flushPrefix(redis, prefix);
  await redis.quit();
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`));
});

it('delivers a send through separate API and worker processes, then stops gracefully on SIGTERM', async () => {
  const signUp = await gql(
    `mutation { signUp(input: { email: "ops@example.com", password: "a long enough password" }) { __typename ... on AuthPayload { csrfToken } } }`,
  );
  const session = {
    cookie: signUp.res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; '),
    'x-csrf-token': signUp.body.data.signUp.csrfToken,
  };
  const project = await gql(
    `mutation { createProject(input: { name: "Scaled" }) { ... on CreateProjectSuccess { project { environments { id kind } } } } }`,
    {},
    session,
  );
  const dev = project.body.data.createProject.project.environments.find((e: { kind: string }) => e.kind === 'DEVELOPMENT');
  const key = await gql(
    `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "k" }) { ... on CreatedApiKey { secret } } }`,
    { e: dev.id },
    session,
  );
  const auth = { authorization: `Bearer ${key.body.data.createApiKey.secret}` };

  // Separate connections, so the cluster can hand them to either API process.
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const sent = await gql(
      `mutation($i: SendInput!) { send(input: $i) { ... on SendSuccess { notification { id status } } } }`,
      { i: { to: `user-${i % 2}`, title: `hello ${i}`, body: 'from the scaled topology' } },
      { ...auth, connection: 'close' },
    );
    expect(sent.body.data.send.notification.status).toBe('ACCEPTED');
    ids.push(sent.body.data.send.notification.id);
  }
  await expect
    .poll(
      async () => {
        const r = await gql(`{ notifications(first: 20) { edges { node { id status } } } }`, {}, auth);
        return r.body.data.notifications.edges.filter((e: { node: { status: string } }) => e.node.status === 'DELIVERED').length;
      },
      { timeout: 15_000, interval: 100 },
    )
    .toBe(ids.length);

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 60_000);
