// Preloaded (`node --expose-gc --import bench/lib/probe.ts api/src/main.ts`) into a process under
// benchmark: answers the bench's IPC messages with process.memoryUsage() and V8's heap spaces,
// optionally after a full GC, and writes a heap snapshot when asked. It adds no timers or sockets;
// the IPC channel is unref'd so it never keeps the process alive.
//
// With BENCH_COUNT_QUERIES=1 it also counts the process's PostgreSQL statements (pg's
// Client#query, which Prisma's pg adapter and raw queries both go through) and Redis commands
// (ioredis), by statement text / command name: one Map increment per call.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

interface ProbeMessage {
  probe?: number;
  gc?: boolean;
  /** Write a heap snapshot to this path (after the GC, if asked). */
  snapshot?: string;
  /** Start the CPU profiler, or stop it and write the .cpuprofile to this path. */
  profile?: { start: true } | { stop: string };
}

let session: Session | null = null;

async function profile(command: NonNullable<ProbeMessage['profile']>): Promise<string | undefined> {
  if ('start' in command) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    return undefined;
  }
  if (!session) return undefined;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  session = null;
  writeFileSync(command.stop, JSON.stringify(profile));
  return command.stop;
}

const queries = new Map<string, number>();
const commands = new Map<string, number>();

if (process.env.BENCH_COUNT_QUERIES === '1') {
  const { default: pg } = await import('pg');
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 100);
    queries.set(key, (queries.get(key) ?? 0) + 1);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const { Redis } = await import('ioredis');
  const sendCommand = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (this: unknown, command: { name?: string }, ...rest: unknown[]) {
    const name = command?.name ?? '?';
    commands.set(name, (commands.get(name) ?? 0) + 1);
    return (sendCommand as (...a: unknown[]) => unknown).call(this, command, ...rest);
  } as typeof sendCommand;
}

if (process.send) {
  process.on('message', async (message: ProbeMessage) => {
    if (typeof message?.probe !== 'number') return;
    if (message.gc) (globalThis as { gc?: () => void }).gc?.();
    const snapshot = message.snapshot ? writeHeapSnapshot(message.snapshot) : undefined;
    const cpuProfile = message.profile ? await profile(message.profile) : undefined;
    process.send?.({
      cpuProfile,
      probeReply: message.probe,
      memory: process.memoryUsage(),
      heapSpaces: getHeapSpaceStatistics().map((s) => ({ name: s.space_name, used: s.space_used_size, size: s.space_size })),
      snapshot,
      queries: Object.fromEntries(queries),
      commands: Object.fromEntries(commands),
    });
  });
  process.channel?.unref();
}
