// Applies the SQL migrations in prisma/migrations without the Prisma CLI (which cannot fetch its native
// engine offline) while keeping Prisma's bookkeeping: the `_prisma_migrations` table has the columns and
// meaning that `prisma migrate deploy` uses, so either tool can take over a database the other migrated.
import { createHash, randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export type MigrationTarget = { kind: 'pglite'; pglite: PGlite } | { kind: 'postgres'; connectionString: string };

export type ApplyMigrationsOptions = {
  log?: (line: string) => void;
  /** Defaults to this package's `prisma/migrations`; tests point it elsewhere. */
  migrationsDir?: string;
};

export type MigrationErrorCode = 'INVALID_MIGRATIONS_DIRECTORY' | 'CHECKSUM_MISMATCH' | 'UNFINISHED_MIGRATION' | 'MIGRATION_FAILED';

export class MigrationError extends Error {
  override name = 'MigrationError';
  readonly code: MigrationErrorCode;

  constructor(code: MigrationErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export type Migration = {
  /** Directory name, e.g. `20260101120000_init`; the order of names is the order of application. */
  name: string;
  script: string;
  checksum: string;
};

export const migrationsDirectory = fileURLToPath(new URL('../prisma/migrations', import.meta.url));

/** Prisma's own key (`prisma migrate` takes the same lock), so our runner and the CLI exclude each other. */
const ADVISORY_LOCK_KEY = 72707369;

// Prisma's DDL for PostgreSQL, verbatim, so that the table is indistinguishable from one Prisma created.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export function checksumOf(script: string): string {
  return createHash('sha256').update(script).digest('hex');
}

// Same tolerance as the schema engine: git may turn LF into CRLF on checkout, which must not read as an edit.
function matchesChecksum(script: string, checksum: string): boolean {
  return [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')].some((variant) => checksumOf(variant) === checksum);
}

export async function readMigrations(dir: string = migrationsDirectory): Promise<Migration[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const names = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      let script: string;
      try {
        script = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      } catch (error) {
        throw new MigrationError(
          'INVALID_MIGRATIONS_DIRECTORY',
          `${join(dir, name)} has no readable migration.sql; every directory in ${dir} must be a migration.`,
          { cause: error },
        );
      }
      return { name, script, checksum: checksumOf(script) };
    }),
  );
}

type Queryable = {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a multi-statement script. */
  exec(script: string): Promise<void>;
};

type Connection = Queryable & {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
};

type MigrationRow = {
  id: string;
  migration_name: string;
  checksum: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
};

/**
 * Applies the migrations not yet recorded in `_prisma_migrations`, in name order, each in its own
 * transaction. Safe to call on every start: with nothing pending it only reads the table.
 *
 * On PostgreSQL it holds an advisory lock for the whole run, so processes starting together apply each
 * migration once; the others wait and then find nothing to do.
 *
 * @example
 * const { applied } = await applyMigrations({ kind: 'postgres', connectionString }, { log: console.log });
 */
export async function applyMigrations(target: MigrationTarget, opts: ApplyMigrationsOptions = {}): Promise<{ applied: string[] }> {
  const log = opts.log ?? (() => {});
  const migrations = await readMigrations(opts.migrationsDir ?? migrationsDirectory);
  const run = (connection: Connection) => applyPending(connection, migrations, log);
  return target.kind === 'postgres' ? withPostgres(target.connectionString, log, run) : withPGlite(target.pglite, run);
}

async function applyPending(connection: Connection, migrations: Migration[], log: (line: string) => void): Promise<{ applied: string[] }> {
  await connection.exec(CREATE_MIGRATIONS_TABLE);
  const rows = await connection.query<MigrationRow>(
    `SELECT id, migration_name, checksum, started_at, finished_at, rolled_back_at, logs
       FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
  // Rolled-back rows are history only, exactly as Prisma treats them.
  const live = rows.filter((row) => row.rolled_back_at === null);

  const unfinished = live.filter((row) => row.finished_at === null);
  if (unfinished.length > 0) {
    const list = unfinished
      .map((row) => `  - ${row.migration_name} (id ${row.id}, started ${row.started_at.toISOString()})${row.logs ? `: ${row.logs}` : ''}`)
      .join('\n');
    // Our runner never leaves such a row (it rolls back and records rolled_back_at), so another tool or a
    // non-transactional run died midway and the schema may be half-changed: a human has to look first.
    throw new MigrationError(
      'UNFINISHED_MIGRATION',
      `The database has migrations that started but never finished:\n${list}\n` +
        'Check what they changed, repair the schema by hand, then mark them rolled back so they are retried:\n' +
        `  UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id IN (${unfinished.map((row) => `'${row.id}'`).join(', ')});`,
    );
  }

  const byName = new Map(migrations.map((migration) => [migration.name, migration]));
  const edited = live.flatMap((row) => {
    const migration = byName.get(row.migration_name);
    return migration && !matchesChecksum(migration.script, row.checksum) ? [{ row, migration }] : [];
  });
  if (edited.length > 0) {
    const list = edited
      .map(({ row, migration }) => `  - ${row.migration_name}: applied ${row.checksum}, file now ${migration.checksum}`)
      .join('\n');
    throw new MigrationError(
      'CHECKSUM_MISMATCH',
      `Migrations already applied to this database were edited afterwards:\n${list}\n` +
        'An applied migration must never change. Restore the file from version control and put the change ' +
        'in a new migration (npm run migrate:new -w @pigeon/schema -- <name>).',
    );
  }

  const appliedNames = new Set(live.map((row) => row.migration_name));
  const unknown = [...appliedNames].filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    // Not an error: during a rolling deploy a newer release may already have migrated the database.
    log(`warning: the database has migrations this build does not know: ${unknown.join(', ')}`);
  }

  const pending = migrations.filter((migration) => !appliedNames.has(migration.name));
  if (pending.length === 0) {
    log(`migrations: ${migrations.length} applied, none pending`);
    return { applied: [] };
  }

  const applied: string[] = [];
  for (const migration of pending) {
    const started = performance.now();
    const id = randomUUID();
    try {
      await connection.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), 0)`,
          [id, migration.checksum, migration.name],
        );
        await tx.exec(migration.script);
        await tx.query(`UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`, [id]);
      });
    } catch (error) {
      const reason = describeDatabaseError(error);
      // The transaction left the schema untouched; a rolled-back row keeps the attempt on record without
      // blocking the next run (Prisma ignores rolled-back rows too).
      await connection
        .query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, rolled_back_at, applied_steps_count)
           VALUES ($1, $2, $3, $4, now(), now(), 0)`,
          [id, migration.checksum, migration.name, reason],
        )
        .catch(() => {});
      throw new MigrationError(
        'MIGRATION_FAILED',
        `Migration ${migration.name} failed and was rolled back: ${reason}` +
          (applied.length > 0 ? ` (applied before it in this run: ${applied.join(', ')})` : ''),
        { cause: error },
      );
    }
    applied.push(migration.name);
    log(`migrations: applied ${migration.name} in ${Math.round(performance.now() - started)} ms`);
  }
  return { applied };
}

function describeDatabaseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const details = error as Error & { code?: string; detail?: string; hint?: string; where?: string };
  return [
    details.code ? `${details.message} (SQLSTATE ${details.code})` : details.message,
    details.detail && `detail: ${details.detail}`,
    details.hint && `hint: ${details.hint}`,
    details.where && `where: ${details.where}`,
  ]
    .filter(Boolean)
    .join('; ');
}

async function withPostgres<T>(
  connectionString: string,
  log: (line: string) => void,
  fn: (connection: Connection) => Promise<T>,
): Promise<T> {
  // One dedicated session rather than a pool: the advisory lock belongs to the session that took it.
  const client = new pg.Client({ connectionString, application_name: 'pigeon-migrate' });
  // A connection dropping between queries emits 'error' on the client; without a listener that would crash
  // the process instead of failing the pending query.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    // Like `prisma migrate deploy`, create a missing database rather than fail on a fresh server.
    if ((error as { code?: string }).code !== '3D000') throw error;
    await createDatabase(connectionString, log);
    return withPostgres(connectionString, log, fn);
  }
  try {
    const [probe] = (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [ADVISORY_LOCK_KEY])).rows;
    if (!probe?.locked) {
      log('migrations: another process is migrating this database; waiting for it to finish');
      await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    }
    const connection: Connection = {
      query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[],
      exec: async (script) => {
        // Without parameters pg uses the simple query protocol, which accepts several statements at once.
        await client.query(script);
      },
      transaction: async (body) => {
        await client.query('BEGIN');
        try {
          const result = await body(connection);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      },
    };
    return await fn(connection);
  } finally {
    // Ending the session is what releases the advisory lock, on success and on failure alike.
    await client.end().catch(() => {});
  }
}

async function createDatabase(connectionString: string, log: (line: string) => void): Promise<void> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), application_name: 'pigeon-migrate' });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    log(`migrations: created database ${name}`);
  } catch (error) {
    // Another process created it first: fine.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await admin.end().catch(() => {});
  }
}

// PGlite has a single session, so an advisory lock would exclude nobody; overlapping calls in this process
// are queued per instance instead.
const pgliteQueues = new WeakMap<PGlite, Promise<unknown>>();

async function withPGlite<T>(pglite: PGlite, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const previous = pgliteQueues.get(pglite) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => fn(pgliteConnection(pglite)));
  pgliteQueues.set(pglite, run);
  return run;
}

function pgliteConnection(pglite: PGlite): Connection {
  return {
    query: async <R>(sql: string, params?: unknown[]) => (await pglite.query<R>(sql, params)).rows,
    exec: async (script) => {
      await pglite.exec(script);
    },
    transaction: (body) =>
      pglite.transaction((tx) =>
        body({
          query: async <R>(sql: string, params?: unknown[]) => (await tx.query<R>(sql, params)).rows,
          exec: async (script) => {
            await tx.exec(script);
          },
        }),
      ),
  };
}
