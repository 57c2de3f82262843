// Keeps the benchmarks from rotting: runs every bench with `--smoke` (seconds, small numbers) as a
// child process, one after another, and checks that it exits 0 (its correctness checks passed) and
// that its `RESULT <json>` line parses and has the fields the docs rely on. Timing is never
// asserted: CI machines are too noisy for that, and the targets are what the full runs report.
// Tests in one file run one after another (the benches would skew each other).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RESULT_PREFIX } from './lib/stats.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
/** Per bench; a smoke run takes 10–30 s on two busy cores. */
const TIMEOUT_MS = 150_000;

interface Run {
  code: number | null;
  output: string;
  result: any;
}

/** Runs `bench/<script> --smoke` on this Node; on timeout it is interrupted (it cleans up on SIGINT). */
function runSmoke(script: string, extra: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${BENCH_DIR}${script}`, ...extra], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, BENCH_VERBOSE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c;
    });
    const interrupt = setTimeout(() => child.kill('SIGINT'), TIMEOUT_MS - 20_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS - 5_000);
    child.on('exit', (code) => {
      clearTimeout(interrupt);
      clearTimeout(kill);
      const line = output.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      let result: unknown = null;
      try {
        result = line ? JSON.parse(line.slice(RESULT_PREFIX.length)) : null;
      } catch {
        result = null;
      }
      resolve({ code, output, result });
    });
  });
}

/** The run's output on failure, so a CI log says why. */
function expectOk(run: Run, bench: string) {
  expect(run.code, run.output.slice(-4000)).toBe(0);
  expect(run.result, run.output.slice(-4000)).not.toBeNull();
  expect(run.result.bench).toBe(bench);
  expect(run.result.correct).toBe(true);
}

const summary = { count: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) };

describe('benchmarks --smoke', () => {
  it('send: ours and the bare pipeline, open and closed loop, with the ratio', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('send.ts', ['--smoke']);
    expectOk(run, 'send');
    const { phases, ratios, targets } = run.result;
    expect(phases.map((p: any) => `${p.pipeline} ${p.kind}`)).toEqual([
      'ours open',
      'bare open',
      'ours open',
      'bare open',
      'ours closed',
      'bare closed',
    ]);
    for (const phase of phases) {
      expect(phase.ok).toBeGreaterThan(0);
      expect(phase.achievedPerSecond).toBeGreaterThan(0);
      expect(phase.latencyMs).toMatchObject(summary);
      expect(phase.endToEndMs.count).toBe(phase.ok);
      expect(phase.cpuCores).toMatchObject({ api: expect.any(Number), bare: expect.any(Number), machine: expect.any(Number) });
    }
    expect(ratios.saturationThroughput.running).toEqual(expect.any(Number));
    expect(Object.keys(targets)).toEqual(['saturation', 'p99At200', 'ratio']);
    expect(run.result.lost).toBe(0);
  });

  it('embedded: send throughput and send → SSE latency on PGlite in one process', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('embedded.ts', ['--smoke']);
    expectOk(run, 'embedded');
    expect(run.result.phases.map((p: any) => p.kind)).toEqual(['open', 'closed']);
    for (const phase of run.result.phases) {
      expect(phase.sendLatencyMs).toMatchObject(summary);
      expect(phase.endToEndMs.count).toBe(phase.ok);
    }
    expect(run.result.saturation.sendsPerSecond).toBeGreaterThan(0);
    expect(run.result.lost).toBe(0);
  });

  it('inbox-latency: send → SSE delivered with live subscribers', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('inbox-latency.ts', ['--smoke']);
    expectOk(run, 'inbox-latency');
    expect(run.result.phases).toHaveLength(1);
    expect(run.result.phases[0].deliveredLatencyMs).toMatchObject(summary);
    expect(run.result.phases[0].lost).toBe(0);
  });

  it('sse-capacity: streams per API process and memory per stream', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('sse-capacity.ts', ['--smoke']);
    expectOk(run, 'sse-capacity');
    expect(run.result.steps.map((s: any) => s.streams)).toEqual([100, 200]);
    expect(run.result.steps[1]).toMatchObject({ rssMb: expect.any(Number), rssPerStreamKb: expect.any(Number) });
    expect(run.result.liveness.received).toBe(run.result.liveness.sample);
  });

  it('webhooks: signed, logged deliveries, with failing endpoints, and a drain', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('webhooks.ts', ['--smoke']);
    expectOk(run, 'webhooks');
    expect(run.result.phases.map((p: any) => p.phase)).toEqual(['alone', 'failing']);
    expect(run.result.saturation).toMatchObject({ drainPerSecond: expect.any(Number), lost: 0 });
    expect(run.result.signatures.bad).toBe(0);
  });

  it('limits: every GraphQL document the clients ship fits inside every abuse limit', { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('limits.ts', ['--json']);
    expect(run.code, run.output.slice(-4000)).toBe(0);
    const { limits, measures } = JSON.parse(run.output.slice(run.output.indexOf('{')));
    expect(new Set(measures.map((m: any) => m.client))).toEqual(new Set(['dashboard', 'react', 'node']));
    expect(measures.length).toBeGreaterThan(50);
    const over = measures.flatMap((m: any) =>
      [
        ['tokens', m.tokens, limits.maxTokens],
        ['depth', m.depth, limits.maxDepth],
        ['aliases', m.aliases, limits.maxAliases],
        ['directives', m.directives, limits.maxDirectives],
        ['cost', m.costAtMaxPages, limits.maxCost],
      ]
        .filter(([, value, limit]) => value > limit)
        .map(([what, value, limit]) => `${m.client} ${m.operation}: ${what} ${value} > ${limit}`),
    );
    expect(over).toEqual([]);
  });

  it("sse-selftest: the benches' SSE reader agrees with graphql-sse", { timeout: TIMEOUT_MS }, async () => {
    const run = await runSmoke('sse-selftest.ts');
    expect(run.code, run.output.slice(-4000)).toBe(0);
  });
});
