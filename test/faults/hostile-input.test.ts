// A burst of hostile input against one API process: malformed GraphQL and JSON, huge variables,
// deep queries, alias/fragment/directive/token floods, oversized bodies, invalid UTF-8, NUL
// characters, batching, wrong media types, stream-endpoint abuse (test/faults/hostile.ts). Each
// request must get a clear error (a status and an error code, never a success, never the masked
// INTERNAL_SERVER_ERROR), the process must stay up and keep serving, and its heap after a forced
// GC — read from outside through the inspector — must be back within 10 % of the pre-burst figure.
//
// PostgreSQL runs without fsync here: nothing about durability is tested.
//
// Short (CI): 12 rounds of every kind (~370 requests). PIGEON_FAULTS_LONG=1: 100 rounds.
import { readFileSync } from 'node:fs';
import { Pigeon } from '@pigeon/node';
import { expect, it } from 'vitest';
import { HOSTILE_KINDS, type HostileContext, type Judged, sendHostile } from './hostile.ts';
import { connectInspector, type Inspector } from './inspector.ts';
import { mintToken } from './load.ts';
import { withPlatform } from './platform.ts';
import { freePort, sleep } from './services.ts';

const LONG = process.env.PIGEON_FAULTS_LONG === '1';
const ROUNDS = LONG ? 100 : 12;
const CONCURRENCY = 16;
const MAX_BODY_BYTES = 256 * 1024;
const HEAP_TOLERANCE = 0.1;

/**
 * Answers that are not yet what the issue asks for, reported to the lead; each entry says what is
 * wrong and matches the answer seen today. An answer that is clear passes anyway (the entry is then
 * stale and the report says so); an answer that matches neither fails the test.
 */
const KNOWN_GAPS: Record<string, { why: string; matches: (j: Judged) => boolean }> = {};

/** The heap after forced GCs, read until two readings agree within 1 % (at most 6 readings). */
async function settledHeap(inspector: Inspector): Promise<number> {
  let previous = await inspector.heapAfterGc();
  for (let i = 0; i < 5; i++) {
    await sleep(300);
    const current = await inspector.heapAfterGc();
    if (Math.abs(current - previous) / previous < 0.01) return current;
    previous = current;
  }
  return previous;
}

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

it(
  `hostile input gets clear errors, the API stays up and its heap returns within ${HEAP_TOLERANCE * 100} % (${ROUNDS} rounds)`,
  async () => {
    await withPlatform({ durable: false }, async (platform) => {
      const inspectPort = await freePort();
      const api = await platform.spawnApi('api', {
        nodeArgs: ['--expose-gc', `--inspect=127.0.0.1:${inspectPort}`],
        env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
      });
      const tenant = await platform.createTenant(api.base);
      const clientToken = await mintToken(api.base, tenant.apiKey, 'victim');
      const ctx: HostileContext = { base: api.base, apiKey: tenant.apiKey, clientToken, maxBodyBytes: MAX_BODY_BYTES };
      const pigeon = new Pigeon({ apiKey: tenant.apiKey, baseUrl: api.base, maxRetries: 0 });
      const inspector = await connectInspector(inspectPort);
      try {
        // Warm-up: ordinary traffic and every hostile kind once, so code loaded lazily on first use
        // and bounded caches are in the pre-burst figure.
        for (let i = 0; i < 100; i++) await pigeon.send({ to: `warm-${i % 5}`, title: 'warm-up', body: String(i) });
        for (const kind of HOSTILE_KINDS) await sendHostile(ctx, kind);
        const heapBefore = await settledHeap(inspector);
        const rssBefore = rssOf(api.current()?.pid ?? 0);

        const queue = Array.from({ length: ROUNDS }, () => HOSTILE_KINDS).flat();
        const results = new Map<string, Judged[]>();
        const thrown: string[] = [];
        const started = Date.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let kind = queue[next++]; kind; kind = queue[next++]) {
              try {
                const judged = await sendHostile(ctx, kind);
                results.set(kind.name, [...(results.get(kind.name) ?? []), judged]);
              } catch (error) {
                thrown.push(`${kind.name}: ${(error as Error).message}`);
              }
            }
          }),
        );
        const burstMs = Date.now() - started;

        // Still up and serving: health, and an ordinary send.
        expect(api.running(), 'the API process is still running').toBe(true);
        expect((await fetch(`${api.base}/healthz`)).status).toBe(200);
        const after = await pigeon.send({ to: 'after-burst', title: 'still here', body: 'ok' });
        expect(after.notification.id).toBeTruthy();

        const heapAfter = await settledHeap(inspector);
        const rssAfter = rssOf(api.current()?.pid ?? 0);
        const change = (heapAfter - heapBefore) / heapBefore;

        const lines = [`=== fault test: hostile input burst${LONG ? ' (long)' : ''} ===`];
        lines.push(
          `did        : ${queue.length} hostile requests (${HOSTILE_KINDS.length} kinds × ${ROUNDS} rounds, ${CONCURRENCY} at a time) ` +
            `in ${(burstMs / 1000).toFixed(1)} s against 1 API process (MAX_BODY_BYTES ${MAX_BODY_BYTES})`,
        );
        const unclear: string[] = [];
        const gaps: string[] = [];
        for (const kind of HOSTILE_KINDS) {
          const answers = results.get(kind.name) ?? [];
          const shapes = new Map<string, number>();
          for (const a of answers) {
            const shape = `${a.status} ${a.code ?? (a.served ? 'served' : 'no code')}`;
            shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
          }
          const gap = KNOWN_GAPS[kind.name];
          const bad = answers.filter((a) => !a.clear && !(gap?.matches(a) ?? false));
          if (bad.length > 0) unclear.push(`${kind.name}: ${JSON.stringify(bad[0])}`);
          if (gap && answers.some((a) => !a.clear)) gaps.push(`${kind.name}: ${gap.why}`);
          const shapeText = [...shapes].map(([s, n]) => `${s} ×${n}`).join(', ');
          lines.push(`answer     : ${kind.name.padEnd(48)} ${shapeText}  "${answers[0]?.message ?? ''}"`.slice(0, 260));
        }
        for (const g of gaps) lines.push(`KNOWN GAP  : ${g}`);
        for (const [name, gap] of Object.entries(KNOWN_GAPS)) {
          if (!gaps.some((g) => g.startsWith(`${name}:`)))
            lines.push(`gap fixed? : ${name} now answers clearly (${gap.why}): remove it from KNOWN_GAPS`);
        }
        lines.push(
          `counted    : answered ${[...results.values()].flat().length}, clear errors ${[...results.values()].flat().filter((j) => j.clear).length}, ` +
            `client-side failures ${thrown.length}, unclear answers outside the known gaps ${unclear.length}`,
          `measured   : heap after GC before ${mb(heapBefore)}, after ${mb(heapAfter)} (${(change * 100).toFixed(1)} %); ` +
            `RSS before ${mb(rssBefore)}, after ${mb(rssAfter)}; process up: ${api.running()}, starts ${api.starts}`,
        );
        console.log(lines.join('\n'));

        expect(thrown).toEqual([]);
        expect(unclear).toEqual([]);
        expect(api.starts).toBe(1);
        expect(heapAfter, `heap after GC ${mb(heapAfter)} vs ${mb(heapBefore)} before`).toBeLessThanOrEqual(
          heapBefore * (1 + HEAP_TOLERANCE),
        );
      } finally {
        inspector.close();
      }
    });
  },
  LONG ? 600_000 : 120_000,
);
