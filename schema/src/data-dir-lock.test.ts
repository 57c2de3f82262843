import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError } from './data-dir-lock.ts';

const dirs: string[] = [];
function freshDir() {
  const dir = join(mkdtempSync(join(tmpdir(), 'pigeon-lock-')), 'data');
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(join(d, '..'), { recursive: true, force: true });
});

it('lets one holder in at a time and frees the directory on release', async () => {
  const dir = freshDir();
  const release = await acquireDataDirLock(dir);
  await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
  await expect(acquireDataDirLock(dir)).rejects.toThrow(`owned by process ${process.pid}`);
  await release();
  const again = await acquireDataDirLock(dir);
  await again();
});

it('takes over the lock of a process killed with SIGKILL once it goes stale, not before', async () => {
  const dir = freshDir();
  const lockModule = fileURLToPath(new URL('./data-dir-lock.ts', import.meta.url));
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(lockModule)}); await m.acquireDataDirLock(${JSON.stringify(dir)}, { staleMs: 2000 }); console.log('locked'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => holder.stdout?.on('data', (d) => String(d).includes('locked') && resolve()));
  await expect(acquireDataDirLock(dir, { staleMs: 2000 })).rejects.toThrow(`owned by process ${holder.pid}`);
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  // Still refused right after the kill: the lock was refreshed moments ago.
  await expect(acquireDataDirLock(dir, { staleMs: 2000 })).rejects.toBeInstanceOf(DataDirLockedError);
  // proper-lockfile dates a fresh lock about a second ahead; staleness counts from there.
  await new Promise((r) => setTimeout(r, 4000));
  const release = await acquireDataDirLock(dir, { staleMs: 2000 });
  expect(existsSync(join(dir, 'pigeon.owner.json'))).toBe(true);
  await release();
});
