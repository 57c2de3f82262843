// The fault tests' own infrastructure: a PostgreSQL cluster (initdb on a temporary directory, a free
// port, real fsync) and a redis-server (nothing on disk) per test, as child processes this module
// can stop, SIGKILL, SIGSTOP and start again. The machine's shared PostgreSQL and Redis are never
// touched: what a fault test breaks is its own.
//
//   const pg = await startPostgres();            // pg.url('postgres'), pg.stop('immediate'), pg.start()
//   const redis = await startRedis();            // redis.url, redis.kill() (everything is gone), redis.start()
//   ...
//   await redis.destroy(); await pg.destroy();   // also done for every live child at process exit
//
// Every child spawned here is recorded, so `killAllChildren()` (and the exit hook) can SIGKILL
// whatever a failed test left behind.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// ---------------------------------------------------------------------------------------------
// Children

/** A child process whose output is kept (its tail) for diagnostics. */
export interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last ~1 MB of stdout and stderr, interleaved. */
  output(): string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Calls `listener` with every complete output line (stdout and stderr). */
  onLine(listener: (line: string) => void): void;
}

const OUTPUT_LIMIT = 1024 * 1024;
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) signalTree(child, 'SIGKILL');
});

/** SIGKILLs every child this module started that is still running (the last resort of cleanup). */
export function killAllChildren(): void {
  for (const child of live) signalTree(child, 'SIGKILL');
}

/** Children that lead their own process group (PostgreSQL) get the signal group-wide. */
const groupLeaders = new WeakSet<ChildProcess>();

function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    if (groupLeaders.has(child)) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as this user (uid, gid) — PostgreSQL refuses to run as root. */
  user?: { uid: number; gid: number };
  /** Lead a process group of its own, so signals reach the whole tree (postmaster + backends). */
  group?: boolean;
}

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  if (options.group) groupLeaders.add(child);
  live.add(child);
  let output = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  const take = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    if (output.length > OUTPUT_LIMIT * 1.5) output = output.slice(-OUTPUT_LIMIT);
    if (listeners.length === 0) return;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const listener of listeners) listener(line);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      live.delete(child);
      output += `\n[spawn error] ${error.message}\n`;
      resolve({ code: -1, signal: null });
    });
  });
  return {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    running: () => child.exitCode === null && child.signalCode === null && child.pid !== undefined,
    onLine: (listener) => {
      listeners.push(listener);
    },
  };
}

/** Sends `signal` (to the whole group for group leaders) and waits for the exit. */
export async function signalAndWait(proc: Child, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<void> {
  if (!proc.running()) return;
  signalTree(proc.child, signal);
  const timer = setTimeout(() => signalTree(proc.child, 'SIGKILL'), timeoutMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Sends a signal without waiting (SIGSTOP / SIGCONT / SIGKILL). */
export function signal(proc: Child, sig: NodeJS.Signals): void {
  signalTree(proc.child, sig);
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sleeps until the clock reads `at` (ms since the epoch); returns at once if it is past. */
export async function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  if (ms > 0) await sleep(ms);
}

/** Polls `check` every `intervalMs` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 100, describe }: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `\n${describe()}` : ''}`);
    await sleep(intervalMs);
  }
}

const TEMP_PREFIX = 'pigeon-faults-';

/**
 * A temporary directory that names this process as its owner (`owner.pid`); `user` makes it belong
 * to another user (PostgreSQL's).
 */
export function tempDir(kind: 'pg' | 'redis', user?: { uid: number; gid: number }): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${kind}-`));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Servers left behind by a test process that died without cleaning up (SIGKILLed, say): their
 * directory's owner is gone. Stops such a server (only if its command line names it as ours) and
 * removes the directory. Directories of live test processes are never touched.
 */
export function reapOrphans(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue; // being created, or not made by this module
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    for (const [pidFile, marker] of [
      [join(dir, 'data', 'postmaster.pid'), dir],
      [join(dir, 'server.pid'), 'redis-server'],
    ] as const) {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        const port = readFileSync(join(dir, 'port'), 'utf8').trim();
        if (cmdline.includes(marker) && cmdline.includes(port)) process.kill(pid, marker === dir ? 'SIGQUIT' : 'SIGKILL');
      } catch {
        // no such server (any more)
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function postgresBinDir(): string {
  const versions = spawnSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('No PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql).');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/** PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` system user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('Running as root, but there is no "postgres" user to own a test cluster.');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface OwnPostgres {
  readonly port: number;
  readonly dataDir: string;
  /** A connection string for `database` (superuser `postgres`, trust auth on loopback). */
  url(database?: string): string;
  running(): boolean;
  /** Starts the server on the existing data directory (crash recovery runs if it was killed). */
  start(): Promise<void>;
  /**
   * Stops the server: `fast` (SIGINT: disconnect everyone, checkpoint), `immediate` (SIGQUIT: no
   * checkpoint, WAL replay at the next start — like a crash, but the postmaster reaps its backends).
   */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** SIGSTOP / SIGCONT to every process of the cluster: connections hang instead of failing. */
  pause(): void;
  resume(): void;
  /** The server's log (tail). */
  output(): string;
  /** Stops it and removes the data directory. */
  destroy(): Promise<void>;
}

export interface PostgresOptions {
  /**
   * `false` only where durability is not under test (the hostile-input test): `fsync=off`,
   * `synchronous_commit=off`. Default true: every commit is fsynced, as in production.
   */
  durable?: boolean;
}

/** initdb on a fresh temporary directory and a postmaster on a free loopback port. */
export async function startPostgres({ durable = true }: PostgresOptions = {}): Promise<OwnPostgres> {
  reapOrphans();
  const bin = postgresBinDir();
  const user = postgresUser();
  const root = tempDir('pg', user);
  const dataDir = join(root, 'data');
  // --no-sync: initdb's own files need no fsync (a crash during initdb is not what is tested);
  // the server itself runs with fsync on (unless durable: false).
  const init = spawnChild(
    'initdb',
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    {
      user,
    },
  );
  const { code } = await init.exited;
  if (code !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (${code}):\n${init.output()}`);
  }
  const port = await freePort();
  writeFileSync(join(root, 'port'), String(port));
  const settings = [
    `listen_addresses=127.0.0.1`,
    `unix_socket_directories=${root}`,
    'max_connections=200',
    'shared_buffers=64MB',
    ...(durable ? ['fsync=on', 'synchronous_commit=on', 'full_page_writes=on'] : ['fsync=off', 'synchronous_commit=off']),
    'log_min_messages=warning',
    'log_min_error_statement=panic',
  ];
  let server: Child | null = null;
  let log = '';
  const running = () => server?.running() ?? false;
  const url = (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`;

  const own: OwnPostgres = {
    port,
    dataDir,
    url,
    running,
    async start() {
      if (running()) return;
      const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])];
      const started = spawnChild(`postgres:${port}`, join(bin, 'postgres'), args, { user, group: true });
      server = started;
      const logged = () => log + started.output();
      await waitFor(
        `PostgreSQL on port ${port} to accept connections`,
        async () => {
          if (!started.running()) throw new Error(`PostgreSQL exited while starting:\n${logged()}`);
          const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1_000 });
          client.on('error', () => {});
          try {
            await client.connect();
            await client.query('SELECT 1');
            return true;
          } catch {
            return false;
          } finally {
            await client.end().catch(() => {});
          }
        },
        { timeoutMs: 60_000, intervalMs: 100, describe: logged },
      );
    },
    async stop(mode = 'fast') {
      const current = server;
      if (!current?.running()) return;
      // Only the postmaster: it tells its backends and waits for them (SIGQUIT = immediate).
      current.child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      const timer = setTimeout(() => signal(current, 'SIGKILL'), 30_000);
      await current.exited;
      clearTimeout(timer);
      log += current.output();
    },
    pause() {
      if (server) signal(server, 'SIGSTOP');
    },
    resume() {
      if (server) signal(server, 'SIGCONT');
    },
    output: () => log + (server?.output() ?? ''),
    async destroy() {
      if (server?.running()) {
        signal(server, 'SIGCONT');
        await own.stop('immediate');
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await own.start();
  } catch (error) {
    await own.destroy();
    throw error;
  }
  return own;
}

// ---------------------------------------------------------------------------------------------
// Redis

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  running(): boolean;
  /** Starts an empty server on the same port (a no-op while one runs). */
  start(): Promise<void>;
  /** SIGKILL: everything it held is gone (it keeps nothing on disk). */
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  output(): string;
  destroy(): Promise<void>;
}

/** A redis-server of the test's own on a free loopback port, with no persistence. */
export async function startRedis(): Promise<OwnRedis> {
  reapOrphans();
  const port = await freePort();
  const dir = tempDir('redis');
  writeFileSync(join(dir, 'port'), String(port));
  let server: Child | null = null;
  let log = '';
  const running = () => server?.running() ?? false;
  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    running,
    async start() {
      if (running()) return;
      const started = spawnChild(
        `redis:${port}`,
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir],
        { cwd: dir },
      );
      server = started;
      writeFileSync(join(dir, 'server.pid'), String(started.pid));
      await waitFor(
        `redis-server on port ${port} to start`,
        () => {
          if (!started.running()) throw new Error(`redis-server exited while starting:\n${log}${started.output()}`);
          return started.output().includes('Ready to accept connections');
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
    },
    async kill() {
      const current = server;
      if (!current) return;
      await signalAndWait(current, 'SIGKILL');
      log += current.output();
    },
    pause() {
      if (server) signal(server, 'SIGSTOP');
    },
    resume() {
      if (server) signal(server, 'SIGCONT');
    },
    output: () => log + (server?.output() ?? ''),
    async destroy() {
      await own.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
