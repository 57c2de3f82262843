// Overload (no database connection in time) and an unreachable database are typed, retryable
// errors; anything else unexpected is masked with a request id. Real errors from a real pool: one connection held, a second query.

import { type Database, openPostgres } from '@pigeon/schema';
import { createLogger } from '@pigeon/worker';
import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../test/harness.ts';
import { maskError } from './mask-error.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
beforeAll(async () => {
  database = await createTestDatabase();
  db = openPostgres({ url: database.url, poolSize: 1, connectionTimeoutMs: 200 });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const log = createLogger('silent');

it('answers a query that found no free connection with OVERLOADED, retryAfter and HTTP 503', async () => {
  let release: () => void = () => {};
  const held = db.prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1`;
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const failure = await db.prisma.$queryRaw`SELECT 2`.then(
    () => null,
    (error: unknown) => error,
  );
  release();
  await held;
  expect(failure).not.toBeNull();
  const masked = maskError(new GraphQLError('wrapped', { originalError: failure as Error }), 'Unexpected error.', log) as GraphQLError;
  expect(masked.message).toBe('The service is overloaded; retry shortly.');
  expect(masked.extensions).toMatchObject({ code: 'OVERLOADED', retryAfter: 1, http: { status: 503 } });
});

it('still masks other unexpected errors with a request id', () => {
  const masked = maskError(
    new GraphQLError('wrapped', { originalError: new Error('relation "x" does not exist') }),
    'Unexpected error.',
    log,
  ) as GraphQLError;
  expect(masked.message).toBe('Unexpected error.');
  expect(masked.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) });
});

it('answers UNAVAILABLE, retryAfter and HTTP 503 when PostgreSQL refuses connections', async () => {
  // A port nothing listens on: the connect is refused, as while PostgreSQL is stopped.
  const down = openPostgres({ url: 'postgresql://postgres@127.0.0.1:9/test', poolSize: 1, connectionTimeoutMs: 2_000 });
  try {
    const failure = await down.prisma.$queryRaw`SELECT 1`.then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).not.toBeNull();
    const masked = maskError(new GraphQLError('wrapped', { originalError: failure as Error }), 'Unexpected error.', log) as GraphQLError;
    expect(masked.message).toMatch(/^The database is unavailable; retry shortly\./);
    expect(masked.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfter: 1, http: { status: 503 } });
  } finally {
    await down.close();
  }
});

it('answers UNAVAILABLE when PostgreSQL ends the connection under a running query (shutdown)', async () => {
  const [backend] = await db.prisma.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  const pid = backend?.pid as number;
  const running = db.prisma.$queryRaw`SELECT 1 AS one FROM pg_sleep(10)`.then(
    () => null,
    (error: unknown) => error,
  );
  // What a fast shutdown does to every backend: 57P01, "terminating connection due to administrator command".
  const admin = openPostgres({ url: database.url, poolSize: 1 });
  try {
    // Only once the sleep runs: a connection ended while idle in the pool is a different story.
    await expect
      .poll(async () => {
        const [row] = await admin.prisma.$queryRaw<{ running: boolean }[]>`
          SELECT count(*) > 0 AS running FROM pg_stat_activity
           WHERE pid = ${pid}::int AND state = 'active' AND query LIKE '%pg_sleep%'`;
        return row?.running;
      })
      .toBe(true);
    const [row] = await admin.prisma.$queryRaw<{ done: boolean }[]>`SELECT pg_terminate_backend(${pid}::int) AS done`;
    expect(row?.done).toBe(true);
  } finally {
    await admin.close();
  }
  const failure = await running;
  expect(failure).not.toBeNull();
  const masked = maskError(new GraphQLError('wrapped', { originalError: failure as Error }), 'Unexpected error.', log) as GraphQLError;
  expect(masked.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfter: 1, http: { status: 503 } });
});
