// PGlite keeps no lock on its data directory, and two processes writing one directory silently lose
// rows (measured: see shared ENVIRONMENT-NOTES). This lock makes "one process per directory" a rule
// the second process is told about instead of a corruption it discovers later.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'pigeon.lock';

export class DataDirLockedError extends Error {
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `The embedded database in ${dataDir} is already owned by process ${pid}. ` +
        'PGlite allows exactly one process per data directory (two writers silently lose rows). ' +
        'Stop that process first (it runs the API and workers together), or set DATABASE_URL to use PostgreSQL.',
    );
    this.name = 'DataDirLockedError';
    this.pid = pid;
  }
}

interface LockContents {
  pid: number;
  hostname: string;
  acquiredAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; it still owns the directory.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockContents | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockContents;
  } catch {
    return null;
  }
}

/** Who holds the directory right now, or null when nobody does (a stale lock counts as nobody). */
export function dataDirOwner(dataDir: string): number | null {
  const owner = readOwner(join(dataDir, LOCK_FILE));
  if (!owner) return null;
  if (owner.hostname !== hostname()) return owner.pid;
  return isAlive(owner.pid) && owner.pid !== process.pid ? owner.pid : null;
}

/**
 * Takes the directory for this process, creating it if needed, and returns the release function.
 * A lock left by a process that has died is taken over; one held by a live process is refused.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // 'wx' fails when the file exists, so two starting processes cannot both win.
      const fd = openSync(path, 'wx');
      const contents: LockContents = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
      writeSync(fd, JSON.stringify(contents));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(path);
      if (owner && (owner.hostname !== hostname() || isAlive(owner.pid))) {
        throw new DataDirLockedError(dataDir, owner.pid);
      }
      // Stale (its process died) or half-written by a process that died mid-write: take it over.
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not take the lock on ${dataDir}: it keeps changing hands.`);
}
