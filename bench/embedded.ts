// Embedded mode: the whole platform in one process (api/src/start.ts, what `npm start` runs) on a
// fresh PGlite data directory, with the API, the render worker and the webhook worker in that one
// process; Redis as always (the shared one, a prefix of its own). This process is the load
// generator. Setup goes through the public API (a user, a project, an API key with its rate budget
// raised, one client token per subscriber) and `--subscribers` live inbox streams.
//
// Phases:
//   warm-up     closed loop, 4 senders, `--warmup` s.
//   open loop   at each of `--rates` sends/s for `--duration` s: send latency from each send's
//               scheduled time, and send → SSE DELIVERED latency on the recipient's stream.
//   saturation  closed loop: `--concurrency` senders back to back for `--saturation-duration` s;
//               sends/s accepted, and deliveries/s (the in-process worker renders and delivers
//               meanwhile, and the backlog it leaves is drained and timed afterwards).
// The data directory (a temporary directory) and the Redis keys are removed at the end.
//
// The exit code is non-zero only for correctness failures (send errors, lost or duplicate
// deliveries), never for a missed target.
//
// Run: npx node bench/embedded.ts [--rates 50] [--duration 20] [--concurrency 16]
//      [--saturation-duration 15] [--subscribers 100] [--profile-dir DIR] [--smoke] [--json]

import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRenderQueue } from '@pigeon/worker/jobs';
import { Redis } from 'ioredis';
import { lineChart, percentileSeries, rateSeries, writeChart } from './lib/chart.ts';
import { createTenant, graphqlClient, mintClientTokens, raiseApiKeyBudget, SEND_MUTATION } from './lib/graphql.ts';
import { closedLoop, openLoop, othersCores, postJson, watchInboxes } from './lib/load.ts';
import {
  cpuMeter,
  createCleanup,
  flushRedisPrefix,
  freePort,
  machineLoad,
  machineReport,
  printServiceErrors,
  REDIS_URL,
  readMemory,
  runBench,
  sleep,
  spawnService,
  uniqueName,
  waitForHttp,
} from './lib/platform.ts';
import { markdownTable, parseArgs, printResult, type Summary, seededRandom, summarize } from './lib/stats.ts';

const START_ENTRY = fileURLToPath(new URL('../api/src/start.ts', import.meta.url));

const args = parseArgs({
  /** Open-loop rates, sends/s. */
  rates: '50',
  duration: 20,
  warmup: 3,
  concurrency: 16,
  'saturation-duration': 15,
  subscribers: 100,
  /** Node flags of the process; the default is what `npm start` uses. */
  'node-args': '--max-semi-space-size=8',
  'drain-timeout': 300,
  /** A CPU profile of the process over each measured phase goes here. */
  'profile-dir': '',
  charts: true,
  seed: Math.floor(Math.random() * 2 ** 31),
  smoke: false,
  json: false,
});

if (args.smoke) {
  Object.assign(args, {
    rates: '20',
    duration: 2,
    warmup: 1,
    concurrency: 4,
    'saturation-duration': 2,
    subscribers: 10,
    'drain-timeout': 60,
    charts: false,
  });
}

const TARGET_E2E_P99_MS = 75;

const log = (line: string) => {
  if (!args.json) console.log(line);
};
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
const roundSummary = (s: Summary) => ({ count: s.count, p50: round(s.p50), p95: round(s.p95), p99: round(s.p99), max: round(s.max) });

interface PhaseState {
  label: string;
  kind: 'warm-up' | 'open' | 'closed';
  rate: number | null;
  start: number;
  end: number;
  issued: number;
  ok: number;
  errors: number;
  latency: number[];
  completedAt: number[];
  e2e: number[];
  deliveredAt: number[];
}

const cleanup = createCleanup();
await runBench(cleanup, run);

async function run(): Promise<number> {
  const random = seededRandom(args.seed);
  const load = machineLoad();
  if (load.warning) console.error(load.warning);
  const rates = args.rates
    .split(',')
    .map((r) => Number(r.trim()))
    .filter((r) => r > 0);
  const command = `npx node bench/embedded.ts ${process.argv.slice(2).join(' ')}`.trim();
  log(
    `embedded: one process (api/src/start.ts) on a fresh PGlite directory; open loop at ${rates.join(' / ')} sends/s for ${args.duration} s, closed loop with ${args.concurrency} senders for ${args['saturation-duration']} s; ${args.subscribers} subscribers; seed ${args.seed}`,
  );

  // --- the process -------------------------------------------------------------------------------------
  const home = mkdtempSync(join(tmpdir(), 'pigeon-bench-embedded-'));
  cleanup.add(async () => rmSync(home, { recursive: true, force: true }));
  const prefix = uniqueName('pigeonbench');
  cleanup.add(() => flushRedisPrefix(prefix));
  const port = await freePort();
  const profiling = args['profile-dir'] !== '';
  const bootStart = performance.now();
  const pigeon = spawnService(
    'pigeon',
    START_ENTRY,
    {
      // No DATABASE_URL: the embedded database (an empty value counts as unset).
      DATABASE_URL: '',
      PIGEON_DATA_DIR: join(home, 'pglite'),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SEED_ON_FIRST_START: 'false',
      SIGNUP_MAX_PER_HOUR: '1000',
      GRAPHIQL: 'false',
      DASHBOARD: 'false',
    },
    { nodeArgs: args['node-args'].split(' ').filter(Boolean), probe: profiling },
  );
  cleanup.add(() => pigeon.stop(60_000));
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/readyz`, pigeon, 180_000);
  const bootSeconds = (performance.now() - bootStart) / 1000;
  log(`started in ${bootSeconds.toFixed(1)} s (initdb, migrations)`);

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  cleanup.add(async () => redis.disconnect());
  const renderQueue = createRenderQueue(redis, { prefix });
  cleanup.add(() => renderQueue.close());
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? Number.NaN);

  const setup = graphqlClient(baseUrl, { maxSockets: 8 });
  cleanup.add(async () => setup.close());
  const tenant = await createTenant(setup, uniqueName('embedded'));
  await raiseApiKeyBudget(setup, tenant);
  const externalIds = Array.from({ length: args.subscribers }, (_, i) => `embedded-user-${i}`);
  const minted = await mintClientTokens(setup, tenant.apiKey, externalIds);

  const phases: PhaseState[] = [];
  const watch = await watchInboxes<{ phase: number; issuedAt: number }>({
    baseUrls: [baseUrl],
    tokens: minted.map((m) => m.token),
    cleanup,
    onDelivered: (sent, at) => {
      const phase = phases[sent.phase];
      phase?.e2e.push(at - sent.issuedAt);
      phase?.deliveredAt.push(at);
    },
  });
  log(`opened ${watch.streams} streams`);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  cleanup.add(async () => agent.destroy());
  const url = new URL('/graphql', baseUrl);
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const runId = uniqueName('k');
  const errorSamples: string[] = [];
  let counter = 0;

  const fire = async (phaseIndex: number, dueAt: number | null) => {
    const phase = phases[phaseIndex] as PhaseState;
    const subscriber = Math.floor(random() * args.subscribers);
    const n = counter++;
    const issuedAt = performance.now();
    phase.issued++;
    const input = {
      to: externalIds[subscriber] as string,
      title: `Benchmark ${n}`,
      body: `Notification ${n} for ${externalIds[subscriber]}`,
      category: 'bench',
      idempotencyKey: `${runId}-${n}`,
    };
    let id: string | undefined;
    let problem = '';
    try {
      const { text } = await postJson(agent, url, { query: SEND_MUTATION, variables: { input } }, auth);
      id = JSON.parse(text).data?.send?.notification?.id;
      if (!id) problem = text.slice(0, 200);
    } catch (error) {
      problem = (error as Error).message;
    }
    const doneAt = performance.now();
    if (!id) {
      phase.errors++;
      if (errorSamples.length < 5) errorSamples.push(problem);
      return;
    }
    phase.ok++;
    phase.latency.push(doneAt - (dueAt ?? issuedAt));
    phase.completedAt.push(doneAt);
    watch.expect(id, subscriber, { phase: phaseIndex, issuedAt });
  };
  const newPhase = (kind: PhaseState['kind'], label: string, rate: number | null) => {
    phases.push({
      label,
      kind,
      rate,
      start: 0,
      end: 0,
      issued: 0,
      ok: 0,
      errors: 0,
      latency: [],
      completedAt: [],
      e2e: [],
      deliveredAt: [],
    });
    return phases.length - 1;
  };
  const backlog = async () =>
    Object.values(await renderQueue.getJobCounts('wait', 'active', 'delayed', 'paused', 'prioritized')).reduce((a, b) => a + b, 0);
  const drain = async () => {
    const started = performance.now();
    const deadline = started + args['drain-timeout'] * 1000;
    while (performance.now() < deadline && (watch.pending() > 0 || (await backlog()) > 0)) await sleep(50);
    return (performance.now() - started) / 1000;
  };

  const results: any[] = [];
  const measure = async (index: number, body: () => Promise<{ start: number; end: number }>) => {
    const phase = phases[index] as PhaseState;
    if (profiling) await pigeon.probe({ profile: { start: true } });
    const pids: Record<string, number> = { pigeon: pigeon.pid, ...(Number.isFinite(redisPid) ? { redis: redisPid } : {}) };
    let meter: ReturnType<typeof cpuMeter>;
    try {
      meter = cpuMeter(pids);
    } catch {
      delete pids.redis;
      meter = cpuMeter(pids);
    }
    Object.assign(phase, await body());
    const cores: Record<string, number> = meter.stop();
    cores.others = othersCores(cores, ['pigeon', 'redis', 'bench']);
    const profile = profiling
      ? (
          await pigeon.probe({
            profile: { stop: `${args['profile-dir']}/embedded-${phase.label.replace(/[^a-z0-9]+/gi, '-')}-${pigeon.pid}.cpuprofile` },
          })
        ).cpuProfile
      : undefined;
    const drainSeconds = await drain();
    const seconds = (phase.end - phase.start) / 1000;
    const okInWindow = phase.kind === 'closed' ? phase.completedAt.filter((t) => t <= phase.end).length : phase.ok;
    const deliveredInWindow = phase.deliveredAt.filter((t) => t <= phase.end).length;
    const result = {
      phase: phase.label,
      kind: phase.kind,
      rate: phase.rate,
      concurrency: phase.kind === 'closed' ? args.concurrency : null,
      seconds: round(seconds, 2),
      issued: phase.issued,
      ok: phase.ok,
      errors: phase.errors,
      sendsPerSecond: round(okInWindow / seconds),
      deliveredPerSecondInWindow: round(deliveredInWindow / seconds),
      /** All of the phase's sends delivered, over the time from the phase's start to the last delivery. */
      deliveredPerSecondOverall: round(phase.e2e.length / ((Math.max(phase.end, ...phase.deliveredAt) - phase.start) / 1000)),
      sendLatencyMs: roundSummary(summarize(phase.latency)),
      endToEndMs: roundSummary(summarize(phase.e2e)),
      drainSeconds: round(drainSeconds, 1),
      cpuCores: Object.fromEntries(Object.entries(cores).map(([k, v]) => [k, round(v, 3)])),
      /** The process's CPU (API, worker, PGlite, render threads) per accepted send. */
      cpuMsPerSend: round(((cores.pigeon ?? 0) / Math.max(1e-9, okInWindow / seconds)) * 1000, 2),
      rssMb: round(readMemory(pigeon.pid).rss / 2 ** 20, 0),
      cpuProfile: profile ?? null,
    };
    results.push(result);
    log(
      `${phase.label.padEnd(22)} ${String(result.sendsPerSecond).padStart(7)} sends/s  send p50 ${result.sendLatencyMs.p50} / p99 ${result.sendLatencyMs.p99} ms  e2e p50 ${result.endToEndMs.p50} / p99 ${result.endToEndMs.p99} ms  errors ${phase.errors}; drained in ${result.drainSeconds} s; machine ${result.cpuCores.machine} cores (others ${result.cpuCores.others})`,
    );
  };

  if (args.warmup > 0) {
    const index = newPhase('warm-up', 'warm-up', null);
    Object.assign(phases[index] as PhaseState, await closedLoop(4, args.warmup, () => fire(index, null)));
    await drain();
  }
  const measuredStart = phases.length;
  for (const rate of rates) {
    const index = newPhase('open', `open loop ${rate}/s`, rate);
    await measure(index, () => openLoop(rate, args.duration, (dueAt) => fire(index, dueAt)));
  }
  const saturationIndex = newPhase('closed', `saturation (${args.concurrency} senders)`, null);
  await measure(saturationIndex, () => closedLoop(args.concurrency, args['saturation-duration'], () => fire(saturationIndex, null)));

  await drain();
  await sleep(500);
  const faults = watch.faults();
  const lost = watch.pending((sent) => sent.phase >= measuredStart);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const correct =
    errors === 0 &&
    lost === 0 &&
    faults.duplicates === 0 &&
    faults.wrongStream === 0 &&
    faults.outOfOrder === 0 &&
    faults.streamErrors === 0 &&
    faults.streamsEnded === 0 &&
    faults.unknownEvents === 0;
  const saturation = results.find((r) => r.kind === 'closed');
  const report = {
    bench: 'embedded',
    at: new Date().toISOString(),
    command,
    machine: machineReport(load.loadAverage),
    settings: {
      seed: args.seed,
      rates,
      durationSeconds: args.duration,
      concurrency: args.concurrency,
      saturationSeconds: args['saturation-duration'],
      subscribers: args.subscribers,
      nodeArgs: args['node-args'],
      smoke: args.smoke,
    },
    bootSeconds: round(bootSeconds),
    phases: results,
    saturation: saturation
      ? { sendsPerSecond: saturation.sendsPerSecond, deliveredPerSecondOverall: saturation.deliveredPerSecondOverall }
      : null,
    peakRssMb: round(readMemory(pigeon.pid).hwm / 2 ** 20, 0),
    lost,
    ...faults,
    errorSamples: [...errorSamples, ...faults.samples],
    charts: [] as string[],
    correct,
  };
  if (args.charts && !args.smoke) report.charts = writeCharts(report, phases.slice(measuredStart));
  if (args.json) console.log(JSON.stringify(report));
  else {
    console.log(`\n${renderMarkdown(report)}`);
    printResult(report);
  }
  if (!correct) printServiceErrors([pigeon]);
  return correct ? 0 : 1;
}

function renderMarkdown(report: any): string {
  const m = report.machine;
  const s = report.settings;
  const c = (x: Record<string, number>) =>
    ['pigeon', 'redis', 'bench', 'others', 'machine'].map((k) => (Number.isFinite(x[k]) ? (x[k] as number).toFixed(2) : '–')).join(' / ');
  const lines = [
    `## Embedded mode — ${report.at}`,
    '',
    `Command: \`${report.command}\``,
    '',
    `Machine: ${m.cores} cores, load average ${m.loadAverageAtStart} at start / ${m.loadAverageAtEnd} at end, Node ${m.node}. One process (api/src/start.ts, ${s.nodeArgs || 'default Node flags'}) on a fresh PGlite directory, started in ${report.bootSeconds} s; ${s.subscribers} live subscribers; seed ${s.seed}. Peak RSS ${report.peakRssMb} MB.`,
    '',
    markdownTable([
      [
        'phase',
        'sends/s',
        'send latency p50 / p95 / p99 / max (ms)',
        'send → SSE p50 / p95 / p99 / max (ms)',
        'delivered/s in window / overall',
        'drain (s)',
        'CPU cores pigeon / redis / bench / others / machine',
        'pigeon CPU ms per send',
        'RSS (MB)',
        'errors',
      ],
      ...report.phases.map((r: any) => [
        r.phase,
        r.sendsPerSecond,
        `${r.sendLatencyMs.p50} / ${r.sendLatencyMs.p95} / ${r.sendLatencyMs.p99} / ${r.sendLatencyMs.max}`,
        `${r.endToEndMs.p50} / ${r.endToEndMs.p95} / ${r.endToEndMs.p99} / ${r.endToEndMs.max}`,
        `${r.deliveredPerSecondInWindow} / ${r.deliveredPerSecondOverall}`,
        r.drainSeconds,
        c(r.cpuCores),
        r.cpuMsPerSend,
        r.rssMb,
        r.errors,
      ]),
    ]),
    '',
    'Open-loop send latency runs from each send\'s scheduled time; "send → SSE" from issue to the DELIVERED event on the recipient\'s stream. "Delivered/s overall": the phase\'s sends over the time from its start to the last delivery (the worker\'s sustained rate when it falls behind).',
    '',
    `Deliveries: lost ${report.lost}, duplicates ${report.duplicates}, wrong stream ${report.wrongStream}, out of order ${report.outOfOrder}, unknown ${report.unknownEvents}, stream errors ${report.streamErrors}, streams ended ${report.streamsEnded}.`,
    ...report.errorSamples.map((e: string) => `  e.g. ${e}`),
    ...report.phases.filter((r: any) => r.cpuProfile).map((r: any) => `CPU profile: ${r.cpuProfile}`),
    ...report.charts.map((chart: string) => `Chart: ${chart}`),
    `Correctness: ${report.correct ? 'ok' : 'FAILED'}`,
  ];
  return `${lines.join('\n')}\n`;
}

function writeCharts(report: any, phases: PhaseState[]): string[] {
  const when = `${report.at.slice(0, 16).replace('T', ' ')} UTC, load average ${report.machine.loadAverageAtStart}`;
  const written: string[] = [];
  const open = phases.filter((p) => p.kind === 'open');
  written.push(
    writeChart(
      'embedded-latency.svg',
      lineChart({
        title: 'Embedded mode (PGlite, one process): latency, open loop',
        subtitle: `send → SSE solid, send response dashed; ${report.settings.subscribers} live subscribers; ${when}`,
        xLabel: 'percentile',
        yLabel: 'latency (ms)',
        xScale: 'percentile',
        yScale: 'log',
        series: open.flatMap((p, i) => [
          percentileSeries(`send → SSE ${p.rate}/s`, p.e2e, { colour: i }),
          percentileSeries(`send response ${p.rate}/s`, p.latency, { colour: i, dashed: true }),
        ]),
        guides: [{ axis: 'y', value: TARGET_E2E_P99_MS, label: `scaled topology's target: send → SSE p99 ≤ ${TARGET_E2E_P99_MS} ms` }],
      }),
    ),
  );
  const closed = phases.find((p) => p.kind === 'closed');
  if (closed) {
    const end = Math.max(closed.end, ...closed.deliveredAt);
    written.push(
      writeChart(
        'embedded-saturation.svg',
        lineChart({
          title: 'Embedded mode: saturation, then the backlog drains',
          subtitle: `${report.settings.concurrency} senders for ${report.settings.saturationSeconds} s; ${when}`,
          xLabel: 'seconds from the start of the phase',
          yLabel: 'per second',
          series: [
            rateSeries('sends accepted', closed.completedAt, closed.start, end, 1000),
            rateSeries('delivered over SSE', closed.deliveredAt, closed.start, end, 1000, { dashed: true }),
          ],
          guides: [{ axis: 'x', value: (closed.end - closed.start) / 1000, label: 'senders stop' }],
        }),
      ),
    );
  }
  return written.map((p) => p.replace(/^.*\/docs\//, 'docs/'));
}
