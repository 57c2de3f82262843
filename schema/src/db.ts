// One factory for both databases: the same Prisma client and migrations run on embedded PGlite
// (no DATABASE_URL) and on PostgreSQL through @prisma/adapter-pg.
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { PrismaClient } from './generated/prisma/client.ts';

/** One statement with PostgreSQL-style `$1` placeholders (a `Prisma.sql` template's `text` and `values`). */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export interface Database {
  readonly prisma: PrismaClient;
  readonly kind: 'postgres' | 'embedded';
  /**
   * Runs one statement on the driver itself, without Prisma's query layer (≈ 2× the CPU per
   * statement here: docs/benchmarks.md), for the hottest path only. Rows come as the driver parses
   * them: the same JavaScript types as Prisma's raw reads for text, uuid-as-text, int4, boolean,
   * jsonb and timestamptz. Errors are the driver's (`code` is the SQLSTATE). A statement starting
   * with PREPARED_MARKER is prepared once per connection, as through Prisma.
   */
  query<T>(statement: SqlStatement): Promise<T[]>;
  /** Present only in embedded mode: the PGlite instance this process owns. */
  readonly pglite: PGlite | null;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize?: number;
  /**
   * How long a query waits for a free connection (default 5 s): under overload callers get a
   * retryable error (the API answers OVERLOADED) instead of an ever-growing queue.
   */
  connectionTimeoutMs?: number;
  /** Told about errors on idle connections (PostgreSQL restarting, say); they are never fatal. */
  onIdleError?: (error: Error) => void;
}

/** Marks a hot statement (first thing in its SQL text) whose plan each connection should keep. */
export const PREPARED_MARKER = '/* prepared */';

/**
 * Names for prepared statements, so each connection parses and plans a hot statement once instead
 * of on every execution (the hot paths' statements are large CTEs; planning them was most of
 * PostgreSQL's CPU per send). Only statements carrying PREPARED_MARKER are named: both pg and the
 * server keep a named statement for the connection's lifetime, and the texts Prisma builds from
 * client selections are unbounded in number.
 */
function statementNames(): (query: { sql: string }) => string {
  const names = new Map<string, string>();
  return ({ sql }) => {
    if (!sql.includes(PREPARED_MARKER)) return undefined as unknown as string; // unnamed: not kept
    let name = names.get(sql);
    if (name === undefined) {
      name = `p_${createHash('sha1').update(sql).digest('base64url')}`;
      names.set(sql, name);
    }
    return name;
  };
}

export function openPostgres({ url, poolSize = 10, connectionTimeoutMs = 5_000, onIdleError }: PostgresOptions): Database {
  // Our own pool so it has an 'error' listener: when PostgreSQL ends idle connections (a fast
  // shutdown, pg_terminate_backend), pg re-emits the error on the pool, and an EventEmitter without a
  // listener throws — which killed a worker in the fault tests. The pool drops the broken client and
  // the next query connects anew; nothing else is needed.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: connectionTimeoutMs });
  pool.on('error', (error) => onIdleError?.(error));
  const adapter = new PrismaPg(pool, { statementNameGenerator: statementNames() });
  const prisma = new PrismaClient({ adapter });
  const nameOf = statementNames();
  return {
    prisma,
    kind: 'postgres',
    async query<T>({ text, values }: SqlStatement) {
      const name = nameOf({ sql: text });
      const result = await pool.query({ ...(name ? { name } : {}), text, values: values as unknown[] });
      return result.rows as T[];
    },
    pglite: null,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

/**
 * Opens (creating if needed) the embedded database in `dataDir`, owned by this process until
 * `close()`. Throws DataDirLockedError when another live process owns it. `dataDir: null` opens an
 * in-memory database (tests).
 */
export async function openEmbedded(dataDir: string | null): Promise<Database> {
  const release = dataDir ? await acquireDataDirLock(dataDir) : async () => {};
  try {
    const pglite = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    return {
      prisma,
      kind: 'embedded',
      async query<T>({ text, values }: SqlStatement) {
        return (await pglite.query<T>(text, values as unknown[])).rows;
      },
      pglite,
      async close() {
        await prisma.$disconnect();
        await pglite.close();
        await release();
      },
    };
  } catch (error) {
    await release();
    throw error;
  }
}
