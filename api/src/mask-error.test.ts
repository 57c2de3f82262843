// Overload (no database connection in time) is a typed, retryable error; anything else unexpected
// is masked with a request id. Real errors from a real pool: one connection held, a second query.

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
