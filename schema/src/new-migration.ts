// `npm run migrate:new -w @pigeon/schema -- <name>`: writes the SQL that takes the database from the
// current migrations to schema.prisma as prisma/migrations/<UTC timestamp>_<name>/migration.sql, in the
// layout `prisma migrate dev --create-only` produces.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { diffMigrationsToSchema, MIGRATION_LOCK } from './check-drift.ts';
import { migrationsDirectory, readMigrations } from './migrate.ts';

/** Like the Prisma CLI: lower case, words joined by underscores, at most 200 characters. */
export function migrationSlug(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200);
}

export function migrationTimestamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14);
}

export async function createMigration(
  name: string,
  opts: { migrationsDir?: string; schemaPath?: string; now?: Date } = {},
): Promise<{ directory: string; sql: string } | null> {
  const migrationsDir = opts.migrationsDir ?? migrationsDirectory;
  const slug = migrationSlug(name);
  if (slug === '') throw new Error(`"${name}" has no letters or digits to name a migration after`);

  const sql = await diffMigrationsToSchema({ migrationsDir, ...(opts.schemaPath && { schemaPath: opts.schemaPath }) });
  if (sql === '') return null;

  const directoryName = `${migrationTimestamp(opts.now ?? new Date())}_${slug}`;
  const existing = await readMigrations(migrationsDir);
  const latest = existing.at(-1)?.name;
  // Migrations run in name order; one that sorted before an existing migration would run out of order on
  // databases that are already up to date and first on fresh ones.
  if (latest !== undefined && directoryName <= latest) {
    throw new Error(`${directoryName} would not sort after the latest migration ${latest}; check the clock and retry`);
  }

  const directory = join(migrationsDir, directoryName);
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'migration.sql'), `${sql}\n`, { flag: 'wx' });
  const lockPath = join(migrationsDir, 'migration_lock.toml');
  if (!existsSync(lockPath)) await writeFile(lockPath, MIGRATION_LOCK);
  return { directory, sql };
}

if (import.meta.main) {
  const name = process.argv.slice(2).join(' ').trim();
  if (name === '') {
    console.error('usage: npm run migrate:new -w @pigeon/schema -- <name>   (e.g. add_template_locale)');
    process.exit(1);
  }
  try {
    const created = await createMigration(name);
    if (created === null) {
      console.error('schema.prisma and prisma/migrations already agree: there is nothing to put in a migration.');
      process.exitCode = 1;
    } else {
      console.log(
        `${created.sql}\n\ncreated ${join(relative(process.cwd(), created.directory), 'migration.sql')}\n` +
          'Review it (data-preserving steps such as backfills or renames have to be written by hand), then ' +
          'commit it together with schema.prisma.',
      );
    }
  } catch (error) {
    console.error('could not create the migration:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
