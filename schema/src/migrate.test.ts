// Runs the migration runner and the drift check against the real thing: the shared PostgreSQL server on
// 127.0.0.1:5432 (one fresh database per test, dropped afterwards) and PGlite in memory and on disk.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { diffMigrationsToSchema, schemaPath } from './check-drift.ts';
import { applyMigrations, checksumOf, MigrationError, migrationsDirectory, readMigrations } from './migrate.ts';

const SERVER = 'postgresql://postgres@127.0.0.1:5432';
const ADMIN_URL = `${SERVER}/test`;

const MODEL_TABLES = [
  'api_keys',
  'environments',
  'inbox_events',
  'invitations',
  'memberships',
  'notifications',
  'projects',
  'recipients',
  'sessions',
  'templates',
  'users',
  'webhook_attempts',
  'webhook_deliveries',
  'webhook_endpoint_events',
  'webhook_endpoints',
];
const ENUM_TYPES = ['EnvironmentKind', 'InboxEventType', 'NotificationStatus', 'Role', 'WebhookAttemptTrigger', 'WebhookDeliveryStatus'];

const migrations = await readMigrations();
const migrationNames = migrations.map((migration) => migration.name);

const createdDatabases: string[] = [];
const temporaryDirectories: string[] = [];

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the shared server; dropped when this file's tests end. */
async function freshDatabase(): Promise<string> {
  const name = `pigeon_migrate_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  createdDatabases.push(name);
  return `${SERVER}/${name}`;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const TABLES_SQL = `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
const ENUMS_SQL = `SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'public' AND t.typtype = 'e' ORDER BY t.typname`;
const ROWS_SQL = `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
                    FROM "_prisma_migrations" ORDER BY started_at, migration_name`;

type MigrationRow = {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
};

async function temporaryDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pigeon-migrate-test-'));
  temporaryDirectories.push(dir);
  return dir;
}

afterAll(async () => {
  await withAdmin(async (client) => {
    for (const name of createdDatabases) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  for (const dir of temporaryDirectories) await rm(dir, { recursive: true, force: true });
});

test('the migrations directory is not empty', () => {
  expect(migrationNames.length).toBeGreaterThan(0);
});

describe('applyMigrations on PostgreSQL', () => {
  test('creates the database first when it does not exist yet', async () => {
    const name = `pigeon_migrate_test_${randomBytes(6).toString('hex')}`;
    createdDatabases.push(name);
    const lines: string[] = [];
    const result = await applyMigrations({ kind: 'postgres', connectionString: `${SERVER}/${name}` }, { log: (line) => lines.push(line) });
    expect(result.applied).toEqual(migrationNames);
    expect(lines).toContain(`migrations: created database ${name}`);
  });

  test('creates every table on an empty database and records each migration like Prisma', async () => {
    const url = await freshDatabase();
    const lines: string[] = [];

    const result = await applyMigrations({ kind: 'postgres', connectionString: url }, { log: (line) => lines.push(line) });

    expect(result.applied).toEqual(migrationNames);
    expect((await query<{ tablename: string }>(url, TABLES_SQL)).map((row) => row.tablename)).toEqual([
      '_prisma_migrations',
      ...MODEL_TABLES,
    ]);
    expect((await query<{ typname: string }>(url, ENUMS_SQL)).map((row) => row.typname)).toEqual(ENUM_TYPES);

    const rows = await query<MigrationRow>(url, ROWS_SQL);
    expect(rows).toHaveLength(migrations.length);
    for (const [index, row] of rows.entries()) {
      const migration = migrations[index];
      const script = await readFile(join(migrationsDirectory, row.migration_name, 'migration.sql'), 'utf8');
      expect(row).toMatchObject({
        migration_name: migration?.name,
        checksum: checksumOf(script),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at?.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    }
    expect(lines.some((line) => line.includes(migrationNames[0] ?? '?'))).toBe(true);
  });

  test('applies nothing when run again', async () => {
    const url = await freshDatabase();
    await applyMigrations({ kind: 'postgres', connectionString: url });

    const again = await applyMigrations({ kind: 'postgres', connectionString: url });

    expect(again.applied).toEqual([]);
    expect(await query(url, ROWS_SQL)).toHaveLength(migrations.length);
  });

  test('concurrent runners from several processes each see success, and every migration is applied once', async () => {
    const url = await freshDatabase();
    // Separate OS processes, as when several API and worker replicas start together, plus this one.
    const child = `
      import { applyMigrations } from ${JSON.stringify(join(import.meta.dirname, 'migrate.ts'))};
      const result = await applyMigrations({ kind: 'postgres', connectionString: process.env.TARGET_URL });
      process.stdout.write(JSON.stringify(result));
    `;
    const run = promisify(execFile);
    const inChild = () =>
      run(process.execPath, ['--input-type=module', '--eval', child], {
        env: { ...process.env, TARGET_URL: url },
      }).then(({ stdout }) => JSON.parse(stdout) as { applied: string[] });

    const results = await Promise.all([
      inChild(),
      inChild(),
      applyMigrations({ kind: 'postgres', connectionString: url }),
      applyMigrations({ kind: 'postgres', connectionString: url }),
    ]);

    expect(results.flatMap((result) => result.applied).sort()).toEqual(migrationNames);
    const counts = await query<{ migration_name: string; count: number }>(
      url,
      `SELECT migration_name, count(*)::int AS count FROM "_prisma_migrations" GROUP BY migration_name ORDER BY 1`,
    );
    expect(counts).toEqual(migrationNames.map((name) => ({ migration_name: name, count: 1 })));
    expect((await query<{ tablename: string }>(url, TABLES_SQL)).map((row) => row.tablename)).toEqual([
      '_prisma_migrations',
      ...MODEL_TABLES,
    ]);
  }, 60_000);

  test('refuses to run when an applied migration was edited', async () => {
    const url = await freshDatabase();
    await applyMigrations({ kind: 'postgres', connectionString: url });
    const first = migrationNames[0] ?? '';
    await query(url, `UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2`, [
      checksumOf('-- some other script\n'),
      first,
    ]);

    const attempt = applyMigrations({ kind: 'postgres', connectionString: url });

    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(first) });
  });

  test('accepts an applied migration whose line endings changed (git autocrlf)', async () => {
    const url = await freshDatabase();
    const dir = await temporaryDirectory();
    await cp(migrationsDirectory, dir, { recursive: true });
    await applyMigrations({ kind: 'postgres', connectionString: url }, { migrationsDir: dir });
    for (const name of migrationNames) {
      const file = join(dir, name, 'migration.sql');
      await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));
    }

    await expect(applyMigrations({ kind: 'postgres', connectionString: url }, { migrationsDir: dir })).resolves.toEqual({
      applied: [],
    });
  });

  test('rolls a failing migration back completely, records the attempt, and retries it next time', async () => {
    const url = await freshDatabase();
    const dir = await temporaryDirectory();
    await cp(migrationsDirectory, dir, { recursive: true });
    const broken = '29991231235959_broken';
    await mkdir(join(dir, broken));
    await writeFile(join(dir, broken, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT 1 / 0;\n');

    const attempt = applyMigrations({ kind: 'postgres', connectionString: url }, { migrationsDir: dir });

    await expect(attempt).rejects.toMatchObject({
      code: 'MIGRATION_FAILED',
      message: expect.stringMatching(/29991231235959_broken.*division by zero/),
    });
    const tables = (await query<{ tablename: string }>(url, TABLES_SQL)).map((row) => row.tablename);
    expect(tables).not.toContain('half_done');
    expect(tables).toContain('users');
    const [failed] = await query<MigrationRow>(url, `${ROWS_SQL.replace('ORDER BY', 'WHERE migration_name = $1 ORDER BY')}`, [broken]);
    expect(failed).toMatchObject({
      finished_at: null,
      applied_steps_count: 0,
      logs: expect.stringContaining('division by zero'),
    });
    expect(failed?.rolled_back_at).toBeInstanceOf(Date);

    await writeFile(join(dir, broken, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\n');
    const retry = await applyMigrations({ kind: 'postgres', connectionString: url }, { migrationsDir: dir });

    expect(retry.applied).toEqual([broken]);
    expect((await query<{ tablename: string }>(url, TABLES_SQL)).map((row) => row.tablename)).toContain('half_done');
  });

  test('refuses to run past a migration another tool left unfinished', async () => {
    const url = await freshDatabase();
    await applyMigrations({ kind: 'postgres', connectionString: url });
    await query(
      url,
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('00000000-0000-4000-8000-000000000000', $1, '29991231235959_crashed', now(), 0)`,
      [checksumOf('')],
    );

    await expect(applyMigrations({ kind: 'postgres', connectionString: url })).rejects.toMatchObject({
      code: 'UNFINISHED_MIGRATION',
      message: expect.stringContaining('29991231235959_crashed'),
    });
  });
});

describe('applyMigrations on PGlite', () => {
  async function tables(pglite: PGlite): Promise<string[]> {
    return (await pglite.query<{ tablename: string }>(TABLES_SQL)).rows.map((row) => row.tablename);
  }

  test('in memory: creates every table, then applies nothing, also when called concurrently', async () => {
    const pglite = new PGlite();
    try {
      const [first, second] = await Promise.all([applyMigrations({ kind: 'pglite', pglite }), applyMigrations({ kind: 'pglite', pglite })]);

      expect([...first.applied, ...second.applied]).toEqual(migrationNames);
      expect(await tables(pglite)).toEqual(['_prisma_migrations', ...MODEL_TABLES]);
      expect((await pglite.query<{ typname: string }>(ENUMS_SQL)).rows.map((row) => row.typname)).toEqual(ENUM_TYPES);
      expect((await applyMigrations({ kind: 'pglite', pglite })).applied).toEqual([]);
      const rows = (await pglite.query<MigrationRow>(ROWS_SQL)).rows;
      expect(rows.map((row) => [row.migration_name, row.checksum, row.applied_steps_count])).toEqual(
        migrations.map((migration) => [migration.name, migration.checksum, 1]),
      );

      const dir = await temporaryDirectory();
      await cp(migrationsDirectory, dir, { recursive: true });
      await mkdir(join(dir, '29991231235959_broken'));
      await writeFile(join(dir, '29991231235959_broken', 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT 1 / 0;\n');
      await expect(applyMigrations({ kind: 'pglite', pglite }, { migrationsDir: dir })).rejects.toMatchObject({
        code: 'MIGRATION_FAILED',
      });
      expect(await tables(pglite)).not.toContain('half_done');
    } finally {
      await pglite.close();
    }
  }, 60_000);

  test('in a data directory: the applied state survives reopening', async () => {
    const dataDir = join(await temporaryDirectory(), 'pglite');
    const first = new PGlite(dataDir);
    try {
      expect((await applyMigrations({ kind: 'pglite', pglite: first })).applied).toEqual(migrationNames);
    } finally {
      await first.close();
    }

    const reopened = new PGlite(dataDir);
    try {
      expect((await applyMigrations({ kind: 'pglite', pglite: reopened })).applied).toEqual([]);
      expect(await tables(reopened)).toEqual(['_prisma_migrations', ...MODEL_TABLES]);
      expect((await reopened.query(ROWS_SQL)).rows).toHaveLength(migrations.length);

      await reopened.query(`UPDATE "_prisma_migrations" SET checksum = $1`, [checksumOf('edited')]);
      await expect(applyMigrations({ kind: 'pglite', pglite: reopened })).rejects.toMatchObject({
        code: 'CHECKSUM_MISMATCH',
      });
    } finally {
      await reopened.close();
    }
  }, 60_000);
});

describe('drift check', () => {
  test('schema.prisma and the migrations agree', async () => {
    expect(await diffMigrationsToSchema()).toBe('');
  }, 60_000);

  test('reports the SQL a schema change still needs', async () => {
    const changed = join(await temporaryDirectory(), 'schema.prisma');
    const original = await readFile(schemaPath, 'utf8');
    const withColumn = original.replace(/(model Project \{\n)/, '$1  archivedAt DateTime? @map("archived_at") @db.Timestamptz(3)\n');
    expect(withColumn).not.toBe(original);
    await writeFile(changed, withColumn);

    const sql = await diffMigrationsToSchema({ schemaPath: changed });

    expect(sql).toContain('ALTER TABLE "projects" ADD COLUMN');
    expect(sql).toContain('"archived_at" TIMESTAMPTZ(3)');
  }, 60_000);
});
