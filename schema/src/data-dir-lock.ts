// PGlite keeps no lock on its data directory, and two processes writing one directory silently lose
// rows (measured: see shared ENVIRONMENT-NOTES). This lock makes "one process per directory" a rule
// the second process is told about instead of a corruption it discovers later.
//
// proper-lockfile takes the lock atomically (mkdir) and keeps refreshing its mtime while we hold it;
// a lock whose owner died (even by SIGKILL, in another container, or whose pid was reused) goes
// stale after STALE_MS and is taken over safely. A pid alone cannot tell a dead owner from a reused
// pid, and hostnames change with every container.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

const LOCK_DIR = 'pigeon.lock';
const OWNER_FILE = 'pigeon.owner.json';
/** A lock not refreshed for this long belongs to a process that is gone. */
const STALE_MS = 10_000;

export class DataDirLockedError extends Error {
  readonly pid: number | null;
  constructor(dataDir: string, pid: number | null) {
    super(
      `The embedded database in ${dataDir} is already owned by ${pid ? `process ${pid}` : 'another process'}. ` +
        'PGlite allows exactly one process per data directory (two writers silently lose rows). ' +
        'Stop that process first (it runs the API and workers together), or set DATABASE_URL to use PostgreSQL. ' +
        `If it was killed, its lock frees itself within about ${STALE_MS / 1000 + 2} s.`,
    );
    this.name = 'DataDirLockedError';
    this.pid = pid;
  }
}

interface Owner {
  pid: number;
  hostname: string;
  acquiredAt: string;
}

function readOwner(dataDir: string): Owner | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, OWNER_FILE), 'utf8')) as Owner;
  } catch {
    return null;
  }
}

/**
 * Takes the directory for this process, creating it if needed, and resolves to the release
 * function. Throws DataDirLockedError while another live process holds it.
 */
export async function acquireDataDirLock(dataDir: string, { staleMs = STALE_MS } = {}): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true });
  let releaseLock: () => Promise<void>;
  try {
    releaseLock = await lockfile.lock(dataDir, {
      lockfilePath: join(dataDir, LOCK_DIR),
      stale: staleMs,
      update: staleMs / 4,
      realpath: false,
      onCompromised: (error) => {
        // Someone took the directory while we still use it (this process stalled past staleMs):
        // carrying on would be the two-writer corruption this lock exists to prevent.
        process.stderr.write(`Lost the lock on the embedded database in ${dataDir}: ${error.message}. Stopping.\n`);
        process.exit(1);
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(dataDir, readOwner(dataDir)?.pid ?? null);
    throw error;
  }
  const owner: Owner = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
  writeFileSync(join(dataDir, OWNER_FILE), JSON.stringify(owner));
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (readOwner(dataDir)?.pid === process.pid) rmSync(join(dataDir, OWNER_FILE), { force: true });
    await releaseLock();
  };
}
