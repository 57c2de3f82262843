// How many concurrent inbox streams one API process holds, and its memory per stream.
//
// Topology: the API process under test (api/src/main.ts, its own OS process, so /proc/<pid>/status
// VmRSS is its memory alone) serves only the streams; a second API process does the setup and the
// sends (so their garbage never lands in the measured heap); one worker process delivers; this
// process is the load generator. Each stream is a graphql-sse subscription to `inboxEvents` with its
// own client token for its own recipient (the honest case: one Redis channel per stream).
//
// Ramp: open streams up to each step of --steps, wait for every stream's CONNECTED event, let the
// process settle, then record RSS (as is), heap figures from a preloaded probe (bench/lib/probe.ts),
// RSS again after a forced full GC, and /healthz latency (the event loop's health). The ramp stops
// after the last step, at the first step over --stop-rss-mb, or when streams fail to open. Finally
// a seeded sample of streams gets one notification each through the whole pipeline, which must
// arrive on exactly those streams — proof the held streams are live, not just open sockets.
//
// Run: npx node bench/sse-capacity.ts [--steps 1000,2500,5000,10000,15000] [--sample 200]
//      [--stop-rss-mb 1024] [--mint direct|http] [--seed N] [--smoke] [--json]
import http from 'node:http';
import pg from 'pg';
import { mintClientToken as signClientToken } from '../api/src/auth/client-token.ts';
import { lineChart, writeChart } from './lib/chart.ts';
import {
  createTenant,
  graphqlClient,
  INBOX_EVENTS_SUBSCRIPTION,
  type InboxEventPayload,
  mintClientTokens,
  SEND_MUTATION,
} from './lib/graphql.ts';
import {
  availableCores,
  cpuMeter,
  createCleanup,
  machineLoad,
  type ProbeReply,
  raiseFileLimit,
  readFileLimit,
  readMemory,
  runBench,
  type Service,
  sleep,
  uniqueName,
} from './lib/platform.ts';
import { type Subscription, subscribe } from './lib/sse.ts';
import { createStack } from './lib/stack.ts';
import { kb, mb, ms, parseArgs, printResult, seededRandom, summarize, table } from './lib/stats.ts';

const args = parseArgs({
  steps: '1000,2500,5000,10000,15000',
  sample: 200,
  'sample-rate': 50,
  'stop-rss-mb': 1024,
  'open-concurrency': 100,
  /** Seconds to wait after each step before measuring; the API's idle CPU is read over the last part. */
  settle: 4,
  mint: 'direct',
  /** Extra Node flags for the API under test, e.g. "--max-semi-space-size=8". */
  'api-node-args': '',
  /** Write a heap snapshot of the API under test after the last step into this directory. */
  'heap-snapshot-dir': '',
  seed: Math.floor(Math.random() * 2 ** 31),
  /** Write an SVG chart to docs/bench/ (never in --smoke). */
  charts: true,
  /** A few seconds with small numbers: checks the bench end to end (CI). */
  smoke: false,
  json: false,
});

if (args.smoke) Object.assign(args, { steps: '100,200', sample: 20, settle: 1, charts: false });

const TARGET_STREAMS = 10_000;
const TARGET_RSS_MB = 600;
const MB = 2 ** 20;

const steps = args.steps
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0)
  .sort((a, b) => a - b);
if (steps.length === 0) throw new Error('--steps must list stream counts, e.g. 1000,5000,10000');
const maxStreams = steps.at(-1) as number;

const log = (line: string) => {
  if (!args.json) console.log(line);
};

interface Stream {
  index: number;
  externalId: string;
  token: string;
  sub: Subscription | null;
  connected: boolean;
  lastSeq: number;
  delivered: { id: string; at: number }[];
  ended: string | null;
}

interface StepResult {
  streams: number;
  openSeconds: number;
  opensPerSecond: number;
  failed: number;
  rssMb: number;
  rssAfterGcMb: number;
  heapUsedMb: number;
  /** Heap used right after a full GC: what the streams really hold. */
  heapRetainedMb: number;
  heapTotalMb: number;
  /** V8's young generation as committed (it grows with the allocation rate; see --max-semi-space-size). */
  newSpaceMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  rssPerStreamKb: number;
  rssAfterGcPerStreamKb: number;
  heapPerStreamKb: number;
  /** CPU the API spends holding the streams with nothing to send (keep-alive pings, rechecks). */
  idleCores: number;
  healthzP50Ms: number;
  healthzMaxMs: number;
}

const cleanup = createCleanup();
await runBench(cleanup, run);

async function run(): Promise<number> {
  const random = seededRandom(args.seed);
  const load = machineLoad();
  if (load.warning) console.error(load.warning);
  // One socket per stream here and in the API process, plus headroom (children inherit the limit).
  const limit = raiseFileLimit(maxStreams + 2_000);
  const localAddresses = maxStreams > 25_000 ? ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] : ['127.0.0.1'];
  log(
    `sse-capacity: steps ${steps.join(', ')}, seed ${args.seed}; open-file limit ${limit.soft} (${limit.raised ? 'raised' : 'as inherited'})`,
  );
  if (limit.soft < maxStreams + 500)
    throw new Error(`open-file limit ${limit.soft} is too low for ${maxStreams} streams (run as root or lower --steps)`);

  const stack = await createStack(cleanup);
  const setup = await stack.startApi('setup-api');
  const worker = stack.startWorker('worker');
  const client = graphqlClient(setup.baseUrl, { maxSockets: 32 });
  cleanup.add(async () => client.close());
  const tenant = await createTenant(client, uniqueName('capacity'));

  const mintStart = performance.now();
  const externalIds = Array.from({ length: maxStreams }, (_, i) => `capacity-user-${i}`);
  const minted =
    args.mint === 'http'
      ? await mintClientTokens(client, tenant.apiKey, externalIds, { perRequest: 25, concurrency: 4 })
      : await mintDirect(stack.databaseUrl, tenant.environmentId, externalIds);
  log(`minted ${minted.length} client tokens (${args.mint}) in ${ms(performance.now() - mintStart)}`);

  // The process under test starts only now, with nothing in its heap but its own boot.
  const nodeArgs = args['api-node-args'].split(' ').filter(Boolean);
  const { service: api, baseUrl } = await stack.startApi('api', { probe: true, nodeArgs });
  log(
    `API under test: pid ${api.pid}, open-file limit ${readFileLimit(api.pid).soft}${nodeArgs.length ? `, node ${nodeArgs.join(' ')}` : ''}`,
  );
  await sleep(args.settle * 1000);
  const baseline = await measure(api, baseUrl);
  log(
    `baseline (0 streams): RSS ${mb(baseline.rss)}, after GC ${mb(baseline.rssAfterGc)}, heap retained ${mb(baseline.afterGc.memory.heapUsed)}`,
  );

  const streams: Stream[] = minted.map((m, index) => ({
    index,
    externalId: m.externalId,
    token: m.token,
    sub: null,
    connected: false,
    lastSeq: -1,
    delivered: [],
    ended: null,
  }));
  const agents = localAddresses.map(
    (localAddress) => new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY, localAddress }),
  );
  cleanup.add(async () => {
    for (const s of streams) s.sub?.close();
    for (const a of agents) a.destroy();
  });
  let outOfOrder = 0;
  let streamErrors = 0;
  const onEvent = (s: Stream, result: { data?: any; errors?: unknown[] }, at: number) => {
    if (result.errors) {
      streamErrors++;
      s.ended ??= JSON.stringify(result.errors).slice(0, 200);
      return;
    }
    const event = result.data?.inboxEvents as InboxEventPayload;
    if (event.type === 'CONNECTED') {
      s.connected = true;
      s.lastSeq = event.seq;
      return;
    }
    if (event.seq !== s.lastSeq + 1) outOfOrder++;
    s.lastSeq = event.seq;
    if (event.type === 'DELIVERED' && event.notification) s.delivered.push({ id: event.notification.id, at });
  };

  const results: StepResult[] = [];
  let open = 0;
  let stopReason = 'all steps done';
  for (const target of steps) {
    const started = performance.now();
    let failed = 0;
    let next = open;
    await Promise.all(
      Array.from({ length: Math.min(args['open-concurrency'], target - open) }, async () => {
        while (next < target) {
          const s = streams[next++] as Stream;
          s.sub = subscribe({
            baseUrl,
            token: s.token,
            query: INBOX_EVENTS_SUBSCRIPTION,
            agent: agents[s.index % agents.length] as http.Agent,
            onNext: (result, at) => onEvent(s, result, at),
            onEnd: (reason) => {
              s.ended ??= reason ?? 'completed by the server';
            },
          });
          try {
            await s.sub.ready;
            const deadline = Date.now() + 60_000;
            while (!s.connected && !s.ended && Date.now() < deadline) await sleep(5);
            if (!s.connected) throw new Error(s.ended ?? 'no CONNECTED event within 60 s');
          } catch (error) {
            failed++;
            if (failed <= 3) console.error(`stream ${s.index} failed to open: ${(error as Error).message}`);
          }
        }
      }),
    );
    const openSeconds = (performance.now() - started) / 1000;
    open = target;
    if (api.child.exitCode !== null) {
      stopReason = `the API process exited (code ${api.child.exitCode}) at ${target} streams:\n${api.output()}`;
      break;
    }
    await sleep(1000);
    const idleCpu = cpuMeter({ api: api.pid });
    await sleep(Math.max(1, args.settle - 1) * 1000);
    const idleCores = idleCpu.stop().api as number;
    const m = await measure(api, baseUrl);
    const live = streams.slice(0, target).filter((s) => s.connected && !s.ended).length;
    const step: StepResult = {
      streams: live,
      openSeconds,
      opensPerSecond: (target - (results.at(-1)?.streams ?? 0)) / openSeconds,
      failed,
      rssMb: m.rss / MB,
      rssAfterGcMb: m.rssAfterGc / MB,
      heapUsedMb: m.probe.memory.heapUsed / MB,
      heapRetainedMb: m.afterGc.memory.heapUsed / MB,
      heapTotalMb: m.probe.memory.heapTotal / MB,
      newSpaceMb: youngOf(m.probe) / MB,
      externalMb: m.probe.memory.external / MB,
      arrayBuffersMb: m.probe.memory.arrayBuffers / MB,
      rssPerStreamKb: (m.rss - baseline.rss) / live / 1024,
      rssAfterGcPerStreamKb: (m.rssAfterGc - baseline.rssAfterGc) / live / 1024,
      heapPerStreamKb: (m.afterGc.memory.heapUsed - baseline.afterGc.memory.heapUsed) / live / 1024,
      idleCores,
      healthzP50Ms: m.healthz.p50,
      healthzMaxMs: m.healthz.max,
    };
    results.push(step);
    log(
      `${String(live).padStart(6)} streams: opened in ${openSeconds.toFixed(1)} s (${step.opensPerSecond.toFixed(0)}/s, ${failed} failed), RSS ${step.rssMb.toFixed(0)} MB (${step.rssPerStreamKb.toFixed(1)} KB/stream), after GC ${step.rssAfterGcMb.toFixed(0)} MB, heap retained ${step.heapRetainedMb.toFixed(0)} MB, idle CPU ${step.idleCores.toFixed(3)} cores, /healthz p50 ${ms(step.healthzP50Ms)}`,
    );
    if (failed > target * 0.01) {
      stopReason = `${failed} streams failed to open at step ${target}`;
      break;
    }
    if (step.rssMb > args['stop-rss-mb']) {
      stopReason = `RSS ${step.rssMb.toFixed(0)} MB passed --stop-rss-mb ${args['stop-rss-mb']}`;
      break;
    }
  }

  // Liveness: one notification to each of a seeded sample of open streams, through send → worker →
  // Redis → the API under test. Each must arrive on its own stream, once.
  const openStreams = streams.filter((s) => s.connected && !s.ended);
  const sample = new Set<Stream>();
  while (sample.size < Math.min(args.sample, openStreams.length))
    sample.add(openStreams[Math.floor(random() * openStreams.length)] as Stream);
  const sent = new Map<string, { stream: Stream; issuedAt: number }>();
  let sendErrors = 0;
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const sampleList = [...sample];
  // Paced like steady traffic (open loop, --sample-rate per second), not a burst, so the latency
  // says what a held stream's delivery costs at this many streams.
  const inFlight: Promise<void>[] = [];
  for (const s of sampleList) {
    const issuedAt = performance.now();
    inFlight.push(
      client.request(SEND_MUTATION, { input: { to: s.externalId, title: 'Liveness check', body: `for ${s.externalId}` } }, auth).then(
        (r) => {
          const id = r.data?.send?.notification?.id as string | undefined;
          if (id) sent.set(id, { stream: s, issuedAt });
          else sendErrors++;
        },
        () => {
          sendErrors++;
        },
      ),
    );
    await sleep(1000 / args['sample-rate']);
  }
  await Promise.all(inFlight);
  const deadline = Date.now() + 30_000;
  const arrivedCount = () => sampleList.filter((s) => s.delivered.length > 0).length;
  while (arrivedCount() < sent.size && Date.now() < deadline) await sleep(20);
  await sleep(500);
  const latencies: number[] = [];
  let misdelivered = 0;
  let duplicates = 0;
  for (const s of streams) {
    const ids = s.delivered.map((d) => d.id);
    duplicates += ids.length - new Set(ids).size;
    for (const d of s.delivered) {
      const origin = sent.get(d.id);
      if (!origin || origin.stream !== s) misdelivered++;
      else latencies.push(d.at - origin.issuedAt);
    }
  }
  const lost = [...sent.entries()].filter(([id, origin]) => !origin.stream.delivered.some((d) => d.id === id)).length;
  const endedStreams = streams.filter((s) => s.sub && s.ended).length;
  const liveness = summarize(latencies);
  const final = await measure(api, baseUrl);
  // Last: writing a snapshot takes a lot of memory of its own (it would distort the peak RSS).
  if (args['heap-snapshot-dir']) {
    const path = `${args['heap-snapshot-dir']}/api-${open}-streams.heapsnapshot`;
    const reply = await api.probe({ gc: true, snapshot: path });
    log(`heap snapshot: ${reply.snapshot} (summarize: npx node bench/heap-summary.ts ${reply.snapshot})`);
  }

  const best = results.filter((r) => r.rssMb <= TARGET_RSS_MB).at(-1);
  const correct = lost === 0 && misdelivered === 0 && duplicates === 0 && outOfOrder === 0 && sendErrors === 0 && streamErrors === 0;
  const result = {
    bench: 'sse-capacity',
    at: new Date().toISOString(),
    node: process.version,
    cores: availableCores(),
    loadAverageAtStart: load.loadAverage,
    seed: args.seed,
    recipients: 'one recipient (and Redis channel) per stream',
    fileLimit: { bench: readFileLimit().soft, api: limit.soft },
    apiNodeArgs: nodeArgs,
    baseline: {
      rssMb: baseline.rss / MB,
      rssAfterGcMb: baseline.rssAfterGc / MB,
      heapRetainedMb: baseline.afterGc.memory.heapUsed / MB,
      externalMb: baseline.afterGc.memory.external / MB,
    },
    steps: results,
    stopReason,
    largestStepWithinTarget: best ? { streams: best.streams, rssMb: best.rssMb } : null,
    peakRssMb: final.hwm / MB,
    liveness: {
      sample: sent.size,
      received: latencies.length,
      lost,
      misdelivered,
      duplicates,
      outOfOrder,
      sendErrors,
      streamErrors,
      streamsEndedUnexpectedly: endedStreams,
      latencyMs: liveness,
    },
    targets: {
      streams: (best?.streams ?? 0) >= TARGET_STREAMS,
      note: `≥ ${TARGET_STREAMS} streams at ≤ ${TARGET_RSS_MB} MB RSS`,
    },
    correct,
  };
  const charts = args.charts && !args.smoke ? [writeCapacityChart(result)] : [];
  if (args.json) {
    console.log(JSON.stringify({ ...result, charts }));
  } else {
    console.log('');
    console.log(
      table([
        [
          'streams',
          'RSS',
          'RSS/stream',
          'RSS after GC',
          'after GC/stream',
          'heap retained',
          'heap/stream',
          'heap total (young)',
          'external',
          'idle CPU',
          'healthz p50/max',
          'open rate',
        ],
        [
          0,
          mb(baseline.rss),
          '',
          mb(baseline.rssAfterGc),
          '',
          mb(baseline.afterGc.memory.heapUsed),
          '',
          `${mb(baseline.probe.memory.heapTotal)} (${mb(youngOf(baseline.probe))})`,
          mb(baseline.afterGc.memory.external),
          '',
          '',
          '',
        ],
        ...results.map((r) => [
          r.streams,
          `${r.rssMb.toFixed(1)} MB`,
          kb(r.rssPerStreamKb * 1024),
          `${r.rssAfterGcMb.toFixed(1)} MB`,
          kb(r.rssAfterGcPerStreamKb * 1024),
          `${r.heapRetainedMb.toFixed(1)} MB`,
          kb(r.heapPerStreamKb * 1024),
          `${r.heapTotalMb.toFixed(1)} MB (${r.newSpaceMb.toFixed(1)} MB)`,
          `${r.externalMb.toFixed(1)} MB`,
          `${r.idleCores.toFixed(3)}`,
          `${r.healthzP50Ms.toFixed(1)}/${r.healthzMaxMs.toFixed(1)} ms`,
          `${r.opensPerSecond.toFixed(0)}/s`,
        ]),
      ]),
    );
    console.log('');
    console.log(`ramp stopped: ${stopReason}; peak RSS ${(final.hwm / MB).toFixed(0)} MB`);
    console.log(
      `liveness (${sent.size} sampled streams, one send each): received ${latencies.length}, lost ${lost}, misdelivered ${misdelivered}, duplicates ${duplicates}, out of order ${outOfOrder}, send errors ${sendErrors}, stream errors ${streamErrors}, streams ended ${endedStreams}; send → delivered p50 ${ms(liveness.p50)}, p99 ${ms(liveness.p99)}, max ${ms(liveness.max)}`,
    );
    console.log(
      `target ≥ ${TARGET_STREAMS} streams at ≤ ${TARGET_RSS_MB} MB: ${result.targets.streams ? 'met' : 'MISSED'} (largest step within ${TARGET_RSS_MB} MB: ${best ? `${best.streams} streams at ${best.rssMb.toFixed(0)} MB` : 'none'}); correctness ${correct ? 'ok' : 'FAILED'}`,
    );
    for (const chart of charts) console.log(`chart: ${chart}`);
    printResult({ ...result, charts });
  }
  void worker;
  return correct ? 0 : 1;
}

function writeCapacityChart(result: {
  at: string;
  loadAverageAtStart: number;
  apiNodeArgs: string[];
  baseline: { rssMb: number; rssAfterGcMb: number; heapRetainedMb: number };
  steps: StepResult[];
}): string {
  const at = (pick: (s: StepResult) => number, base: number) =>
    [[0, base] as const, ...result.steps.map((s) => [s.streams, pick(s)] as const)] as (readonly [number, number])[];
  const path = writeChart(
    'sse-capacity.svg',
    lineChart({
      title: 'One API process holding inbox streams: memory',
      subtitle: `${result.apiNodeArgs.join(' ') || 'default Node flags'}; ${result.at.slice(0, 16).replace('T', ' ')} UTC, load average ${result.loadAverageAtStart.toFixed(2)}`,
      xLabel: 'concurrent streams (one recipient each)',
      yLabel: 'MB',
      series: [
        { name: 'RSS', points: at((s) => s.rssMb, result.baseline.rssMb) },
        { name: 'RSS after a full GC', points: at((s) => s.rssAfterGcMb, result.baseline.rssAfterGcMb), dashed: true },
        { name: 'retained JS heap', points: at((s) => s.heapRetainedMb, result.baseline.heapRetainedMb) },
      ],
      guides: [
        { axis: 'y', value: TARGET_RSS_MB, label: `target: ≤ ${TARGET_RSS_MB} MB` },
        { axis: 'x', value: TARGET_STREAMS, label: `${TARGET_STREAMS.toLocaleString('en')} streams` },
      ],
    }),
  );
  return path.replace(/^.*\/docs\//, 'docs/');
}

function youngOf(probe: ProbeReply): number {
  return probe.heapSpaces?.find((h) => h.name === 'new_space')?.size ?? 0;
}

/** RSS as is, heap figures, /healthz latency, then RSS after a forced full GC. */
async function measure(api: Service, baseUrl: string) {
  const { rss } = readMemory(api.pid);
  const probe: ProbeReply = await api.probe({});
  const healthz: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    const res = await fetch(`${baseUrl}/healthz`);
    await res.arrayBuffer();
    healthz.push(performance.now() - start);
  }
  const afterGc = await api.probe({ gc: true });
  await sleep(200);
  const after = readMemory(api.pid);
  return { rss, probe, afterGc, rssAfterGc: after.rss, hwm: after.hwm, healthz: summarize(healthz) };
}

/**
 * Setup shortcut for large runs: inserts the recipients with one statement (the columns send's own
 * upsert writes) and signs their tokens with the API's own minting function and the environment's
 * secret — the same tokens createClientToken returns, without 15,000 HTTP round trips.
 */
async function mintDirect(databaseUrl: string, environmentId: string, externalIds: string[]) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows: env } = await db.query<{ secret: string }>('SELECT client_token_secret AS secret FROM environments WHERE id = $1', [
      environmentId,
    ]);
    const secret = env[0]?.secret;
    if (!secret) throw new Error(`environment ${environmentId} not found`);
    const { rows } = await db.query<{ id: string; external_id: string }>(
      `INSERT INTO recipients (id, environment_id, external_id)
       SELECT gen_random_uuid(), $1::uuid, unnest($2::text[])
       RETURNING id::text, external_id`,
      [environmentId, externalIds],
    );
    const byExternal = new Map(rows.map((r) => [r.external_id, r.id]));
    return Promise.all(
      externalIds.map(async (externalId) => {
        const recipientId = byExternal.get(externalId) as string;
        const { token } = await signClientToken({ secret, environmentId, recipientId, ttlSeconds: 6 * 3600 });
        return { externalId, recipientId, token };
      }),
    );
  } finally {
    await db.end();
  }
}
