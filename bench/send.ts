// `send` latency and throughput, next to a bare pipeline doing the same work, in the same run.
//
// Topology (all on this machine, each a separate OS process): `--api-processes` API processes
// (api/src/main.ts), one worker process (worker/src/main.ts), as many bare-pipeline processes
// (bench/bare-send.ts: node:http + pg + the same SQL and BullMQ add, nothing else), PostgreSQL,
// Redis, and this process as the load generator. Setup goes through the public API: a user, a
// project, an API key (its rate budget raised so the load is not throttled), one client token per
// subscriber, and `--subscribers` live inbox streams (graphql-sse, one recipient each). Every send,
// ours or bare, goes to one of those recipients (seeded), so the worker renders and delivers both
// pipelines' notifications the same way, and each one's DELIVERED event is matched on its stream:
// proof that the bare pipeline did the same work, and send → SSE latency for free.
//
// Phases, each run for ours and then for bare before the next one (the host's noise drifts over
// minutes; interleaving keeps the pairs comparable), with the worker's backlog drained in between:
//   warm-up     closed loop, 8 senders, `--warmup` s per pipeline (JIT, pools, prepared statements).
//   open loop   at each of `--rates` sends/s for `--duration` s: send i is due at t0 + i/rate whatever
//               earlier sends are doing, and its latency is measured from that due time, so a stall
//               shows up in every send it delays (no coordinated omission).
//   saturation  closed loop: `--concurrency` senders each sending back to back for
//               `--saturation-duration` s; throughput = responses within the window / window.
//               `--saturation-modes running,paused`: with the worker rendering and delivering as it
//               goes (the scaled topology), and with the render queue paused (the send path alone;
//               the backlog is drained afterwards).
// The ratio ours / bare is reported for saturation throughput and p99 at 200/s.
//
// The exit code is non-zero only for correctness failures (send errors other than OVERLOADED, lost
// or duplicate deliveries), never for a missed target.
//
// Run: npx node bench/send.ts [--rates 100,200,500] [--duration 20] [--concurrency 32]
//      [--saturation-duration 15] [--saturation-modes running,paused] [--subscribers 1000]
//      [--api-processes 1] [--profile-dir DIR] [--count-queries] [--smoke] [--json]
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createRenderQueue } from '@pigeon/worker/jobs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { lineChart, percentileSeries, rateSeries, writeChart } from './lib/chart.ts';
import { createTenant, graphqlClient, mintClientTokens, raiseApiKeyBudget, SEND_MUTATION } from './lib/graphql.ts';
import { closedLoop, openLoop, othersCores, postJson, watchInboxes } from './lib/load.ts';
import {
  availableCores,
  countLines,
  countsPerUnit,
  cpuMeter,
  createCleanup,
  freePort,
  machineLoad,
  machineReport,
  postgresCpuMeter,
  printServiceErrors,
  REDIS_URL,
  readFileLimit,
  readMemory,
  runBench,
  type Service,
  sleep,
  spawnService,
  uniqueName,
  waitForHttp,
} from './lib/platform.ts';
import { createStack } from './lib/stack.ts';
import { markdownTable, parseArgs, printResult, type Summary, seededRandom, summarize } from './lib/stats.ts';

const BARE_ENTRY = fileURLToPath(new URL('./bare-send.ts', import.meta.url));

const args = parseArgs({
  /** Open-loop rates, sends/s. */
  rates: '100,200,500',
  /** Seconds per open-loop phase (per pipeline). */
  duration: 20,
  /** Closed-loop warm-up seconds per pipeline. */
  warmup: 5,
  /** Concurrent senders in the closed-loop saturation phases. */
  concurrency: 32,
  'saturation-duration': 15,
  /** running: the worker renders and delivers meanwhile; paused: the render queue is paused (send path alone). */
  'saturation-modes': 'running,paused',
  subscribers: 1000,
  'open-concurrency': 50,
  /** API processes (each on its own port; the load is spread round-robin) and as many bare processes. */
  'api-processes': 1,
  /** shared: the subscribers' streams are served by the API processes that take the sends (the scaled
   * topology); separate: by one more API process of their own (the send path measured alone). */
  'streams-on': 'shared',
  /** Node flags of the API and bare processes; the default is what `npm run start:api` uses. */
  'api-node-args': '--max-semi-space-size=8',
  'worker-node-args': '',
  /** Seconds to wait for the worker to catch up after a phase; what is left then counts as lost. */
  'drain-timeout': 180,
  /** CPU profiles of the API, worker and bare processes over every measured phase go here. */
  'profile-dir': '',
  /** PostgreSQL statements and Redis commands per send (API or bare process, and worker). */
  'count-queries': false,
  /** VACUUM (ANALYZE) the bench's database before each measured phase, as autovacuum would: the shared
   * server here runs with autovacuum off, and the dead row versions every delivery leaves (its
   * notification and recipient rows are updated) made PostgreSQL's CPU per send grow over a run. */
  vacuum: true,
  /** Write SVG charts to docs/bench/ (never in --smoke). */
  charts: true,
  seed: Math.floor(Math.random() * 2 ** 31),
  /** A few seconds with small numbers: checks the bench end to end (CI). */
  smoke: false,
  json: false,
});

if (args.smoke) {
  Object.assign(args, {
    rates: '20,50',
    duration: 2,
    warmup: 1,
    concurrency: 8,
    'saturation-duration': 2,
    'saturation-modes': 'running',
    subscribers: 20,
    'drain-timeout': 30,
    charts: false,
  });
}

const TARGET_SATURATION_PER_SECOND = 1000;
const TARGET_P99_MS = 50;
const TARGET_P99_RATE = 200;
const TARGET_RATIO = 0.5;
const PIPELINES = ['ours', 'bare'] as const;
type Pipeline = (typeof PIPELINES)[number];
type Mode = 'running' | 'paused';

const log = (line: string) => {
  if (!args.json) console.log(line);
};
const split = (s: string) => s.split(' ').filter(Boolean);
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
const roundSummary = (s: Summary) => ({
  count: s.count,
  p50: round(s.p50),
  p95: round(s.p95),
  p99: round(s.p99),
  max: round(s.max),
  mean: round(s.mean),
});

interface Outcome {
  id: string | null;
  /** An error code or message; OVERLOADED is load shedding, anything else is a failure. */
  error: string | null;
}

interface PhaseState {
  label: string;
  pipeline: Pipeline;
  kind: 'warm-up' | 'open' | 'closed';
  rate: number | null;
  concurrency: number | null;
  workers: Mode;
  start: number;
  end: number;
  issued: number;
  ok: number;
  shed: number;
  errors: number;
  /** Open loop: from each send's due time; closed loop: from its issue. */
  latency: number[];
  fromIssue: number[];
  scheduleLag: number[];
  completedAt: number[];
  e2e: number[];
}

interface Sent {
  phase: number;
  issuedAt: number;
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
  const modes = args['saturation-modes'].split(',').filter((m): m is Mode => m === 'running' || m === 'paused');
  const apiCount = Math.max(1, Math.floor(args['api-processes']));
  const command = `npx node bench/send.ts ${process.argv.slice(2).join(' ')}`.trim();
  log(
    `send: open loop at ${rates.join(' / ')} sends/s for ${args.duration} s, closed loop with ${args.concurrency} senders for ${args['saturation-duration']} s (${modes.join(', ')}); ${args.subscribers} subscribers; ${apiCount} API + ${apiCount} bare process(es), 1 worker; seed ${args.seed}`,
  );
  if (readFileLimit().soft < args.subscribers + 500) throw new Error(`open-file limit too low for ${args.subscribers} streams`);

  // --- platform ------------------------------------------------------------------------------------
  const stack = await createStack(cleanup);
  const counting = args['count-queries'];
  const profiling = args['profile-dir'] !== '';
  const probe = counting || profiling;
  const env: Record<string, string> = counting ? { BENCH_COUNT_QUERIES: '1' } : {};
  const nodeArgs = split(args['api-node-args']);
  const apis: { service: Service; baseUrl: string }[] = [];
  for (let i = 0; i < apiCount; i++) apis.push(await stack.startApi(`api${i}`, { nodeArgs, probe, env }));
  const worker = stack.startWorker('worker', { nodeArgs: split(args['worker-node-args']), probe, env });
  if (!['shared', 'separate'].includes(args['streams-on'])) throw new Error('--streams-on must be shared or separate');
  const streamApis = args['streams-on'] === 'separate' ? [await stack.startApi('streams', { nodeArgs })] : apis;

  const setup = graphqlClient((apis[0] as { baseUrl: string }).baseUrl, { maxSockets: 16 });
  cleanup.add(async () => setup.close());
  const tenant = await createTenant(setup, uniqueName('send'));
  await raiseApiKeyBudget(setup, tenant);

  const bares: { service: Service; baseUrl: string }[] = [];
  for (let i = 0; i < apiCount; i++) {
    const port = await freePort();
    const service = spawnService(
      `bare${i}`,
      BARE_ENTRY,
      {
        DATABASE_URL: stack.databaseUrl,
        REDIS_URL,
        REDIS_PREFIX: stack.prefix,
        ENVIRONMENT_ID: tenant.environmentId,
        PORT: String(port),
        ...env,
      },
      { nodeArgs, probe },
    );
    cleanup.add(() => service.stop());
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${baseUrl}/readyz`, service);
    bares.push({ service, baseUrl });
  }

  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  cleanup.add(() => db.end());
  /** Dead row versions of the hot tables (PostgreSQL's statistics, a little behind). */
  const deadTuples = async () =>
    Object.fromEntries(
      (
        await db.query<{ relname: string; n_dead_tup: string }>(
          `SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE relname IN ('recipients', 'notifications', 'inbox_events')`,
        )
      ).rows.map((r) => [r.relname, Number(r.n_dead_tup)]),
    );

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  cleanup.add(async () => redis.disconnect());
  const renderQueue = createRenderQueue(redis, { prefix: stack.prefix });
  cleanup.add(() => renderQueue.close());
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? Number.NaN);
  for (const deadline = Date.now() + 60_000; (await renderQueue.getWorkersCount()) === 0; ) {
    if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
    if (Date.now() > deadline) throw new Error(`worker not ready:\n${worker.output()}`);
    await sleep(100);
  }

  // --- subscribers -----------------------------------------------------------------------------------
  const externalIds = Array.from({ length: args.subscribers }, (_, i) => `send-bench-user-${i}`);
  const mintStart = performance.now();
  const minted = await mintClientTokens(setup, tenant.apiKey, externalIds);
  log(`minted ${minted.length} client tokens in ${((performance.now() - mintStart) / 1000).toFixed(1)} s`);

  const phases: PhaseState[] = [];
  const openStart = performance.now();
  const watch = await watchInboxes<Sent>({
    baseUrls: streamApis.map((a) => a.baseUrl),
    tokens: minted.map((m) => m.token),
    cleanup,
    openConcurrency: args['open-concurrency'],
    onDelivered: (sent, at) => phases[sent.phase]?.e2e.push(at - sent.issuedAt),
  });
  log(`opened ${watch.streams} streams in ${((performance.now() - openStart) / 1000).toFixed(1)} s`);

  // --- the two pipelines -----------------------------------------------------------------------------
  const agents = { ours: new http.Agent({ keepAlive: true, maxSockets: 512 }), bare: new http.Agent({ keepAlive: true, maxSockets: 512 }) };
  cleanup.add(async () => {
    agents.ours.destroy();
    agents.bare.destroy();
  });
  const ourUrls = apis.map((a) => new URL('/graphql', a.baseUrl));
  const bareUrls = bares.map((b) => new URL('/send', b.baseUrl));
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const runId = uniqueName('k');
  const sendErrorSamples: string[] = [];
  let counter = 0;

  const sendOnce = async (pipeline: Pipeline, subscriber: number): Promise<Outcome> => {
    const n = counter++;
    const input = {
      to: externalIds[subscriber] as string,
      title: `Benchmark ${n}`,
      body: `Notification ${n} for ${externalIds[subscriber]}`,
      category: 'bench',
      idempotencyKey: `${runId}-${n}`,
    };
    try {
      if (pipeline === 'ours') {
        const { text } = await postJson(
          agents.ours,
          ourUrls[n % ourUrls.length] as URL,
          { query: SEND_MUTATION, variables: { input } },
          auth,
        );
        const body = JSON.parse(text);
        const id = body.data?.send?.notification?.id as string | undefined;
        if (id) return { id, error: null };
        return { id: null, error: body.data?.send?.code ?? body.errors?.[0]?.extensions?.code ?? text.slice(0, 200) };
      }
      const { status, text } = await postJson(agents.bare, bareUrls[n % bareUrls.length] as URL, input, {});
      const id = status === 200 ? (JSON.parse(text).id as string | undefined) : undefined;
      return id ? { id, error: null } : { id: null, error: `${status} ${text.slice(0, 200)}` };
    } catch (error) {
      return { id: null, error: (error as Error).message };
    }
  };

  /** Sends one notification for `phase`, records its latency (from `dueAt`, else from issue) and expects its delivery. */
  const fire = async (phaseIndex: number, dueAt: number | null) => {
    const phase = phases[phaseIndex] as PhaseState;
    const subscriber = Math.floor(random() * args.subscribers);
    const issuedAt = performance.now();
    phase.issued++;
    if (dueAt !== null) phase.scheduleLag.push(issuedAt - dueAt);
    const outcome = await sendOnce(phase.pipeline, subscriber);
    const doneAt = performance.now();
    if (!outcome.id) {
      if (outcome.error === 'OVERLOADED') phase.shed++;
      else {
        phase.errors++;
        if (sendErrorSamples.length < 5) sendErrorSamples.push(`${phase.pipeline}: ${outcome.error}`);
      }
      return;
    }
    phase.ok++;
    phase.latency.push(doneAt - (dueAt ?? issuedAt));
    phase.fromIssue.push(doneAt - issuedAt);
    phase.completedAt.push(doneAt);
    watch.expect(outcome.id, subscriber, { phase: phaseIndex, issuedAt });
  };

  const newPhase = (pipeline: Pipeline, kind: PhaseState['kind'], label: string, extra: Partial<PhaseState>): number => {
    phases.push({
      label,
      pipeline,
      kind,
      rate: null,
      concurrency: null,
      workers: 'running',
      start: 0,
      end: 0,
      issued: 0,
      ok: 0,
      shed: 0,
      errors: 0,
      latency: [],
      fromIssue: [],
      scheduleLag: [],
      completedAt: [],
      e2e: [],
      ...extra,
    });
    return phases.length - 1;
  };

  const openPhase = async (phaseIndex: number, rate: number, seconds: number) => {
    const phase = phases[phaseIndex] as PhaseState;
    const window = await openLoop(rate, seconds, (dueAt) => fire(phaseIndex, dueAt));
    Object.assign(phase, window);
  };
  const closedPhase = async (phaseIndex: number, concurrency: number, seconds: number) => {
    const phase = phases[phaseIndex] as PhaseState;
    const window = await closedLoop(concurrency, seconds, () => fire(phaseIndex, null));
    Object.assign(phase, window);
  };

  const backlog = async () => {
    const counts = await renderQueue.getJobCounts('wait', 'active', 'delayed', 'paused', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };
  /** Waits until the worker has rendered and delivered everything sent so far. */
  const drain = async () => {
    const started = performance.now();
    const deadline = started + args['drain-timeout'] * 1000;
    while (performance.now() < deadline && (watch.pending() > 0 || (await backlog()) > 0)) await sleep(50);
    return (performance.now() - started) / 1000;
  };

  const services = () => ({
    ...Object.fromEntries(apis.map((a, i) => [`api${i}`, a.service.pid])),
    worker: worker.pid,
    ...Object.fromEntries(bares.map((b, i) => [`bare${i}`, b.service.pid])),
    ...(streamApis !== apis ? { streams: (streamApis[0] as { service: Service }).service.pid } : {}),
    ...(Number.isFinite(redisPid) ? { redis: redisPid } : {}),
  });
  const sumOf = (cores: Record<string, number>, prefix: string) =>
    Object.entries(cores)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((a, [, v]) => a + v, 0);
  const measured = async (phaseIndex: number, body: () => Promise<void>) => {
    const phase = phases[phaseIndex] as PhaseState;
    if (args.vacuum) await db.query('VACUUM (ANALYZE)');
    const front = phase.pipeline === 'ours' ? apis[0] : bares[0];
    const probed = [apis[0], worker, bares[0]].map((s) => (s && 'service' in s ? s.service : s) as Service);
    const countsBefore = counting ? await Promise.all([front?.service.probe({}), worker.probe({})]) : null;
    if (profiling) await Promise.all(probed.map((s) => s.probe({ profile: { start: true } })));
    let meter: ReturnType<typeof cpuMeter>;
    try {
      meter = cpuMeter(services());
    } catch {
      meter = cpuMeter(Object.fromEntries(Object.entries(services()).filter(([k]) => k !== 'redis')));
    }
    const postgresCpu = await postgresCpuMeter(stack.databaseName);
    await body();
    const raw: Record<string, number> = { ...meter.stop(), postgres: await postgresCpu.stop() };
    const cores: Record<string, number> = {
      api: sumOf(raw, 'api'),
      worker: raw.worker ?? 0,
      bare: sumOf(raw, 'bare'),
      postgres: raw.postgres ?? 0,
      redis: raw.redis ?? Number.NaN,
      streams: raw.streams ?? Number.NaN,
      bench: raw.bench ?? 0,
      machine: raw.machine ?? 0,
    };
    cores.others = othersCores(raw, Object.keys(services()).concat('postgres', 'bench'));
    const files = profiling
      ? await Promise.all(
          probed.map(
            async (s) =>
              (
                await s.probe({
                  profile: { stop: `${args['profile-dir']}/${s.name}-${phase.label.replace(/[^a-z0-9]+/gi, '-')}-${s.pid}.cpuprofile` },
                })
              ).cpuProfile,
          ),
        )
      : [];
    const countsAfter = counting ? await Promise.all([front?.service.probe({}), worker.probe({})]) : null;
    return {
      cores,
      deadTuples: await deadTuples(),
      profiles: files.filter(Boolean) as string[],
      perSend: countsBefore && countsAfter ? countsPerUnit(countsBefore as any, countsAfter as any, phase.issued, 0.01) : null,
      memory: {
        apiRssMb: readMemory(apis[0]?.service.pid as number).rss / 2 ** 20,
        bareRssMb: readMemory(bares[0]?.service.pid as number).rss / 2 ** 20,
      },
    };
  };

  /**
   * What the phase's CPU cost per send would allow on this machine with nothing else running: all
   * cores shared by every process of the platform, and no more than one core per front process
   * (the API or bare process is single-threaded). An estimate (costs measured under contention run
   * high), reported next to the measured throughput because other work on the machine takes a share.
   */
  const cpuBound = (cores: Record<string, number>, achieved: number, pipeline: Pipeline) => {
    const perSend = (k: string) => (Number.isFinite(cores[k]) ? (cores[k] as number) / Math.max(1e-9, achieved) : 0);
    const total = ['api', 'bare', 'worker', 'postgres', 'redis', 'streams', 'bench'].reduce((a, k) => a + perSend(k), 0);
    const front = perSend(pipeline === 'ours' ? 'api' : 'bare');
    return Math.min(availableCores() / total, apiCount / front);
  };

  // --- run -------------------------------------------------------------------------------------------
  const results: any[] = [];
  const conclude = async (phaseIndex: number, instruments: Awaited<ReturnType<typeof measured>>) => {
    const phase = phases[phaseIndex] as PhaseState;
    const drainSeconds = await drain();
    const seconds = (phase.end - phase.start) / 1000;
    const okInWindow = phase.kind === 'closed' ? phase.completedAt.filter((t) => t <= phase.end).length : phase.ok;
    const achieved = okInWindow / seconds;
    const result = {
      phase: phase.label,
      pipeline: phase.pipeline,
      kind: phase.kind,
      rate: phase.rate,
      concurrency: phase.concurrency,
      workers: phase.workers,
      seconds: round(seconds, 2),
      issued: phase.issued,
      ok: phase.ok,
      shed: phase.shed,
      errors: phase.errors,
      achievedPerSecond: round(achieved),
      latencyMs: roundSummary(summarize(phase.latency)),
      latencyFromIssueMs: roundSummary(summarize(phase.fromIssue)),
      scheduleLagMs: roundSummary(summarize(phase.scheduleLag)),
      endToEndMs: roundSummary(summarize(phase.e2e)),
      cpuCores: Object.fromEntries(Object.entries(instruments.cores).map(([k, v]) => [k, round(v, 3)])),
      cpuMsPerSend: Object.fromEntries(
        ['api', 'bare', 'worker', 'postgres', 'redis', 'streams', 'bench']
          .filter((k) => (instruments.cores[k] ?? 0) > 0.005)
          .map((k) => [k, round(((instruments.cores[k] as number) / Math.max(1e-9, achieved)) * 1000, 2)]),
      ),
      cpuBoundEstimatePerSecond: phase.kind === 'closed' ? round(cpuBound(instruments.cores, achieved, phase.pipeline), 0) : null,
      perSend: instruments.perSend,
      cpuProfiles: instruments.profiles,
      rssMb: { api: round(instruments.memory.apiRssMb, 0), bare: round(instruments.memory.bareRssMb, 0) },
      deadTuplesAtEnd: instruments.deadTuples,
      drainSeconds: round(drainSeconds, 1),
    };
    results.push(result);
    log(
      `${phase.label.padEnd(30)} ${String(result.achievedPerSecond).padStart(7)}/s  p50 ${result.latencyMs.p50} / p99 ${result.latencyMs.p99} / max ${result.latencyMs.max} ms  e2e p99 ${result.endToEndMs.p99} ms  errors ${phase.errors}, shed ${phase.shed}; drained in ${result.drainSeconds} s; machine ${result.cpuCores.machine} cores (others ${result.cpuCores.others})`,
    );
    return result;
  };

  if (args.warmup > 0) {
    for (const pipeline of PIPELINES) {
      const index = newPhase(pipeline, 'warm-up', `warm-up ${pipeline}`, { concurrency: 8 });
      await closedPhase(index, 8, args.warmup);
      await drain();
    }
    log('warmed up');
  }
  const measuredStart = phases.length;

  for (const rate of rates) {
    for (const pipeline of PIPELINES) {
      const index = newPhase(pipeline, 'open', `${pipeline} open ${rate}/s`, { rate });
      const instruments = await measured(index, () => openPhase(index, rate, args.duration));
      await conclude(index, instruments);
    }
  }
  for (const mode of modes) {
    for (const pipeline of PIPELINES) {
      const index = newPhase(pipeline, 'closed', `${pipeline} saturation (workers ${mode})`, {
        concurrency: args.concurrency,
        workers: mode,
      });
      if (mode === 'paused') await renderQueue.pause();
      const instruments = await measured(index, () => closedPhase(index, args.concurrency, args['saturation-duration']));
      if (mode === 'paused') await renderQueue.resume();
      await conclude(index, instruments);
    }
  }

  // --- verdicts ----------------------------------------------------------------------------------------
  await drain();
  await sleep(500); // a duplicate would show up now
  const lost = watch.pending((sent) => sent.phase >= measuredStart);
  const lostWarmup = watch.pending() - lost;
  const faults = watch.faults();
  const find = (pipeline: Pipeline, predicate: (r: any) => boolean) => results.find((r) => r.pipeline === pipeline && predicate(r));
  const at200 = (p: Pipeline) => find(p, (r) => r.kind === 'open' && r.rate === TARGET_P99_RATE);
  const saturation = (p: Pipeline, mode: Mode) => find(p, (r) => r.kind === 'closed' && r.workers === mode);
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b, 2) : null);
  const ratios = {
    saturationThroughput: Object.fromEntries(
      modes.map((m) => [m, ratio(saturation('ours', m)?.achievedPerSecond, saturation('bare', m)?.achievedPerSecond)]),
    ),
    saturationCpuBoundEstimate: Object.fromEntries(
      modes.map((m) => [m, ratio(saturation('ours', m)?.cpuBoundEstimatePerSecond, saturation('bare', m)?.cpuBoundEstimatePerSecond)]),
    ),
    p99At200: ratio(at200('ours')?.latencyMs.p99, at200('bare')?.latencyMs.p99),
    byRate: Object.fromEntries(
      rates.map((rate) => {
        const o = find('ours', (r) => r.kind === 'open' && r.rate === rate);
        const b = find('bare', (r) => r.kind === 'open' && r.rate === rate);
        return [rate, { p50: ratio(o?.latencyMs.p50, b?.latencyMs.p50), p99: ratio(o?.latencyMs.p99, b?.latencyMs.p99) }];
      }),
    ),
  };
  const satRunning = saturation('ours', 'running') ?? saturation('ours', 'paused');
  const targets = {
    saturation: {
      target: `send ≥ ${TARGET_SATURATION_PER_SECOND}/s at saturation (${args.concurrency} senders, workers ${satRunning?.workers ?? 'n/a'})`,
      measured: satRunning?.achievedPerSecond ?? null,
      met: (satRunning?.achievedPerSecond ?? 0) >= TARGET_SATURATION_PER_SECOND,
    },
    p99At200: {
      target: `send p99 ≤ ${TARGET_P99_MS} ms at ${TARGET_P99_RATE}/s (from the scheduled time) with the worker and ${args.subscribers} subscribers`,
      measured: at200('ours')?.latencyMs.p99 ?? null,
      met: at200('ours') ? at200('ours').latencyMs.p99 <= TARGET_P99_MS : false,
    },
    ratio: {
      target: `saturation throughput ours / bare ≥ ${TARGET_RATIO} (workers ${satRunning?.workers ?? 'n/a'})`,
      measured: ratios.saturationThroughput[satRunning?.workers ?? 'running'] ?? null,
      met: (ratios.saturationThroughput[satRunning?.workers ?? 'running'] ?? 0) >= TARGET_RATIO,
    },
  };
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const correct =
    errors === 0 &&
    lost === 0 &&
    faults.duplicates === 0 &&
    faults.wrongStream === 0 &&
    faults.streamErrors === 0 &&
    faults.outOfOrder === 0 &&
    faults.streamsEnded === 0 &&
    faults.unknownEvents === 0;
  const report = {
    bench: 'send',
    at: new Date().toISOString(),
    command,
    machine: machineReport(load.loadAverage),
    settings: {
      seed: args.seed,
      rates,
      durationSeconds: args.duration,
      warmupSeconds: args.warmup,
      concurrency: args.concurrency,
      saturationSeconds: args['saturation-duration'],
      saturationModes: modes,
      subscribers: args.subscribers,
      streamsOn: args['streams-on'],
      apiProcesses: apiCount,
      apiNodeArgs: nodeArgs,
      vacuumBetweenPhases: args.vacuum,
      smoke: args.smoke,
    },
    phases: results,
    ratios,
    targets,
    lost,
    lostInWarmup: lostWarmup,
    duplicates: faults.duplicates,
    wrongStream: faults.wrongStream,
    outOfOrder: faults.outOfOrder,
    streamErrors: faults.streamErrors,
    streamsEnded: faults.streamsEnded,
    unknownEvents: faults.unknownEvents,
    errorSamples: [...sendErrorSamples, ...faults.samples],
    charts: [] as string[],
    correct,
  };

  if (args.charts && !args.smoke) report.charts = writeCharts(report, phases.slice(measuredStart));
  if (args.json) console.log(JSON.stringify(report));
  else {
    console.log(`\n${renderMarkdown(report)}`);
    printResult(report);
  }
  if (!correct) printServiceErrors([...apis.map((a) => a.service), worker, ...bares.map((b) => b.service)]);
  return correct ? 0 : 1;
}

function cpuCell(c: Record<string, number>): string {
  const f = (k: string) => (c[k] === undefined || !Number.isFinite(c[k]) ? '–' : (c[k] as number).toFixed(2));
  const streams = Number.isFinite(c.streams) ? ` (+ streams API ${f('streams')})` : '';
  return `${f('api')} / ${f('bare')} / ${f('worker')} / ${f('postgres')} / ${f('redis')} / ${f('bench')} / ${f('others')} / ${f('machine')}${streams}`;
}

function renderMarkdown(report: any): string {
  const m = report.machine;
  const s = report.settings;
  const lines: string[] = [];
  lines.push(`## send — ${report.at}`);
  lines.push('');
  lines.push(`Command: \`${report.command}\``);
  lines.push('');
  lines.push(
    `Machine: ${m.cores} cores, load average ${m.loadAverageAtStart} at start / ${m.loadAverageAtEnd} at end, Node ${m.node}. ` +
      `${s.apiProcesses} API process(es) (${s.apiNodeArgs.join(' ') || 'default Node flags'}) and as many bare ones, 1 worker, ${s.subscribers} live subscribers (streams served by ${s.streamsOn === 'shared' ? 'the API process(es) taking the sends' : 'an API process of their own'}); ` +
      `open-loop phases ${s.durationSeconds} s, saturation ${s.saturationSeconds} s with ${s.concurrency} senders; ${s.vacuumBetweenPhases ? 'database vacuumed before each phase' : 'no vacuum between phases'}; seed ${s.seed}.`,
  );
  lines.push('');
  lines.push(
    markdownTable([
      [
        'phase',
        'achieved/s',
        'latency p50 / p95 / p99 / max (ms)',
        'send → SSE p50 / p99 (ms)',
        'errors / shed',
        'CPU cores api / bare / worker / pg / redis / bench / others / machine',
        'drain (s)',
      ],
      ...report.phases.map((r: any) => [
        r.phase,
        r.achievedPerSecond,
        `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99} / ${r.latencyMs.max}`,
        `${r.endToEndMs.p50} / ${r.endToEndMs.p99}`,
        `${r.errors} / ${r.shed}`,
        cpuCell(r.cpuCores),
        r.drainSeconds,
      ]),
    ]),
  );
  lines.push('');
  lines.push(
    "Open-loop latency runs from each send's scheduled time to its response (so the generator's and the server's stalls count); closed-loop latency from issue to response. \"send → SSE\" is issue to the DELIVERED event on the recipient's stream.",
  );
  lines.push('');
  const sat = Object.entries(report.ratios.saturationThroughput as Record<string, number | null>);
  lines.push(
    markdownTable([
      ['ratio ours / bare', 'value'],
      ...sat.map(([mode, v]) => [`saturation throughput, workers ${mode} (aim ≥ ${TARGET_RATIO})`, v ?? 'n/a']),
      ...Object.entries(report.ratios.saturationCpuBoundEstimate as Record<string, number | null>).map(([mode, v]) => [
        `CPU-bound estimate of saturation throughput, workers ${mode}`,
        v ?? 'n/a',
      ]),
      [`p99 at ${TARGET_P99_RATE}/s (lower is better; > 1 = ours slower)`, report.ratios.p99At200 ?? 'n/a'],
      ...Object.entries(report.ratios.byRate as Record<string, { p50: number | null; p99: number | null }>).map(([rate, v]) => [
        `p50 / p99 at ${rate}/s`,
        `${v.p50 ?? 'n/a'} / ${v.p99 ?? 'n/a'}`,
      ]),
    ]),
  );
  lines.push('');
  lines.push(
    markdownTable([
      ['target', 'measured', 'verdict'],
      ...Object.values(report.targets as Record<string, { target: string; measured: number | null; met: boolean }>).map((t) => [
        t.target,
        t.measured ?? 'n/a',
        t.met ? 'met' : '**missed**',
      ]),
    ]),
  );
  lines.push('');
  for (const r of report.phases) {
    const per = Object.entries(r.cpuMsPerSend)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const bound = r.cpuBoundEstimatePerSecond ? `; CPU-bound estimate on an otherwise idle machine ${r.cpuBoundEstimatePerSecond}/s` : '';
    const dead = Object.entries(r.deadTuplesAtEnd ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      `- ${r.phase}: CPU ms per send ${per || 'n/a'}${bound}; RSS api ${r.rssMb.api} MB, bare ${r.rssMb.bare} MB; dead row versions: ${dead || 'n/a'}`,
    );
    if (r.perSend) {
      for (const [who, q] of [
        [r.pipeline === 'ours' ? 'api' : 'bare', r.perSend.api],
        ['worker', r.perSend.worker],
      ] as const) {
        lines.push(...countLines(who, 'send', q));
      }
    }
    for (const file of r.cpuProfiles) lines.push(`  CPU profile: ${file} (npx node bench/cpu-profile-summary.ts ${file})`);
  }
  lines.push('');
  lines.push(
    `Deliveries: lost ${report.lost} (warm-up ${report.lostInWarmup}), duplicates ${report.duplicates}, wrong stream ${report.wrongStream}, out of order ${report.outOfOrder}, unknown ${report.unknownEvents}, stream errors ${report.streamErrors}, streams ended ${report.streamsEnded}.`,
  );
  for (const sample of report.errorSamples) lines.push(`  e.g. ${sample}`);
  for (const chart of report.charts) lines.push(`Chart: ${chart}`);
  lines.push(`Correctness: ${report.correct ? 'ok' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}

function writeCharts(report: any, phases: PhaseState[]): string[] {
  const written: string[] = [];
  const when = `${report.at.slice(0, 16).replace('T', ' ')} UTC, load average ${report.machine.loadAverageAtStart}`;
  const open = phases.filter((p) => p.kind === 'open');
  const rates = [...new Set(open.map((p) => p.rate))];
  written.push(
    writeChart(
      'send-latency.svg',
      lineChart({
        title: 'send latency from the scheduled time, open loop',
        subtitle: `ours solid, bare pipeline dashed; ${report.settings.subscribers} live subscribers, worker running; ${when}`,
        xLabel: 'percentile',
        yLabel: 'latency (ms)',
        xScale: 'percentile',
        yScale: 'log',
        series: rates.flatMap((rate, r) =>
          PIPELINES.map((pipeline) => {
            const p = open.find((x) => x.rate === rate && x.pipeline === pipeline);
            return percentileSeries(`${pipeline} ${rate}/s`, p?.latency ?? [], { dashed: pipeline === 'bare', colour: r });
          }),
        ),
        guides: [{ axis: 'y', value: TARGET_P99_MS, label: `target: p99 ≤ ${TARGET_P99_MS} ms at ${TARGET_P99_RATE}/s` }],
      }),
    ),
  );
  const closed = phases.filter((p) => p.kind === 'closed');
  if (closed.length) {
    written.push(
      writeChart(
        'send-saturation.svg',
        lineChart({
          title: `send throughput over time, closed loop (${report.settings.concurrency} senders)`,
          subtitle: when,
          xLabel: 'seconds into the phase',
          yLabel: 'responses per second',
          series: closed.map((p) =>
            rateSeries(`${p.pipeline}, workers ${p.workers}`, p.completedAt, p.start, p.end, 1000, {
              dashed: p.pipeline === 'bare',
              colour: p.workers === 'running' ? 0 : 1,
            }),
          ),
          guides: [{ axis: 'y', value: TARGET_SATURATION_PER_SECOND, label: `target ≥ ${TARGET_SATURATION_PER_SECOND}/s` }],
        }),
      ),
    );
  }
  written.push(
    writeChart(
      'send-e2e.svg',
      lineChart({
        title: 'send → SSE DELIVERED latency, open loop',
        subtitle: `ours solid, bare pipeline dashed (the same worker delivers both); ${report.settings.subscribers} live subscribers; ${when}`,
        xLabel: 'percentile',
        yLabel: 'latency (ms)',
        xScale: 'percentile',
        yScale: 'log',
        series: rates.flatMap((rate, r) =>
          PIPELINES.map((pipeline) => {
            const p = open.find((x) => x.rate === rate && x.pipeline === pipeline);
            return percentileSeries(`${pipeline} ${rate}/s`, p?.e2e ?? [], { dashed: pipeline === 'bare', colour: r });
          }),
        ),
        guides: [{ axis: 'y', value: 75, label: 'target: p99 ≤ 75 ms at 200/s' }],
      }),
    ),
  );
  return written.map((p) => p.replace(/^.*\/docs\//, 'docs/'));
}
