// `npm run seed`: for PostgreSQL (DATABASE_URL), or for the embedded directory when no process owns
// it. The embedded database is otherwise seeded by `npm start` on its first run.
import { DataDirLockedError, openEmbedded, openPostgres } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import { loadOrExit } from '@pigeon/worker';
import { loadApiEnv } from './env.ts';
import { printSeed, seed } from './seed.ts';

const env = loadOrExit(() => loadApiEnv());
try {
  const db = env.DATABASE_URL ? openPostgres({ url: env.DATABASE_URL, poolSize: 2 }) : await openEmbedded(env.PIGEON_DATA_DIR);
  try {
    await applyMigrations(
      db.pglite ? { kind: 'pglite', pglite: db.pglite } : { kind: 'postgres', connectionString: env.DATABASE_URL as string },
    );
    printSeed(await seed(db.prisma));
  } finally {
    await db.close();
  }
} catch (error) {
  if (error instanceof DataDirLockedError) {
    process.stderr.write(`${error.message}\nThe running process seeded it on its first start; stop it to seed again.\n`);
    process.exit(1);
  }
  throw error;
}
