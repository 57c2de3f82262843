// `npm run migrate`: applies pending migrations to PostgreSQL (DATABASE_URL) or, when it is unset,
// to the embedded data directory — refusing clearly while a running process owns that directory.
import { DataDirLockedError } from './data-dir-lock.ts';
import { openEmbedded } from './db.ts';
import { applyMigrations } from './migrate.ts';
import { DEFAULT_DATA_DIR } from './paths.ts';

// This CLI is not part of a running service, so it reads only the two variables it needs.
const url = process.env.DATABASE_URL || undefined;
const dataDir = process.env.PIGEON_DATA_DIR || DEFAULT_DATA_DIR;
const log = (line: string) => process.stdout.write(`${line}\n`);

try {
  if (url) {
    const { applied } = await applyMigrations({ kind: 'postgres', connectionString: url }, { log });
    log(applied.length ? `applied ${applied.length} migration(s) to PostgreSQL` : 'PostgreSQL is up to date');
  } else {
    const db = await openEmbedded(dataDir);
    try {
      const { applied } = await applyMigrations({ kind: 'pglite', pglite: db.pglite as NonNullable<typeof db.pglite> }, { log });
      log(applied.length ? `applied ${applied.length} migration(s) to ${dataDir}` : `${dataDir} is up to date`);
    } finally {
      await db.close();
    }
  }
} catch (error) {
  if (error instanceof DataDirLockedError) {
    process.stderr.write(`${error.message}\nThe owning process migrates the embedded database itself when it starts.\n`);
    process.exit(1);
  }
  throw error;
}
