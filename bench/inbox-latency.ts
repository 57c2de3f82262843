// Send → SSE delivered latency under load.
//
// Topology (all on this machine, each a separate OS process): one API process (api/src/main.ts),
// one worker process (worker/src/main.ts), PostgreSQL, Redis, and this process as the load
// generator. Setup goes through the public API over HTTP: a user, a project, an API key, one client
// token per recipient. Then `--subscribers` live inbox streams (graphql-sse over HTTP, one recipient
// each) and a steady, open-loop `--rate` of sends (send i is due at t0 + i/rate whatever earlier
// sends are doing) to recipients picked at random (seeded). A notification's latency is the time
// from issuing its send request to its DELIVERED event arriving on its recipient's stream, matched
// by notification id. Every stream's sequence numbers are checked: lost, duplicate, misrouted and
// out-of-order events must all be 0 (the exit code says so).
//
// Run: npx node bench/inbox-latency.ts [--subscribers 1000] [--rate 200] [--duration 30] [--warmup 5]
//      [--sweep 50,100,150,200] [--seed N] [--count-queries] [--profile-dir DIR] [--smoke] [--json]
import http from 'node:http';
import { lineChart, percentileSeries, writeChart } from './lib/chart.ts';
import {
  createTenant,
  graphqlClient,
  INBOX_EVENTS_SUBSCRIPTION,
  type InboxEventPayload,
  LEAN_INBOX_EVENTS_SUBSCRIPTION,
  mintClientTokens,
  SEND_MUTATION,
} from './lib/graphql.ts';
import {
  availableCores,
  countsPerUnit,
  cpuMeter,
  createCleanup,
  machineLoad,
  postgresCpuMeter,
  printServiceErrors,
  readFileLimit,
  readMemory,
  runBench,
  sleep,
  uniqueName,
} from './lib/platform.ts';
import { type Subscription, subscribe } from './lib/sse.ts';
import { createStack } from './lib/stack.ts';
import { ms, parseArgs, printResult, type Summary, seededRandom, summarize, table } from './lib/stats.ts';

const args = parseArgs({
  subscribers: 1000,
  rate: 200,
  duration: 30,
  warmup: 5,
  /** Several measured phases on one platform, e.g. "50,100,150,200" (sends/s, each --duration s). */
  sweep: '',
  seed: Math.floor(Math.random() * 2 ** 31),
  'drain-timeout': 30,
  'open-concurrency': 50,
  /** Extra Node flags for the API / worker processes, e.g. "--max-semi-space-size=8". */
  'api-node-args': '',
  'worker-node-args': '',
  /** Count PostgreSQL statements and Redis commands per send in the API and worker (bench/lib/probe.ts). */
  'count-queries': false,
  /** Profile the API and worker processes while sending (not setup or warm-up); .cpuprofile files go here. */
  'profile-dir': '',
  /** Subscribe with only seq, type and notification id instead of what a bell UI selects. */
  'lean-selection': false,
  /** Write an SVG chart to docs/bench/ (never in --smoke). */
  charts: true,
  /** A few seconds with small numbers: checks the bench end to end (CI). */
  smoke: false,
  json: false,
});

if (args.smoke) Object.assign(args, { subscribers: 50, rate: 20, duration: 3, warmup: 1, sweep: '', 'drain-timeout': 30, charts: false });

const TARGET_P50_MS = 15;
const TARGET_P99_MS = 75;
const WARMUP = -1;

interface Subscriber {
  index: number;
  externalId: string;
  stream: Subscription | null;
  connected: boolean;
  lastSeq: number;
  ended: string | null;
}

interface Pending {
  subscriber: number;
  dueAt: number;
  issuedAt: number;
  phase: number;
}

interface PhaseStats {
  rate: number;
  start: number;
  sent: number;
  sendErrors: number;
  delivered: number[];
  /** From the send's scheduled time (includes any lag of this load generator). */
  deliveredFromDue: number[];
  send: number[];
  scheduleLag: number[];
  byWindow: Map<number, number[]>;
}

/** Problems that make a run invalid, over all phases. */
const faults = {
  sendErrorSamples: [] as string[],
  streamErrors: 0,
  streamErrorSamples: [] as string[],
  duplicates: 0,
  outOfOrder: 0,
  wrongStream: 0,
};

const log = (line: string) => {
  if (!args.json) console.log(line);
};
const split = (s: string) => s.split(' ').filter(Boolean);
const round = (n: number) => Math.round(n * 10) / 10;

const cleanup = createCleanup();
await runBench(cleanup, run);

async function run(): Promise<number> {
  const random = seededRandom(args.seed);
  const load = machineLoad();
  if (load.warning) console.error(load.warning);
  const rates = args.sweep ? args.sweep.split(',').map((r) => Number(r.trim())) : [args.rate];
  if (rates.some((r) => !(r > 0))) throw new Error('--rate / --sweep must be positive sends per second');
  log(
    `inbox-latency: ${args.subscribers} subscribers, ${rates.join(' / ')} sends/s for ${args.duration} s each (warm-up ${args.warmup} s at ${rates[0]}/s), seed ${args.seed}`,
  );
  const limit = readFileLimit();
  if (limit.soft < args.subscribers + 200) throw new Error(`open-file limit ${limit.soft} is too low for ${args.subscribers} streams`);

  const stack = await createStack(cleanup);
  const counting = args['count-queries'];
  const profiling = args['profile-dir'] !== '';
  const env: Record<string, string> = counting ? { BENCH_COUNT_QUERIES: '1' } : {};
  const probe = counting || profiling;
  const { service: api, baseUrl } = await stack.startApi('api', { nodeArgs: split(args['api-node-args']), probe, env });
  const worker = stack.startWorker('worker', { nodeArgs: split(args['worker-node-args']), probe, env });

  const client = graphqlClient(baseUrl, { maxSockets: 1024 });
  cleanup.add(async () => client.close());
  const tenant = await createTenant(client, uniqueName('latency'));
  const auth = { authorization: `Bearer ${tenant.apiKey}` };

  const mintStart = performance.now();
  const externalIds = Array.from({ length: args.subscribers }, (_, i) => `bench-user-${i}`);
  const minted = await mintClientTokens(client, tenant.apiKey, externalIds);
  log(`minted ${minted.length} client tokens in ${ms(performance.now() - mintStart)}`);

  // --- subscribers -------------------------------------------------------------------------------
  const pending = new Map<string, Pending>();
  /** DELIVERED events that arrived before their send's response (whose id was not known yet). */
  const early = new Map<string, { at: number; subscriber: number }>();
  const seen = new Set<string>();
  const phases: PhaseStats[] = [];
  const subscribers: Subscriber[] = minted.map((m, index) => ({
    index,
    externalId: m.externalId,
    stream: null,
    connected: false,
    lastSeq: -1,
    ended: null,
  }));

  const record = (p: Pending, id: string, at: number, subscriber: number) => {
    pending.delete(id);
    if (p.subscriber !== subscriber) faults.wrongStream++;
    const phase = phases[p.phase];
    if (!phase) return; // warm-up
    const latency = at - p.issuedAt;
    phase.delivered.push(latency);
    phase.deliveredFromDue.push(at - p.dueAt);
    const window = Math.floor((p.dueAt - phase.start) / 5000);
    const list = phase.byWindow.get(window) ?? [];
    list.push(latency);
    phase.byWindow.set(window, list);
  };

  const onEvent = (s: Subscriber, result: { data?: any; errors?: unknown[] }, at: number) => {
    if (result.errors) {
      faults.streamErrors++;
      if (faults.streamErrorSamples.length < 5) faults.streamErrorSamples.push(JSON.stringify(result.errors));
      return;
    }
    const event = result.data?.inboxEvents as InboxEventPayload;
    if (event.type === 'CONNECTED') {
      s.connected = true;
      s.lastSeq = event.seq;
      return;
    }
    if (event.seq !== s.lastSeq + 1) faults.outOfOrder++;
    s.lastSeq = Math.max(s.lastSeq, event.seq);
    if (event.type !== 'DELIVERED' || !event.notification) return;
    const id = event.notification.id;
    if (seen.has(id)) {
      faults.duplicates++;
      return;
    }
    seen.add(id);
    const p = pending.get(id);
    if (p) record(p, id, at, s.index);
    else early.set(id, { at, subscriber: s.index });
  };

  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  cleanup.add(async () => {
    for (const s of subscribers) s.stream?.close();
    agent.destroy();
  });
  const openStart = performance.now();
  let nextToOpen = 0;
  await Promise.all(
    Array.from({ length: args['open-concurrency'] }, async () => {
      while (nextToOpen < subscribers.length) {
        const s = subscribers[nextToOpen++] as Subscriber;
        s.stream = subscribe({
          baseUrl,
          token: minted[s.index]?.token as string,
          query: args['lean-selection'] ? LEAN_INBOX_EVENTS_SUBSCRIPTION : INBOX_EVENTS_SUBSCRIPTION,
          agent,
          onNext: (result, at) => onEvent(s, result, at),
          onEnd: (reason) => {
            s.ended = reason ?? 'completed';
          },
        });
        await s.stream.ready;
        const deadline = Date.now() + 30_000;
        while (!s.connected) {
          if (s.ended || Date.now() > deadline) throw new Error(`stream ${s.index} did not connect: ${s.ended ?? 'timeout'}`);
          await sleep(2);
        }
      }
    }),
  );
  log(`opened ${subscribers.length} streams in ${ms(performance.now() - openStart)}`);

  // --- load --------------------------------------------------------------------------------------
  let sendCounter = 0;
  let warmupErrors = 0;
  const fire = (phaseIndex: number, dueAt: number) => {
    const s = subscribers[Math.floor(random() * subscribers.length)] as Subscriber;
    const phase = phases[phaseIndex];
    const n = sendCounter++;
    const issuedAt = performance.now();
    if (phase) {
      phase.sent++;
      phase.scheduleLag.push(issuedAt - dueAt);
    }
    const fail = (sample: string) => {
      if (phase) phase.sendErrors++;
      else warmupErrors++;
      if (faults.sendErrorSamples.length < 5) faults.sendErrorSamples.push(sample.slice(0, 300));
    };
    const input = { to: s.externalId, title: `Benchmark ${n}`, body: `Notification ${n} for ${s.externalId}`, category: 'bench' };
    return client.request(SEND_MUTATION, { input }, auth).then(
      (r) => {
        const ackedAt = performance.now();
        const id = r.data?.send?.notification?.id as string | undefined;
        if (!id) return fail(JSON.stringify(r));
        phase?.send.push(ackedAt - issuedAt);
        const p: Pending = { subscriber: s.index, dueAt, issuedAt, phase: phaseIndex };
        const arrived = early.get(id);
        if (arrived) {
          early.delete(id);
          record(p, id, arrived.at, arrived.subscriber);
        } else pending.set(id, p);
      },
      (error: Error) => fail(error.message),
    );
  };

  /** Open loop: send i is due at start + i / rate, whether or not earlier sends have finished. */
  const drive = async (phaseIndex: number, rate: number, seconds: number) => {
    const total = Math.round(seconds * rate);
    const interval = 1000 / rate;
    const start = performance.now();
    const phase = phases[phaseIndex];
    if (phase) phase.start = start;
    const inFlight: Promise<void>[] = [];
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && start + i * interval <= now) inFlight.push(fire(phaseIndex, start + i++ * interval));
      if (i < total) await sleep(Math.max(0, start + i * interval - performance.now()));
    }
    const issuedMs = performance.now() - start;
    await Promise.all(inFlight);
    return { issuedMs, completedMs: performance.now() - start };
  };

  const drain = async () => {
    const deadline = performance.now() + args['drain-timeout'] * 1000;
    while (pending.size > 0 && performance.now() < deadline) await sleep(20);
    await sleep(500); // a duplicate or stray event would show up now
  };

  if (args.warmup > 0) {
    await drive(WARMUP, rates[0] as number, args.warmup);
    await drain();
    const undelivered = [...pending.values()].filter((p) => p.phase === WARMUP).length;
    log(`warm-up: ${Math.round(args.warmup * (rates[0] as number))} sends, ${warmupErrors} errors, ${undelivered} undelivered`);
    for (const [id, p] of pending) if (p.phase === WARMUP) pending.delete(id);
  }

  const results = [];
  const chartPhases: { rate: number; delivered: number[]; fromDue: number[]; send: number[] }[] = [];
  for (const rate of rates) {
    const index = phases.length;
    phases.push({
      rate,
      start: 0,
      sent: 0,
      sendErrors: 0,
      delivered: [],
      deliveredFromDue: [],
      send: [],
      scheduleLag: [],
      byWindow: new Map(),
    });
    const phase = phases[index] as PhaseStats;
    const countsBefore = counting ? await Promise.all([api.probe({}), worker.probe({})]) : null;
    if (profiling) await Promise.all([api.probe({ profile: { start: true } }), worker.probe({ profile: { start: true } })]);
    const memoryBefore = readMemory(api.pid);
    const cpu = cpuMeter({ api: api.pid, worker: worker.pid });
    const postgresCpu = await postgresCpuMeter(stack.databaseName);
    const sending = await drive(index, rate, args.duration);
    const cores = { ...cpu.stop(), postgres: await postgresCpu.stop() };
    const profiles = profiling
      ? await Promise.all(
          [api, worker].map(
            async (s) =>
              (await s.probe({ profile: { stop: `${args['profile-dir']}/${s.name}-${rate}per-s-${s.pid}.cpuprofile` } })).cpuProfile,
          ),
        )
      : [];
    await drain();
    const memoryAfter = readMemory(api.pid);
    const countsAfter = counting ? await Promise.all([api.probe({}), worker.probe({})]) : null;

    const lost = [...pending.values()].filter((p) => p.phase === index).length;
    const delivered = summarize(phase.delivered);
    const result = {
      rate,
      // Open loop: sends are issued on schedule whatever happens; how fast they complete is the
      // throughput the platform sustained (lower than the rate when it falls behind).
      issuedRate: phase.sent / (sending.issuedMs / 1000),
      completedRate: phase.send.length / (sending.completedMs / 1000),
      sends: phase.sent,
      deliveredLatencyMs: delivered,
      deliveredFromScheduleMs: summarize(phase.deliveredFromDue),
      sendLatencyMs: summarize(phase.send),
      scheduleLagMs: summarize(phase.scheduleLag),
      windows: [...phase.byWindow.entries()]
        .sort(([a], [b]) => a - b)
        .map(([w, v]) => {
          const s = summarize(v);
          return { fromSecond: w * 5, count: s.count, p50: round(s.p50), p99: round(s.p99), max: round(s.max) };
        }),
      cpuCores: cores,
      perSend: countsBefore && countsAfter ? countsPerUnit(countsBefore, countsAfter, phase.sent) : null,
      cpuProfiles: profiles,
      apiRssMb: { before: memoryBefore.rss / 2 ** 20, after: memoryAfter.rss / 2 ** 20, peak: memoryAfter.hwm / 2 ** 20 },
      lost,
      sendErrors: phase.sendErrors,
      targets: { p50: delivered.p50 <= TARGET_P50_MS, p99: delivered.p99 <= TARGET_P99_MS },
    };
    results.push(result);
    chartPhases.push({ rate, delivered: phase.delivered, fromDue: phase.deliveredFromDue, send: phase.send });
    if (!args.json && rates.length > 1) {
      log(
        `${rate}/s: delivered p50 ${ms(delivered.p50)}, p99 ${ms(delivered.p99)}; completed ${result.completedRate.toFixed(0)}/s; lost ${lost}, send errors ${phase.sendErrors}`,
      );
    }
  }

  const ended = subscribers.filter((s) => s.ended).length;
  const unknownEvents = early.size;
  const correct =
    results.every((r) => r.lost === 0 && r.sendErrors === 0) &&
    faults.duplicates === 0 &&
    faults.outOfOrder === 0 &&
    faults.wrongStream === 0 &&
    faults.streamErrors === 0 &&
    unknownEvents === 0 &&
    ended === 0;
  const report = {
    bench: 'inbox-latency',
    at: new Date().toISOString(),
    node: process.version,
    cores: availableCores(),
    loadAverageAtStart: load.loadAverage,
    seed: args.seed,
    subscribers: args.subscribers,
    durationSeconds: args.duration,
    selection: args['lean-selection'] ? 'lean' : 'bell UI',
    phases: results,
    duplicates: faults.duplicates,
    outOfOrder: faults.outOfOrder,
    wrongStream: faults.wrongStream,
    unknownEvents,
    streamErrors: faults.streamErrors,
    streamsEnded: ended,
    errorSamples: [...faults.sendErrorSamples, ...faults.streamErrorSamples],
    correct,
  };

  const charts = args.charts && !args.smoke ? [writeLatencyChart(report, chartPhases)] : [];
  if (args.json) console.log(JSON.stringify({ ...report, charts }));
  else {
    if (results.length === 1) printPhase(report, results[0] as (typeof results)[number]);
    else printSweep(report, results);
    for (const chart of charts) console.log(`chart: ${chart}`);
    printResult({ ...report, charts });
  }
  if (!correct) printServiceErrors([api, worker]);
  return correct ? 0 : 1;
}

function printPhase(report: any, r: any) {
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const row = (name: string, s: Summary) => [name, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), s.count];
  console.log('');
  console.log(
    table([
      ['', 'p50', 'p90', 'p99', 'max', 'n'],
      row('send → SSE DELIVERED', r.deliveredLatencyMs),
      row('  (from scheduled time)', r.deliveredFromScheduleMs),
      row('send response', r.sendLatencyMs),
      row('load-generator lag', r.scheduleLagMs),
    ]),
  );
  console.log('');
  console.log(
    `sends issued at ${r.issuedRate.toFixed(1)}/s (target ${r.rate}); completed at ${r.completedRate.toFixed(1)}/s (first issue to last response)`,
  );
  console.log(`per 5 s window, delivered p50/p99/max ms: ${r.windows.map((w: any) => `${w.p50}/${w.p99}/${w.max}`).join('  ')}`);
  const c = r.cpuCores;
  console.log(
    `CPU while sending (cores): api ${c.api.toFixed(2)}, worker ${c.worker.toFixed(2)}, PostgreSQL backends ${c.postgres.toFixed(2)}, load generator ${c.bench.toFixed(2)}; whole machine ${c.machine.toFixed(2)} of ${report.cores}`,
  );
  console.log(
    `  = per send: api ${((c.api / r.issuedRate) * 1000).toFixed(1)} ms, worker ${((c.worker / r.issuedRate) * 1000).toFixed(1)} ms, PostgreSQL ${((c.postgres / r.issuedRate) * 1000).toFixed(1)} ms of CPU`,
  );
  if (r.perSend) {
    for (const service of ['api', 'worker'] as const) {
      const p = r.perSend[service];
      const redis = Object.entries(p.redis.byStatement)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      console.log(
        `${service} per send: ${p.postgres.total.toFixed(2)} PostgreSQL statements, ${p.redis.total.toFixed(2)} Redis commands (${redis})`,
      );
      for (const [statement, n] of Object.entries(p.postgres.byStatement)) console.log(`  ${String(n).padStart(5)}  ${statement}`);
    }
  }
  for (const file of r.cpuProfiles)
    console.log(`CPU profile of the sending phase: ${file} (npx node bench/cpu-profile-summary.ts ${file})`);
  console.log(`API RSS: ${r.apiRssMb.before.toFixed(0)} → ${r.apiRssMb.after.toFixed(0)} MB (peak ${r.apiRssMb.peak.toFixed(0)} MB)`);
  console.log(
    `lost ${r.lost}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}, wrong stream ${report.wrongStream}, unknown ${report.unknownEvents}, send errors ${r.sendErrors}, stream errors ${report.streamErrors}, streams ended ${report.streamsEnded}`,
  );
  for (const sample of report.errorSamples) console.log(`  e.g. ${sample}`);
  console.log(
    `targets: p50 ≤ ${TARGET_P50_MS} ms ${verdict(r.targets.p50)}, p99 ≤ ${TARGET_P99_MS} ms ${verdict(r.targets.p99)}; correctness ${report.correct ? 'ok' : 'FAILED'}`,
  );
}

function printSweep(report: any, results: any[]) {
  console.log('');
  console.log(
    table([
      ['rate', 'completed/s', 'delivered p50', 'p90', 'p99', 'max', 'send p50', 'send p99', 'CPU api/worker/pg/machine', 'lost', 'errors'],
      ...results.map((r) => [
        `${r.rate}/s`,
        r.completedRate.toFixed(0),
        ms(r.deliveredLatencyMs.p50),
        ms(r.deliveredLatencyMs.p90),
        ms(r.deliveredLatencyMs.p99),
        ms(r.deliveredLatencyMs.max),
        ms(r.sendLatencyMs.p50),
        ms(r.sendLatencyMs.p99),
        [r.cpuCores.api, r.cpuCores.worker, r.cpuCores.postgres, r.cpuCores.machine].map((c: number) => c.toFixed(2)).join(' / '),
        r.lost,
        r.sendErrors,
      ]),
    ]),
  );
  console.log(
    `duplicates ${report.duplicates}, out of order ${report.outOfOrder}, wrong stream ${report.wrongStream}, unknown ${report.unknownEvents}, stream errors ${report.streamErrors}, streams ended ${report.streamsEnded}; correctness ${report.correct ? 'ok' : 'FAILED'}`,
  );
  for (const sample of report.errorSamples) console.log(`  e.g. ${sample}`);
}

function writeLatencyChart(report: any, phases: { rate: number; delivered: number[]; fromDue: number[]; send: number[] }[]): string {
  const when = `${String(report.at).slice(0, 16).replace('T', ' ')} UTC, load average ${report.loadAverageAtStart.toFixed(2)}`;
  const path = writeChart(
    'inbox-latency.svg',
    lineChart({
      title: `send → SSE DELIVERED latency, ${report.subscribers} live subscribers`,
      subtitle: `delivered (from issue) solid, send response dashed; open loop; ${when}`,
      xLabel: 'percentile',
      yLabel: 'latency (ms)',
      xScale: 'percentile',
      yScale: 'log',
      series: phases.flatMap((p, i) => [
        percentileSeries(`delivered ${p.rate}/s`, p.delivered, { colour: i }),
        percentileSeries(`send ${p.rate}/s`, p.send, { colour: i, dashed: true }),
      ]),
      guides: [
        { axis: 'y', value: TARGET_P99_MS, label: `target p99 ≤ ${TARGET_P99_MS} ms` },
        { axis: 'y', value: TARGET_P50_MS, label: `target p50 ≤ ${TARGET_P50_MS} ms` },
      ],
    }),
  );
  return path.replace(/^.*\/docs\//, 'docs/');
}
