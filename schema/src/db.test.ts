// Prepared statements: only statements marked as hot are kept by the connection; everything else
// (Prisma's own queries, whose texts follow client selections) stays unnamed, so the number of
// statements a connection keeps cannot grow with what clients ask for.
import { afterAll, expect, it } from 'vitest';
import { openPostgres, PREPARED_MARKER } from './db.ts';

const url = `${process.env.PIGEON_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'}`;
const db = openPostgres({ url, poolSize: 1 });
afterAll(() => db.close());

it('keeps marked statements prepared on the connection and leaves the rest unnamed', async () => {
  const prepared = async () =>
    (await db.prisma.$queryRaw<{ statement: string }[]>`SELECT statement FROM pg_prepared_statements`).map((r) => r.statement);
  for (let i = 0; i < 3; i++) {
    await db.prisma.$queryRaw`/* prepared */ SELECT ${i}::int AS hot`;
    await db.prisma.$queryRawUnsafe(`SELECT ${i}::int AS cold_${i}`);
  }
  const kept = await prepared();
  expect(kept.filter((s) => s.includes(PREPARED_MARKER))).toHaveLength(1);
  expect(kept.filter((s) => s.includes('cold_'))).toEqual([]);
});
