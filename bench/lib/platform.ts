// The platform under benchmark, as separate processes: a fresh migrated PostgreSQL database, a
// Redis prefix of its own, and API / worker processes spawned from their real entry points
// (api/src/main.ts, worker/src/main.ts). Everything is removed again by `cleanup()`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@pigeon/schema/migrate';
import { Redis } from 'ioredis';
import pg from 'pg';

export const ADMIN_DATABASE_URL = loopbackOnly(
  'PIGEON_BENCH_DATABASE_URL',
  process.env.PIGEON_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
);
export const REDIS_URL = loopbackOnly('PIGEON_BENCH_REDIS_URL', process.env.PIGEON_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');

export const API_ENTRY = fileURLToPath(new URL('../../api/src/main.ts', import.meta.url));
export const WORKER_ENTRY = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
/** Preloaded into a process under test so the bench can read its heap breakdown (see probe.ts). */
export const PROBE_ENTRY = fileURLToPath(new URL('./probe.ts', import.meta.url));

/** Benchmarks talk to this machine only. */
function loopbackOnly(name: string, url: string): string {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`${name} must point at 127.0.0.1 (got ${host})`);
  return url;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database migrated with the real migrations. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = uniqueName('pigeon_bench');
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  await applyMigrations({ kind: 'postgres', connectionString: url.toString() });
  return {
    name,
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Removes every Redis key under `prefix` (only the bench's own). */
export async function flushRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Service {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines the process wrote (for failure messages). */
  output(): string;
  /** Sends a message to the probe preloaded into the process (see probe.ts). */
  probe(request: ProbeRequest): Promise<ProbeReply>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface ProbeRequest {
  gc?: boolean;
  /** Write a V8 heap snapshot to this path. */
  snapshot?: string;
  /** Start the CPU profiler, or stop it and write the .cpuprofile to this path. */
  profile?: { start: true } | { stop: string };
}

export interface ProbeReply {
  memory: NodeJS.MemoryUsage;
  heapSpaces?: { name: string; used: number; size: number }[];
  snapshot?: string;
  cpuProfile?: string;
  /** With BENCH_COUNT_QUERIES=1: PostgreSQL statements and Redis commands so far, by text / name. */
  queries?: Record<string, number>;
  commands?: Record<string, number>;
}

/** Spawns `node <entry>` (the same Node as the bench) with `env` on top of this process's env. */
export function spawnService(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { nodeArgs?: string[]; probe?: boolean } = {},
): Service {
  const nodeArgs = [...(options.nodeArgs ?? [])];
  if (options.probe) nodeArgs.push('--expose-gc', '--import', PROBE_ENTRY);
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    env: { ...process.env, ...env },
    stdio: options.probe ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (process.env.BENCH_VERBOSE) child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let probeSeq = 0;
  return {
    name,
    pid: child.pid ?? -1,
    child,
    output: () => lines.slice(-40).join('\n'),
    probe(request) {
      if (!child.send) return Promise.reject(new Error(`${name} was started without the probe`));
      const id = ++probeSeq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} probe timed out`)), request.snapshot ? 300_000 : 30_000);
        const onMessage = (message: { probeReply?: number } & ProbeReply) => {
          if (message?.probeReply !== id) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(message);
        };
        child.on('message', onMessage);
        child.send?.({ probe: id, ...request });
      });
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `url` until it answers 200 (the API's /readyz checks PostgreSQL and Redis). */
export async function waitForHttp(url: string, service: Service, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited early:\n${service.output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${service.name} not ready at ${url}:\n${service.output()}`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function readMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far. */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Samples CPU of the given processes and of the machine between start() and stop(). */
export function cpuMeter(pids: Record<string, number>) {
  const startMachine = readMachineCpu();
  const startSelf = process.cpuUsage();
  const startProc = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, readCpuSeconds(pid)]));
  const startedAt = performance.now();
  return {
    /** Cores used (1.0 = one core fully busy) by each process, by this bench process, and machine-wide. */
    stop(): Record<string, number> {
      const seconds = (performance.now() - startedAt) / 1000;
      const machine = readMachineCpu();
      const self = process.cpuUsage(startSelf);
      const cores = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (readCpuSeconds(pid) - (startProc[k] ?? 0)) / seconds]));
      const machineShare = (machine.busy - startMachine.busy) / Math.max(1, machine.total - startMachine.total);
      return {
        ...cores,
        bench: (self.user + self.system) / 1e6 / seconds,
        machine: machineShare * availableCores(),
      };
    },
  };
}

/**
 * CPU of the PostgreSQL backends serving one database (the bench's own), between start and stop.
 * Backends that exit in between are missed (pools keep theirs while busy, so few do).
 */
export async function postgresCpuMeter(databaseName: string) {
  const backends = () =>
    admin((c) => c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [databaseName])).then((r) =>
      r.rows.map((row) => row.pid),
    );
  const safeCpu = (pid: number) => {
    try {
      return readCpuSeconds(pid);
    } catch {
      return null; // exited meanwhile
    }
  };
  const start = new Map<number, number>();
  for (const pid of await backends()) {
    const cpu = safeCpu(pid);
    if (cpu !== null) start.set(pid, cpu);
  }
  const startedAt = performance.now();
  return {
    /** Cores used by the database's backends (1.0 = one core fully busy). */
    async stop(): Promise<number> {
      const seconds = (performance.now() - startedAt) / 1000;
      let used = 0;
      for (const pid of await backends()) {
        const cpu = safeCpu(pid);
        if (cpu !== null) used += cpu - (start.get(pid) ?? 0);
      }
      return used / seconds;
    },
  };
}

/** The 1-minute load average, and a warning when other work is already using the machine. */
export function machineLoad(): { loadAverage: number; warning: string | null } {
  const loadAverage = loadavg()[0] ?? 0;
  const warning =
    loadAverage > 0.5
      ? `note: load average is ${loadAverage.toFixed(2)} before the bench starts — other work is running; latency and CPU numbers will be noisy`
      : null;
  return { loadAverage, warning };
}

export function availableCores(): number {
  return availableParallelism();
}

/** What a report says about the machine: cores, load average at the start and now, Node. */
export function machineReport(loadAverageAtStart: number) {
  const two = (n: number) => Math.round(n * 100) / 100;
  return {
    cores: availableCores(),
    loadAverageAtStart: two(loadAverageAtStart),
    loadAverageAtEnd: two(loadavg()[0] ?? 0),
    node: process.version,
  };
}

/** The open-file limit of this process: soft and hard. */
export function readFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/);
  const parse = (v: string | undefined) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: parse(soft), hard: parse(hard) };
}

/**
 * Raises this process's open-file limit to at least `wanted` (children spawned later inherit it).
 * Above the hard limit this needs root (prlimit); returns the limit in force afterwards.
 */
export function raiseFileLimit(wanted: number): { soft: number; hard: number; raised: boolean } {
  const before = readFileLimit();
  if (before.soft >= wanted) return { ...before, raised: false };
  try {
    const hard = Math.max(wanted, before.hard);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${hard}`], { stdio: 'ignore' });
  } catch {
    // not permitted: the caller sizes the run to what it got
  }
  const after = readFileLimit();
  return { ...after, raised: after.soft > before.soft };
}

export interface Cleanup {
  add(step: () => Promise<unknown>): void;
  run(): Promise<void>;
}

/**
 * Cleanup steps run in reverse order once, on success, failure, or Ctrl-C, so a bench never
 * leaves processes, databases or Redis keys behind.
 */
export function createCleanup(): Cleanup {
  const steps: (() => Promise<unknown>)[] = [];
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= (async () => {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (error) {
          console.error('cleanup step failed:', error);
        }
      }
    })();
    return running;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up…`);
      void run().then(() => process.exit(130));
    });
  }
  return { add: (step) => steps.push(step), run };
}

/** A bench's main: runs it, always cleans up, and exits with its code (1 when it throws). */
export async function runBench(cleanup: Cleanup, run: () => Promise<number>): Promise<never> {
  let exitCode = 0;
  try {
    exitCode = await run();
  } catch (error) {
    console.error(error);
    exitCode = 1;
  } finally {
    await cleanup.run();
  }
  process.exit(exitCode);
}

type ProbeCounts = Pick<ProbeReply, 'queries' | 'commands'>;

/**
 * PostgreSQL statements and Redis commands per unit of work (a send, a delivery) in the API
 * (index 0) and the worker (index 1), from the probes' counters before and after a phase.
 * Statements below `minimum` per unit are left out.
 */
export function countsPerUnit(before: ProbeCounts[], after: ProbeCounts[], units: number, minimum = 0) {
  const per = (i: number, kind: 'queries' | 'commands') => {
    const b = before[i]?.[kind] ?? {};
    const rows = Object.entries(after[i]?.[kind] ?? {})
      .map(([key, n]) => [key, (n - (b[key] ?? 0)) / Math.max(1, units)] as const)
      .filter(([, n]) => n > minimum)
      .sort(([, x], [, y]) => y - x);
    return {
      total: Math.round(rows.reduce((a, [, n]) => a + n, 0) * 100) / 100,
      byStatement: Object.fromEntries(rows.map(([k, n]) => [k, Math.round(n * 100) / 100])),
    };
  };
  return {
    api: { postgres: per(0, 'queries'), redis: per(0, 'commands') },
    worker: { postgres: per(1, 'queries'), redis: per(1, 'commands') },
  };
}

/** Report lines for one process's share of countsPerUnit: totals, Redis commands by name, statements. */
export function countLines(who: string, unit: string, counts: ReturnType<typeof countsPerUnit>['api']): string[] {
  const commands = Object.entries(counts.redis.byStatement)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `  ${who} per ${unit}: ${counts.postgres.total} PostgreSQL statements, ${counts.redis.total} Redis commands (${commands})`,
    ...Object.entries(counts.postgres.byStatement).map(([statement, n]) => `    ${String(n).padStart(5)}  ${statement}`),
  ];
}

/** The last warnings and errors each service logged (after a correctness failure). */
export function printServiceErrors(services: Service[]) {
  for (const service of services) {
    const lines = service
      .output()
      .split('\n')
      .filter((l) => /"level":"(error|warn)"/.test(l));
    if (lines.length) console.error(`last ${service.name} warnings/errors:\n${lines.slice(-5).join('\n')}`);
  }
}
