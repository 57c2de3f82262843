// Signed, logged webhook deliveries per second to local receivers, and healthy endpoints' delivery
// delay while other endpoints fail.
//
// Topology (all on this machine, each a separate OS process): one API process (api/src/main.ts),
// one worker process (worker/src/main.ts), PostgreSQL, Redis, a receiver process (this file started
// again with PIGEON_BENCH_ROLE=webhook-receiver: one node:http server per endpoint on 127.0.0.1,
// answering at once) and this process as the load generator. Both the API and the worker get
// WEBHOOK_ALLOW_LIST=127.0.0.0/8, so endpoints may point at loopback.
//
// Setup goes through the public API: per scenario a tenant (user, project, API key) with
// `--endpoints` endpoints created by createWebhookEndpoint, all subscribed to one event type
// (`--event`, default notification.accepted: written by send's own statement and enqueued by the API
// right after commit, so the delay measured is the webhook path alone — notification.delivered
// would add the render pipeline in front of it). Every delivery goes the real way: `send` → delivery
// rows → BullMQ job → endpoint semaphore → claim → Standard Webhooks signature → POST → one
// statement logging the attempt. So deliveries/s = sends/s × endpoints.
//
// Scenarios:
//   alone      all endpoints answer 200; open-loop sends at `--rate` deliveries/s for `--duration` s
//              (after a `--warmup`); `--sweep r1,r2,…` adds one such phase per rate.
//   failing    the same with `--failing-share` of the endpoints answering 500.
//   hanging    (not run by default) the same, but the failing endpoints never answer, so each of their
//              attempts runs into WEBHOOK_TIMEOUT_MS (`--timeout-ms`, default 2000).
//   saturation `--backlog` deliveries are created while the webhook queue is paused (renders run
//              meanwhile), then the queue is resumed and the drain rate measured: the most the
//              platform sustains, with nothing else running.
//
// A delivery's delay is its first arrival at the receiver minus the delivery row's created_at (the
// send statement's transaction start; with --event delivered, the render's), read from PostgreSQL by
// webhook-id after the phase; both clocks are this machine's. Throughput counts SUCCEEDED deliveries completed (and attempt rows
// started) inside the phase's window in PostgreSQL, and receiver arrivals. Every request's
// signature is verified with `standardwebhooks` in the receiver (`--verify-every N` to sample).
//
// The exit code is non-zero only for correctness failures: a healthy delivery that did not arrive
// or was not recorded as SUCCEEDED with its 2xx attempt, a bad signature, a request for an unknown
// delivery or the wrong endpoint, a wrong event type, missing delivery rows, or send errors. Missed
// speed targets are reported, never fatal.
//
// Run: npx node bench/webhooks.ts [--endpoints 10] [--rate 500] [--duration 30] [--warmup 5]
//      [--failing-share 0.2] [--backlog 20000] [--sweep 500,750,1000] [--smoke]
//      [--scenarios alone,failing,saturation,hanging]
//      [--count-queries] [--profile-dir DIR] [--out-dir DIR] [--json]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createWebhookQueue } from '@pigeon/worker/jobs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { lineChart, percentileSeries, rateSeries, writeChart } from './lib/chart.ts';
import { createTenant, graphqlClient, SEND_MUTATION } from './lib/graphql.ts';
import {
  countLines,
  countsPerUnit,
  cpuMeter,
  createCleanup,
  machineLoad,
  machineReport,
  postgresCpuMeter,
  printServiceErrors,
  REDIS_URL,
  runBench,
  sleep,
  uniqueName,
} from './lib/platform.ts';
import { createStack } from './lib/stack.ts';
import { ms, parseArgs, percentile, printResult, seededRandom } from './lib/stats.ts';

const ROLE_VARIABLE = 'PIGEON_BENCH_ROLE';
const isReceiver = process.env[ROLE_VARIABLE] === 'webhook-receiver';

const args = parseArgs(
  {
    /** Endpoints per scenario (one environment each; an environment may have up to 50). */
    endpoints: 10,
    /** Offered deliveries per second in the open-loop phases (sends/s × endpoints). */
    rate: 500,
    duration: 30,
    warmup: 5,
    /** Extra open-loop phases, all endpoints healthy: deliveries/s, e.g. "500,750,1000". */
    sweep: '',
    /** Share of the failing scenario's endpoints that answer 500. */
    'failing-share': 0.2,
    /** Which scenarios to run, in this order: alone, failing, saturation, hanging. */
    scenarios: 'alone,failing,saturation',
    /** Deliveries queued for the saturation (drain) phase; 0 skips it. */
    backlog: 20_000,
    /** Event type the endpoints subscribe to: accepted (webhook path only) or delivered (after render). */
    event: 'accepted',
    /** Worker settings (empty: the product's defaults, except the timeout). */
    'timeout-ms': 2000,
    'webhook-concurrency': '',
    'endpoint-concurrency': '',
    'retry-schedule': '',
    /** Verify every Nth request's signature in the receiver (1: all). */
    'verify-every': 1,
    /** Sends in flight while building the backlog. */
    'backlog-concurrency': 16,
    /** Seconds without progress after which a drain gives up (what is left then counts as lost). */
    'drain-timeout': 60,
    seed: Math.floor(Math.random() * 2 ** 31),
    'api-node-args': '',
    'worker-node-args': '',
    /** Extra environment for the worker / API, "NAME=value;NAME=value" (e.g. "DATABASE_POOL_SIZE=20;PGOPTIONS=-c synchronous_commit=off"). */
    'worker-env': '',
    'api-env': '',
    /** Count PostgreSQL statements and Redis commands per delivery in the worker and API (bench/lib/probe.ts). */
    'count-queries': false,
    /** CPU profiles of the API and worker over each measured phase (.cpuprofile files go here). */
    'profile-dir': '',
    /** Also write the JSON and markdown report to this directory. */
    'out-dir': '',
    /** Write SVG charts to docs/bench/ (never in --smoke). */
    charts: true,
    /** A few seconds with small numbers: checks the pipeline end to end (CI). */
    smoke: false,
    json: false,
  },
  isReceiver ? [] : process.argv.slice(2),
);

if (args.smoke) {
  Object.assign(args, {
    endpoints: 5,
    rate: 50,
    duration: 3,
    warmup: 0,
    sweep: '',
    backlog: 200,
    'drain-timeout': 30,
  });
}

const TARGET_PER_SECOND = 500;
/** The longest any single wait for a drain may take, progress or not. */
const UNTIL_DONE_CAP_SECONDS = 900;
const TARGET_HEALTHY_P99_MS = 1000;
const EVENT_TYPES: Record<string, string> = { accepted: 'notification.accepted', delivered: 'notification.delivered' };

type Mode = 'ok' | 'fail' | 'hang';

// ---------------------------------------------------------------------------------------------
// The receiver process

interface ReceiverRequest {
  seq?: number;
  op: 'listen' | 'configure' | 'mode' | 'counts' | 'collect';
  count?: number;
  endpoints?: { index: number; secret: string; mode: Mode }[];
  indices?: number[];
  mode?: Mode;
  eventType?: string;
  verifyEvery?: number;
}

interface ReceiverReply {
  seq: number;
  ports?: number[];
  /** 2xx answers per endpoint index so far. */
  ok?: number[];
  requests?: number;
  /** Arrivals since the last collect: ids[i] arrived at endpoint rows[4i] at rows[4i+1] (epoch ms), answered rows[4i+2], signature rows[4i+3] (1 valid, 0 invalid, -1 not checked). */
  ids?: string[];
  rows?: number[];
  wrongType?: number;
  hanging?: number;
}

/** One node:http server per endpoint; answers at once (or never, in hang mode) and records each request. */
function runReceiver(): void {
  interface Hook {
    server: http.Server;
    port: number;
    mode: Mode;
    verifier: Webhook | null;
    hanging: Set<http.ServerResponse>;
  }
  const hooks: Hook[] = [];
  const ok: number[] = [];
  let ids: string[] = [];
  let rows: number[] = [];
  let requests = 0;
  let wrongType = 0;
  let eventType = '';
  let verifyEvery = 1;

  const handle = (index: number, req: http.IncomingMessage, res: http.ServerResponse) => {
    const at = Date.now();
    const hook = hooks[index] as Hook;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      let signature = -1;
      let parsed: { type?: string } | null = null;
      if (hook.verifier && n % verifyEvery === 0) {
        try {
          parsed = hook.verifier.verify(body, {
            'webhook-id': id,
            'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
            'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
          }) as { type?: string };
          signature = 1;
        } catch {
          signature = 0;
        }
      }
      if (!parsed) {
        try {
          parsed = JSON.parse(body) as { type?: string };
        } catch {
          parsed = null;
        }
      }
      if (parsed?.type !== eventType) wrongType++;
      const status = hook.mode === 'ok' ? 200 : hook.mode === 'fail' ? 500 : 0;
      ids.push(id);
      rows.push(index, at, status, signature);
      if (status === 200) {
        ok[index] = (ok[index] ?? 0) + 1;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else if (status === 500) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('failing on purpose');
      } else {
        hook.hanging.add(res);
        res.on('close', () => hook.hanging.delete(res));
      }
    });
  };

  const reply = (message: ReceiverReply) => process.send?.(message);
  process.on('message', async (m: ReceiverRequest) => {
    const seq = m.seq ?? 0;
    switch (m.op) {
      case 'listen': {
        const ports: number[] = [];
        for (let i = 0; i < (m.count ?? 0); i++) {
          const index = hooks.length;
          const server = http.createServer((req, res) => handle(index, req, res));
          await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
          const port = (server.address() as { port: number }).port;
          hooks.push({ server, port, mode: 'ok', verifier: null, hanging: new Set() });
          ok.push(0);
          ports.push(port);
        }
        reply({ seq, ports });
        break;
      }
      case 'configure':
        eventType = m.eventType ?? eventType;
        verifyEvery = Math.max(1, m.verifyEvery ?? verifyEvery);
        for (const e of m.endpoints ?? []) {
          const hook = hooks[e.index] as Hook;
          hook.verifier = new Webhook(e.secret);
          hook.mode = e.mode;
        }
        reply({ seq });
        break;
      case 'mode': {
        for (const index of m.indices ?? []) {
          const hook = hooks[index] as Hook;
          hook.mode = m.mode ?? 'ok';
          // Requests parked by hang mode are cut off: the worker records a reset and moves on.
          if (hook.mode !== 'hang') for (const res of hook.hanging) res.socket?.destroy();
        }
        reply({ seq });
        break;
      }
      case 'counts':
        reply({ seq, ok, requests, wrongType, hanging: hooks.reduce((a, h) => a + h.hanging.size, 0) });
        break;
      case 'collect':
        reply({ seq, ids, rows, ok, requests, wrongType });
        ids = [];
        rows = [];
        break;
    }
  });
  // The bench owns this process: when it goes, so does the receiver.
  process.on('disconnect', () => process.exit(0));
}

function startReceiver(cleanup: ReturnType<typeof createCleanup>) {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_VARIABLE]: 'webhook-receiver' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const waiting = new Map<number, { resolve: (r: ReceiverReply) => void; reject: (e: Error) => void }>();
  child.on('message', (m: ReceiverReply) => {
    waiting.get(m.seq)?.resolve(m);
    waiting.delete(m.seq);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the receiver exited (${code})`));
    waiting.clear();
  });
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  return {
    pid: child.pid ?? -1,
    ask(request: ReceiverRequest): Promise<ReceiverReply> {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ ...request, seq: id });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The bench

interface Endpoint {
  index: number;
  id: string;
  mode: Mode;
}

interface Scenario {
  name: string;
  apiKey: string;
  environmentId: string;
  endpoints: Endpoint[];
  recipients: string[];
}

interface Arrival {
  endpoint: number;
  at: number;
  status: number;
  signature: number;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  status: string;
  created: number;
  completed: number | null;
  attempts: number;
  ok_attempts: number;
  first_started: number | null;
}

interface DelaySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  /** Share of deliveries within the 1 s target. */
  withinTarget: number;
}

const split = (s: string) => s.split(' ').filter(Boolean);
/** "NAME=value;NAME=value" → an environment; values may hold spaces and "=". */
const parseEnvList = (spec: string): Record<string, string> =>
  Object.fromEntries(
    spec
      .split(';')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const at = p.indexOf('=');
        if (at < 1) throw new Error(`"${p}" is not NAME=value`);
        return [p.slice(0, at), p.slice(at + 1)];
      }),
  );
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
const log = (line: string) => {
  if (!args.json) console.log(line);
};

function summarizeDelays(values: number[]): DelaySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
    withinTarget: sorted.length ? sorted.filter((v) => v <= TARGET_HEALTHY_P99_MS).length / sorted.length : Number.NaN,
  };
}

async function run(cleanup: ReturnType<typeof createCleanup>): Promise<number> {
  const random = seededRandom(args.seed);
  const load = machineLoad();
  if (load.warning) console.error(load.warning);
  const eventType = EVENT_TYPES[args.event];
  if (!eventType) throw new Error(`--event must be one of ${Object.keys(EVENT_TYPES).join(', ')}`);
  const E = args.endpoints;
  if (!(Number.isInteger(E) && E >= 1 && E <= 50)) throw new Error('--endpoints must be 1..50 (the per-environment limit)');
  const sweep = args.sweep ? args.sweep.split(',').map((r) => Number(r.trim())) : ([] as number[]);
  if ([args.rate, ...sweep].some((r) => !(r > 0))) throw new Error('--rate / --sweep must be positive deliveries per second');
  const failingCount = Math.min(E - 1, Math.max(1, Math.round(E * args['failing-share'])));
  const command = `npx node bench/webhooks.ts ${process.argv.slice(2).join(' ')}`.trim();
  log(
    `webhooks: ${E} endpoints per scenario (${eventType}), ${args.rate} deliveries/s for ${args.duration} s (warm-up ${args.warmup} s), ${failingCount} of ${E} failing in the failing scenario, backlog ${args.backlog}, seed ${args.seed}`,
  );

  const stack = await createStack(cleanup);
  const counting = args['count-queries'];
  const profiling = args['profile-dir'] !== '';
  if (profiling) mkdirSync(args['profile-dir'], { recursive: true });
  const probe = counting || profiling;
  const common: Record<string, string> = { WEBHOOK_ALLOW_LIST: '127.0.0.0/8', ...(counting ? { BENCH_COUNT_QUERIES: '1' } : {}) };
  const apiEnv: Record<string, string> = { ...common, ...parseEnvList(args['api-env']) };
  const workerEnv: Record<string, string> = {
    ...common,
    WEBHOOK_TIMEOUT_MS: String(args['timeout-ms']),
    ...parseEnvList(args['worker-env']),
  };
  if (args['webhook-concurrency']) workerEnv.WEBHOOK_CONCURRENCY = args['webhook-concurrency'];
  if (args['endpoint-concurrency']) workerEnv.WEBHOOK_ENDPOINT_CONCURRENCY = args['endpoint-concurrency'];
  if (args['retry-schedule']) workerEnv.WEBHOOK_RETRY_SCHEDULE = args['retry-schedule'];

  const receiver = startReceiver(cleanup);
  const { service: api, baseUrl } = await stack.startApi('api', { nodeArgs: split(args['api-node-args']), probe, env: apiEnv });
  const worker = stack.startWorker('worker', { nodeArgs: split(args['worker-node-args']), probe, env: workerEnv });

  const db = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  cleanup.add(() => db.end());
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  cleanup.add(async () => redis.disconnect());
  const webhookQueue = createWebhookQueue(redis, { prefix: stack.prefix });
  cleanup.add(() => webhookQueue.close());
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? Number.NaN);
  const postgresVersion = (await db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? '?';

  const client = graphqlClient(baseUrl, { maxSockets: 256 });
  cleanup.add(async () => client.close());

  // The worker has subscribed to its queues once BullMQ lists it.
  for (const deadline = Date.now() + 60_000; (await webhookQueue.getWorkersCount()) === 0; ) {
    if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
    if (Date.now() > deadline) throw new Error(`worker not ready:\n${worker.output()}`);
    await sleep(100);
  }

  // --- scenarios: tenants, endpoints, receivers ------------------------------------------------
  const known = ['alone', 'failing', 'saturation', 'hanging'];
  const names = known.filter((n) => args.scenarios.split(',').includes(n) && (n !== 'saturation' || args.backlog > 0));
  if (names.length === 0) throw new Error(`--scenarios must name some of ${known.join(', ')}`);
  const { ports } = await receiver.ask({ op: 'listen', count: names.length * E });
  if (!ports || ports.length !== names.length * E) throw new Error('receiver did not listen');
  const scenarios = new Map<string, Scenario>();
  const endpointByIndex = new Map<number, { id: string; scenario: string }>();
  for (const [s, name] of names.entries()) {
    const tenant = await createTenant(client, uniqueName(`webhooks_${name}`));
    const auth = { authorization: `Bearer ${tenant.apiKey}` };
    const endpoints: Endpoint[] = [];
    const secrets: { index: number; secret: string; mode: Mode }[] = [];
    for (let i = 0; i < E; i++) {
      const index = s * E + i;
      const created = await client.request(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
          __typename ... on CreatedWebhookEndpoint { endpoint { id } secret } ... on Error { code message } } }`,
        {
          input: { url: `http://127.0.0.1:${ports[index]}/hooks/${name}/${i}`, eventTypes: [eventType], description: `bench ${name} ${i}` },
        },
        auth,
      );
      const result = created.data?.createWebhookEndpoint as { endpoint?: { id: string }; secret?: string } | undefined;
      if (!result?.endpoint || !result.secret) throw new Error(`createWebhookEndpoint failed: ${JSON.stringify(created).slice(0, 500)}`);
      endpoints.push({ index, id: result.endpoint.id, mode: 'ok' });
      endpointByIndex.set(index, { id: result.endpoint.id, scenario: name });
      secrets.push({ index, secret: result.secret, mode: 'ok' });
    }
    await receiver.ask({ op: 'configure', endpoints: secrets, eventType, verifyEvery: args['verify-every'] });
    const recipients = Array.from({ length: 100 }, (_, i) => `bench-${name}-user-${i}`);
    scenarios.set(name, { name, apiKey: tenant.apiKey, environmentId: tenant.environmentId, endpoints, recipients });
  }
  // The same endpoints fail in every failing phase: a seeded choice.
  const failingSlots = new Set<number>();
  while (failingSlots.size < failingCount) failingSlots.add(Math.floor(random() * E));
  log(
    `created ${names.length} × ${E} endpoints (${names.join(', ')}); failing slots: ${[...failingSlots].sort((a, b) => a - b).join(', ')}`,
  );

  // --- shared measurement state ----------------------------------------------------------------
  const arrivals = new Map<string, Arrival[]>();
  const faults = { badSignatures: 0, checkedSignatures: 0, sendErrors: 0, errorSamples: [] as string[] };
  const collect = async () => {
    const r = await receiver.ask({ op: 'collect' });
    const rows = r.rows ?? [];
    (r.ids ?? []).forEach((id, i) => {
      const a: Arrival = {
        endpoint: rows[4 * i] as number,
        at: rows[4 * i + 1] as number,
        status: rows[4 * i + 2] as number,
        signature: rows[4 * i + 3] as number,
      };
      if (a.signature >= 0) faults.checkedSignatures++;
      if (a.signature === 0) faults.badSignatures++;
      const list = arrivals.get(id);
      if (list) list.push(a);
      else arrivals.set(id, [a]);
    });
    return r;
  };
  const okCount = async (indices: number[]) => {
    const r = await receiver.ask({ op: 'counts' });
    return indices.reduce((a, i) => a + (r.ok?.[i] ?? 0), 0);
  };
  const setMode = async (scenario: Scenario, slots: Iterable<number>, mode: Mode) => {
    const indices = [...slots].map((slot) => (scenario.endpoints[slot] as Endpoint).index);
    for (const slot of slots) (scenario.endpoints[slot] as Endpoint).mode = mode;
    await receiver.ask({ op: 'mode', indices, mode });
  };

  const send = (scenario: Scenario, n: number) => {
    const to = scenario.recipients[Math.floor(random() * scenario.recipients.length)] as string;
    const input = { to, title: `Webhook bench ${n}`, body: `Notification ${n} for ${to}`, category: 'bench' };
    return client.request(SEND_MUTATION, { input }, { authorization: `Bearer ${scenario.apiKey}` }).then(
      (r) => {
        const id = r.data?.send?.notification?.id as string | undefined;
        if (id) return id;
        faults.sendErrors++;
        if (faults.errorSamples.length < 5) faults.errorSamples.push(JSON.stringify(r).slice(0, 300));
        return null;
      },
      (error: Error) => {
        faults.sendErrors++;
        if (faults.errorSamples.length < 5) faults.errorSamples.push(error.message);
        return null;
      },
    );
  };

  /** Open loop: send i is due at start + i / rate, whether or not earlier sends have finished. */
  const drive = async (scenario: Scenario, sendsPerSecond: number, seconds: number) => {
    const total = Math.round(seconds * sendsPerSecond);
    const interval = 1000 / sendsPerSecond;
    const start = performance.now();
    const inFlight: Promise<string | null>[] = [];
    const lag: number[] = [];
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && start + i * interval <= now) {
        lag.push(now - (start + i * interval));
        inFlight.push(send(scenario, i++));
      }
      if (i < total) await sleep(Math.max(0, start + i * interval - performance.now()));
    }
    const notifications = (await Promise.all(inFlight)).filter((id): id is string => id !== null);
    return {
      issued: total,
      notifications,
      lagMs: percentile(
        [...lag].sort((a, b) => a - b),
        99,
      ),
    };
  };

  const phaseRows = async (notifications: string[]) =>
    (
      await db.query<DeliveryRow>(
        `SELECT d.id::text AS id, d.endpoint_id::text AS endpoint_id, d.status::text AS status,
                (extract(epoch FROM d.created_at) * 1000)::float8 AS created,
                (extract(epoch FROM d.completed_at) * 1000)::float8 AS completed,
                count(a.id)::int AS attempts,
                (count(a.id) FILTER (WHERE a.response_status BETWEEN 200 AND 299))::int AS ok_attempts,
                (extract(epoch FROM min(a.started_at)) * 1000)::float8 AS first_started
           FROM webhook_deliveries AS d LEFT JOIN webhook_attempts AS a ON a.delivery_id = d.id
          WHERE d.notification_id = ANY($1::uuid[]) AND d.event_type = $2
          GROUP BY d.id`,
        [notifications, eventType],
      )
    ).rows;

  /** Deliveries of these notifications still to finish: healthy ones not SUCCEEDED, failing ones never attempted. */
  const unfinished = async (notifications: string[], healthyIds: string[]) =>
    (
      await db.query<{ healthy: number; unattempted: number; total: number }>(
        `SELECT (count(*) FILTER (WHERE endpoint_id = ANY($3::uuid[]) AND status <> 'SUCCEEDED'))::int AS healthy,
                (count(*) FILTER (WHERE NOT endpoint_id = ANY($3::uuid[]) AND attempt_count = 0))::int AS unattempted,
                count(*)::int AS total
           FROM webhook_deliveries WHERE notification_id = ANY($1::uuid[]) AND event_type = $2`,
        [notifications, eventType, healthyIds],
      )
    ).rows[0] ?? { healthy: 0, unattempted: 0, total: 0 };

  /** Whole-database counts in a wall-clock window: every tenant's deliveries and attempts. */
  const windowCounts = async (from: number, to: number) =>
    (
      await db.query<{ succeeded: number; attempts: number; failed_attempts: number }>(
        `SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'SUCCEEDED'
                    AND completed_at >= to_timestamp($1 / 1000.0) AND completed_at < to_timestamp($2 / 1000.0))::int AS succeeded,
                (SELECT count(*) FROM webhook_attempts
                  WHERE started_at >= to_timestamp($1 / 1000.0) AND started_at < to_timestamp($2 / 1000.0))::int AS attempts,
                (SELECT count(*) FROM webhook_attempts
                  WHERE started_at >= to_timestamp($1 / 1000.0) AND started_at < to_timestamp($2 / 1000.0)
                    AND (response_status IS NULL OR response_status NOT BETWEEN 200 AND 299))::int AS failed_attempts`,
        [from, to],
      )
    ).rows[0] ?? { succeeded: 0, attempts: 0, failed_attempts: 0 };

  /** CPU meters, profiler and statement counters around a measured window. */
  const instruments = async (label: string) => {
    const countsBefore = counting ? await Promise.all([api.probe({}), worker.probe({})]) : null;
    if (profiling) await Promise.all([api.probe({ profile: { start: true } }), worker.probe({ profile: { start: true } })]);
    const pids: Record<string, number> = { api: api.pid, worker: worker.pid, receiver: receiver.pid };
    if (Number.isFinite(redisPid)) pids.redis = redisPid;
    let cpu: ReturnType<typeof cpuMeter> | null = null;
    try {
      cpu = cpuMeter(pids);
    } catch {
      delete pids.redis; // not readable (another machine or namespace)
      cpu = cpuMeter(pids);
    }
    const postgresCpu = await postgresCpuMeter(stack.databaseName);
    const waits = sampleWaits(db);
    const walBefore = await walCounters(db);
    const splitPids = { api: api.pid, worker: worker.pid, receiver: receiver.pid };
    const userSystemBefore = Object.fromEntries(Object.entries(splitPids).map(([k, pid]) => [k, readUserSystem(pid)]));
    return {
      async stop() {
        const cores: Record<string, number> = { ...(cpu?.stop() ?? {}), postgres: await postgresCpu.stop() };
        // What the rest of the machine (other work, other databases) used meanwhile: noise.
        cores.others = Math.max(
          0,
          (cores.machine ?? 0) - ['api', 'worker', 'postgres', 'redis', 'receiver', 'bench'].reduce((a, k) => a + (cores[k] ?? 0), 0),
        );
        const postgresWaits = await waits.stop();
        const walAfter = await walCounters(db);
        // The kernel's share of each process's CPU: on loopback, a socket write also runs the receiving side's TCP stack.
        const systemShare = Object.fromEntries(
          Object.entries(splitPids).map(([k, pid]) => {
            const before = userSystemBefore[k] as { user: number; system: number };
            const after = readUserSystem(pid);
            const user = after.user - before.user;
            const system = after.system - before.system;
            return [k, round(system / Math.max(1e-9, user + system), 2)];
          }),
        );
        const wal = Object.fromEntries(Object.entries(walAfter).map(([k, v]) => [k, v - (walBefore[k] ?? 0)]));
        const profiles = profiling
          ? await Promise.all(
              [api, worker].map(
                async (s) =>
                  (await s.probe({ profile: { stop: `${args['profile-dir']}/${s.name}-${label}-${s.pid}.cpuprofile` } })).cpuProfile,
              ),
            )
          : [];
        const countsAfter = counting ? await Promise.all([api.probe({}), worker.probe({})]) : null;
        return {
          cpuCores: Object.fromEntries(Object.entries(cores).map(([k, v]) => [k, round(v, 3)])),
          cpuProfiles: profiles.filter(Boolean) as string[],
          postgresWaits,
          systemShare,
          /** Per attempt: commits of the bench database, WAL bytes / records / full-page images / syncs of the whole cluster. */
          walPerAttempt: (attempts: number) =>
            Object.fromEntries(Object.entries(wal).map(([k, v]) => [k, round(v / Math.max(1, attempts), k === 'bytes' ? 0 : 2)])),
          /** Statements and commands per attempt made in the window. */
          perAttempt: (attempts: number) =>
            countsBefore && countsAfter ? countsPerUnit(countsBefore, countsAfter, attempts, 0.005) : null,
        };
      },
    };
  };

  /** Waits until healthy deliveries of the phase arrived and are recorded, and failing ones were attempted once. */
  const drain = async (notifications: string[], healthy: Endpoint[], expectedHealthy: number, okBefore: number) => {
    const indices = healthy.map((e) => e.index);
    const healthyIds = healthy.map((e) => e.id);
    // A slow platform is still draining, not losing: give up only when nothing moves for a while.
    await untilDone(async () => expectedHealthy - ((await okCount(indices)) - okBefore), args['drain-timeout']);
    // Recording follows the response by a statement.
    await untilDone(async () => (await unfinished(notifications, healthyIds)).healthy, args['drain-timeout'], 100);
    // Failing endpoints' first attempts are only counted (not required): a hanging endpoint works
    // through its queue at its concurrency limit per timeout, so this wait is bounded.
    const failingWait = args['timeout-ms'] / 1000 + 5;
    await untilDone(async () => (await unfinished(notifications, healthyIds)).unattempted, failingWait, 100, failingWait);
    await sleep(300); // a duplicate would show up now
  };

  /** Per-phase correctness and latency from the database rows and the receiver's arrivals. */
  const analyse = (scenario: Scenario, rows: DeliveryRow[], healthyIds: Set<string>) => {
    const byId = new Map(scenario.endpoints.map((e) => [e.id, e]));
    const delays: number[] = [];
    const pickups: number[] = [];
    const completions: number[] = [];
    let notArrived = 0;
    let notRecorded = 0;
    let duplicates = 0;
    let failing = 0;
    let failingAttempted = 0;
    let failingAttempts = 0;
    const samples: string[] = [];
    for (const row of rows) {
      const endpoint = byId.get(row.endpoint_id);
      const got = arrivals.get(row.id) ?? [];
      if (healthyIds.has(row.endpoint_id)) {
        const ok = got.filter((a) => a.status === 200 && a.endpoint === endpoint?.index);
        if (ok.length === 0) {
          notArrived++;
          if (samples.length < 5) samples.push(`delivery ${row.id} never arrived (status ${row.status}, ${row.attempts} attempts)`);
          continue;
        }
        if (ok.length > 1) duplicates += ok.length - 1;
        if (row.status !== 'SUCCEEDED' || row.ok_attempts < 1) {
          notRecorded++;
          if (samples.length < 5) samples.push(`delivery ${row.id} arrived but is ${row.status} with ${row.ok_attempts} 2xx attempts`);
        }
        const first = Math.min(...ok.map((a) => a.at));
        delays.push(first - row.created);
        if (row.first_started !== null) pickups.push(row.first_started - row.created);
        if (row.completed !== null) completions.push(row.completed);
      } else {
        failing++;
        if (row.attempts > 0) failingAttempted++;
        failingAttempts += row.attempts;
      }
    }
    return { delays, pickups, completions, notArrived, notRecorded, duplicates, failing, failingAttempted, failingAttempts, samples };
  };

  // --- open-loop phases ------------------------------------------------------------------------
  const results: PhaseResult[] = [];
  /** Raw numbers behind the charts (docs/bench/webhooks-*.svg). */
  const chartData = {
    delays: [] as { label: string; delays: number[] }[],
    drain: null as { start: number; completions: number[] } | null,
  };
  const openLoopPhase = async (label: string, scenario: Scenario, rate: number, seconds: number, measured = true) => {
    const healthy = scenario.endpoints.filter((e) => e.mode === 'ok');
    const failingModes = [...new Set(scenario.endpoints.filter((e) => e.mode !== 'ok').map((e) => e.mode))];
    const sendsPerSecond = rate / scenario.endpoints.length;
    const okBefore = await okCount(healthy.map((e) => e.index));
    const meter = measured ? await instruments(label) : null;
    const windowStart = Date.now();
    const driven = await drive(scenario, sendsPerSecond, seconds);
    const windowEnd = Date.now();
    // Jobs parked in the delayed set are mostly attempts that stepped aside from a full endpoint.
    const jobsAtWindowEnd = await webhookQueue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
    const windowSeconds = (windowEnd - windowStart) / 1000;
    const offered = driven.notifications.length * scenario.endpoints.length;
    const measuredInstruments = await meter?.stop();
    const expectedHealthy = driven.notifications.length * healthy.length;
    await drain(driven.notifications, healthy, expectedHealthy, okBefore);
    const drainedAt = Date.now();
    if (scenario.endpoints.some((e) => e.mode === 'hang')) {
      // Parked requests are cut off so the worker's slots come back before the next phase.
      await setMode(
        scenario,
        scenario.endpoints.filter((e) => e.mode === 'hang').map((e) => scenario.endpoints.indexOf(e)),
        'fail',
      );
    }
    await collect();
    const rows = await phaseRows(driven.notifications);
    const healthyIds = new Set(healthy.map((e) => e.id));
    const a = analyse(scenario, rows, healthyIds);
    const counts = await windowCounts(windowStart, windowEnd);
    let arrivalsInWindow = 0;
    let okArrivalsInWindow = 0;
    for (const list of arrivals.values())
      for (const x of list)
        if (x.at >= windowStart && x.at < windowEnd) {
          arrivalsInWindow++;
          if (x.status === 200) okArrivalsInWindow++;
        }
    const byWindow = new Map<number, number[]>();
    for (const row of rows) {
      if (!healthyIds.has(row.endpoint_id)) continue;
      const first = (arrivals.get(row.id) ?? []).filter((x) => x.status === 200).map((x) => x.at);
      if (first.length === 0) continue;
      const w = Math.floor((row.created - windowStart) / 5000);
      const list = byWindow.get(w) ?? [];
      list.push(Math.min(...first) - row.created);
      byWindow.set(w, list);
    }
    const lastCompletion = a.completions.length ? Math.max(...a.completions) : Number.NaN;
    const result: PhaseResult = {
      phase: label,
      kind: 'open-loop',
      scenario: scenario.name,
      endpoints: scenario.endpoints.length,
      failingEndpoints: scenario.endpoints.length - healthy.length,
      failingMode: failingModes.join('/') || null,
      offeredPerSecond: round(offered / windowSeconds),
      sendsPerSecond: round(driven.notifications.length / windowSeconds),
      sends: driven.issued,
      windowSeconds: round(windowSeconds, 2),
      loadGeneratorLagP99Ms: round(driven.lagMs),
      succeededPerSecond: round(counts.succeeded / windowSeconds),
      attemptsPerSecond: round(counts.attempts / windowSeconds),
      failedAttemptsPerSecond: round(counts.failed_attempts / windowSeconds),
      receiverRequestsPerSecond: round(arrivalsInWindow / windowSeconds),
      receiverOkPerSecond: round(okArrivalsInWindow / windowSeconds),
      healthyDelayMs: roundSummary(summarizeDelays(a.delays)),
      pickupDelayMs: roundSummary(summarizeDelays(a.pickups)),
      windows: [...byWindow.entries()]
        .sort(([x], [y]) => x - y)
        .map(([w, v]) => {
          const s = summarizeDelays(v);
          return { fromSecond: w * 5, count: s.count, p50: round(s.p50), p99: round(s.p99), max: round(s.max) };
        }),
      drainAfterWindowMs: round(lastCompletion - windowEnd),
      jobsAtWindowEnd,
      drainWaitMs: drainedAt - windowEnd,
      deliveries: rows.length,
      expectedDeliveries: offered,
      healthyDeliveries: a.delays.length + a.notArrived,
      failingDeliveries: a.failing,
      failingAttempted: a.failingAttempted,
      failingAttempts: a.failingAttempts,
      lost: a.notArrived,
      notRecorded: a.notRecorded,
      duplicates: a.duplicates,
      samples: a.samples,
      cpuCores: measuredInstruments?.cpuCores ?? {},
      cpuMsPerDelivery: cpuPerDelivery(measuredInstruments?.cpuCores ?? {}, counts.attempts / windowSeconds, offered / windowSeconds),
      cpuProfiles: measuredInstruments?.cpuProfiles ?? [],
      postgresWaits: measuredInstruments?.postgresWaits ?? {},
      cpuSystemShare: measuredInstruments?.systemShare ?? {},
      walPerAttempt: measuredInstruments?.walPerAttempt(counts.attempts) ?? {},
      perDelivery: measuredInstruments?.perAttempt(counts.attempts) ?? null,
    };
    if (measured) {
      results.push(result);
      chartData.delays.push({ label: `${label} (${result.offeredPerSecond}/s offered)`, delays: a.delays });
    }
    return result;
  };

  // --- run ------------------------------------------------------------------------------------
  if (args.warmup > 0) {
    // Every endpoint is still healthy here.
    const w = await openLoopPhase('warm-up', scenarios.get(names[0] as string) as Scenario, args.rate, args.warmup, false);
    log(`warm-up: ${w.sends} sends, ${w.deliveries} deliveries, lost ${w.lost}, healthy p99 ${ms(w.healthyDelayMs.p99)}`);
  }
  const progress = (r: PhaseResult) =>
    log(
      `${r.phase}: offered ${r.offeredPerSecond}/s, succeeded ${r.succeededPerSecond}/s, attempts ${r.attemptsPerSecond}/s; healthy delay p50 ${ms(r.healthyDelayMs.p50)} p95 ${ms(r.healthyDelayMs.p95)} p99 ${ms(r.healthyDelayMs.p99)} max ${ms(r.healthyDelayMs.max)}; lost ${r.lost}`,
    );
  const alone = scenarios.get('alone');
  if (alone) {
    progress(await openLoopPhase('alone', alone, args.rate, args.duration));
    for (const rate of sweep) progress(await openLoopPhase(`alone@${rate}`, alone, rate, args.duration));
  }

  const failingScenario = scenarios.get('failing');
  if (failingScenario) {
    await setMode(failingScenario, failingSlots, 'fail');
    progress(await openLoopPhase('failing', failingScenario, args.rate, args.duration));
  }

  let saturation: SaturationResult | null = null;
  if (scenarios.has('saturation')) {
    saturation = await backlogPhase(scenarios.get('saturation') as Scenario);
    log(
      `saturation: ${saturation.deliveries} queued deliveries drained in ${saturation.drainSeconds} s: ${saturation.drainPerSecond}/s overall, ${saturation.steadyPerSecond}/s steady (10–90 %); lost ${saturation.lost}`,
    );
  }

  const hanging = scenarios.get('hanging');
  if (hanging) {
    await setMode(hanging, failingSlots, 'hang');
    progress(await openLoopPhase('hanging', hanging, args.rate, args.duration));
  }

  // --- whole-run checks: every request the receivers saw belongs to a delivery of its endpoint ---
  await collect();
  const deliveryEndpoints = new Map(
    (await db.query<{ id: string; endpoint_id: string }>('SELECT id::text, endpoint_id::text FROM webhook_deliveries')).rows.map((r) => [
      r.id,
      r.endpoint_id,
    ]),
  );
  let unknown = 0;
  let misrouted = 0;
  for (const [id, list] of arrivals) {
    const endpointId = deliveryEndpoints.get(id);
    if (endpointId === undefined) unknown += list.length;
    else for (const x of list) if (endpointByIndex.get(x.endpoint)?.id !== endpointId) misrouted++;
  }
  const final = await receiver.ask({ op: 'counts' });
  const wrongType = final.wrongType ?? 0;
  const allPhases = [...results, ...(saturation ? [saturation] : [])];
  const correct =
    allPhases.every((r) => r.lost === 0 && r.notRecorded === 0 && r.deliveries === r.expectedDeliveries) &&
    faults.badSignatures === 0 &&
    faults.sendErrors === 0 &&
    unknown === 0 &&
    misrouted === 0 &&
    wrongType === 0;

  const aloneResult = results.find((r) => r.phase === 'alone');
  const failingResult = results.find((r) => r.phase === 'failing');
  // Kept up: the healthy share of what was offered succeeded within the window, with the 1 s tail.
  const sustained = (r: PhaseResult) =>
    r.succeededPerSecond >= 0.95 * r.offeredPerSecond * ((r.endpoints - r.failingEndpoints) / r.endpoints) &&
    r.healthyDelayMs.p99 <= TARGET_HEALTHY_P99_MS;
  const targets: Record<string, { target: string; measured: number; met: boolean }> = {};
  if (saturation)
    targets.saturation = {
      target: `≥ ${TARGET_PER_SECOND}/s drained (steady rate, all endpoints healthy)`,
      measured: saturation.steadyPerSecond,
      met: saturation.steadyPerSecond >= TARGET_PER_SECOND,
    };
  if (aloneResult)
    targets.alone = {
      target: `${aloneResult.offeredPerSecond}/s offered (target ≥ ${TARGET_PER_SECOND}) sustained alone: succeeded/s, with p99 ≤ ${TARGET_HEALTHY_P99_MS} ms`,
      measured: aloneResult.succeededPerSecond,
      met: aloneResult.offeredPerSecond >= 0.98 * TARGET_PER_SECOND && sustained(aloneResult),
    };
  if (failingResult) {
    targets.failingHealthyP99 = {
      target: `healthy p99 ≤ ${TARGET_HEALTHY_P99_MS} ms with ${failingCount}/${E} endpoints failing at ${failingResult.offeredPerSecond}/s offered`,
      measured: failingResult.healthyDelayMs.p99,
      met: failingResult.healthyDelayMs.p99 <= TARGET_HEALTHY_P99_MS,
    };
    targets.failingPerSecond = {
      target: `≥ ${TARGET_PER_SECOND}/s offered with endpoints failing, healthy share sustained: attempts/s`,
      measured: failingResult.attemptsPerSecond,
      met: failingResult.offeredPerSecond >= 0.98 * TARGET_PER_SECOND && sustained(failingResult),
    };
  }

  const report = {
    bench: 'webhooks',
    at: new Date().toISOString(),
    command,
    machine: {
      ...machineReport(load.loadAverage),
      postgres: postgresVersion,
    },
    settings: {
      seed: args.seed,
      event: eventType,
      endpointsPerScenario: E,
      failingEndpoints: failingCount,
      failingSlots: [...failingSlots].sort((a, b) => a - b),
      rate: args.rate,
      durationSeconds: args.duration,
      warmupSeconds: args.warmup,
      backlog: args.backlog,
      verifyEvery: args['verify-every'],
      worker: {
        WEBHOOK_TIMEOUT_MS: workerEnv.WEBHOOK_TIMEOUT_MS,
        WEBHOOK_CONCURRENCY: workerEnv.WEBHOOK_CONCURRENCY ?? 'default (64)',
        WEBHOOK_ENDPOINT_CONCURRENCY: workerEnv.WEBHOOK_ENDPOINT_CONCURRENCY ?? 'default (8)',
        WEBHOOK_RETRY_SCHEDULE: workerEnv.WEBHOOK_RETRY_SCHEDULE ?? 'default (0s,5s,5m,…)',
        ...parseEnvList(args['worker-env']),
      },
      api: parseEnvList(args['api-env']),
      smoke: args.smoke,
    },
    phases: results,
    saturation,
    signatures: { checked: faults.checkedSignatures, bad: faults.badSignatures },
    unknownRequests: unknown,
    misrouted,
    wrongEventType: wrongType,
    sendErrors: faults.sendErrors,
    errorSamples: [...faults.errorSamples, ...allPhases.flatMap((r) => r.samples)].slice(0, 10),
    targets,
    correct,
  };

  if (args.charts && !args.smoke) (report as { charts?: string[] }).charts = writeCharts(report, chartData);
  const markdown = renderMarkdown(report);
  if (args.json) console.log(JSON.stringify(report));
  else {
    console.log(`\n${markdown}`);
    printResult(report);
  }
  if (args['out-dir']) {
    mkdirSync(args['out-dir'], { recursive: true });
    const base = `${args['out-dir']}/webhooks-${report.at.replace(/[:.]/g, '-')}`;
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown);
    log(`wrote ${base}.json and ${base}.md`);
  }
  if (!correct) printServiceErrors([api, worker]);
  return correct ? 0 : 1;

  // --- saturation: drain a queued backlog ------------------------------------------------------
  async function backlogPhase(scenario: Scenario): Promise<SaturationResult> {
    const healthy = scenario.endpoints;
    const sends = Math.ceil(args.backlog / scenario.endpoints.length);
    await webhookQueue.pause();
    const buildStart = performance.now();
    const notifications: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: args['backlog-concurrency'] }, async () => {
        while (next < sends) {
          const id = await send(scenario, next++);
          if (id) notifications.push(id);
        }
      }),
    );
    // Renders go on while the webhook queue is paused; wait until every delivery row exists.
    const expected = notifications.length * scenario.endpoints.length;
    const healthyIds = healthy.map((e) => e.id);
    await untilDone(async () => expected - (await unfinished(notifications, healthyIds)).total, args['drain-timeout'], 200);
    await untilDone(
      async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE status = 'ACCEPTED'`)).rows[0]?.n ?? 0,
      args['drain-timeout'],
      200,
    );
    const queued = await webhookQueue.getJobCounts('paused', 'wait', 'delayed', 'active');
    const buildSeconds = (performance.now() - buildStart) / 1000;
    log(`saturation: queued ${expected} deliveries in ${buildSeconds.toFixed(1)} s (jobs ${JSON.stringify(queued)}); draining…`);

    const indices = healthy.map((e) => e.index);
    const okBefore = await okCount(indices);
    const meter = await instruments('saturation');
    const start = Date.now();
    await webhookQueue.resume();
    await untilDone(async () => expected - ((await okCount(indices)) - okBefore), args['drain-timeout']);
    const arrivedAt = Date.now();
    const measuredInstruments = await meter.stop();
    await drain(notifications, healthy, expected, okBefore);
    await collect();
    const rows = await phaseRows(notifications);
    const a = analyse(scenario, rows, new Set(healthy.map((e) => e.id)));
    const completions = [...a.completions].sort((x, y) => x - y);
    const last = completions.at(-1) ?? Number.NaN;
    const p10 = percentile(completions, 10);
    const p90 = percentile(completions, 90);
    const steady = (0.8 * completions.length) / ((p90 - p10) / 1000);
    const counts = await windowCounts(start, Math.max(last, arrivedAt) + 1);
    const drainSeconds = (last - start) / 1000;
    chartData.drain = { start, completions };
    return {
      phase: 'saturation',
      kind: 'backlog',
      scenario: scenario.name,
      endpoints: scenario.endpoints.length,
      deliveries: rows.length,
      expectedDeliveries: expected,
      buildSeconds: round(buildSeconds, 1),
      jobsBeforeResume: queued,
      drainSeconds: round(drainSeconds, 2),
      drainPerSecond: round(completions.length / drainSeconds),
      steadyPerSecond: round(steady),
      attemptsPerSecond: round(counts.attempts / drainSeconds),
      timeToCompleteMs: roundSummary(summarizeDelays(completions.map((c) => c - start))),
      lost: a.notArrived,
      notRecorded: a.notRecorded,
      duplicates: a.duplicates,
      samples: a.samples,
      cpuCores: measuredInstruments.cpuCores,
      cpuMsPerDelivery: cpuPerDelivery(measuredInstruments.cpuCores, counts.attempts / drainSeconds, 0),
      cpuProfiles: measuredInstruments.cpuProfiles,
      postgresWaits: measuredInstruments.postgresWaits,
      cpuSystemShare: measuredInstruments.systemShare,
      walPerAttempt: measuredInstruments.walPerAttempt(counts.attempts),
      perDelivery: measuredInstruments.perAttempt(counts.attempts),
    };
  }
}

/** What every measured phase reports besides its own numbers. */
interface PhaseMeasures {
  lost: number;
  notRecorded: number;
  duplicates: number;
  samples: string[];
  cpuCores: Record<string, number>;
  /** CPU milliseconds per attempt (worker, PostgreSQL, Redis, receiver) and per offered delivery (API: sends). */
  cpuMsPerDelivery: Record<string, number>;
  cpuProfiles: string[];
  /** Active PostgreSQL backends of the bench database by wait event, averaged over 100 ms samples. */
  postgresWaits: Record<string, number>;
  /** Share of each process's CPU spent in the kernel (system time). */
  cpuSystemShare: Record<string, number>;
  /** Commits (this database) and WAL (whole cluster: other databases' work counts too) per attempt. */
  walPerAttempt: Record<string, number>;
  /** Per attempt made in the window. */
  perDelivery: ReturnType<typeof countsPerUnit> | null;
}

interface PhaseResult extends PhaseMeasures {
  phase: string;
  kind: 'open-loop';
  scenario: string;
  endpoints: number;
  failingEndpoints: number;
  failingMode: string | null;
  offeredPerSecond: number;
  sendsPerSecond: number;
  sends: number;
  windowSeconds: number;
  loadGeneratorLagP99Ms: number;
  /** SUCCEEDED deliveries (every tenant) whose completed_at falls in the window, per second. */
  succeededPerSecond: number;
  /** Attempt rows started in the window (every tenant, failures included), per second. */
  attemptsPerSecond: number;
  failedAttemptsPerSecond: number;
  receiverRequestsPerSecond: number;
  receiverOkPerSecond: number;
  healthyDelayMs: DelaySummary;
  /** Delivery row created → first attempt started (queueing in BullMQ and the semaphore). */
  pickupDelayMs: DelaySummary;
  windows: { fromSecond: number; count: number; p50: number; p99: number; max: number }[];
  drainAfterWindowMs: number;
  /** BullMQ webhook jobs at the end of the window (delayed: retries and endpoint-limit step-asides). */
  jobsAtWindowEnd: Record<string, number>;
  drainWaitMs: number;
  deliveries: number;
  expectedDeliveries: number;
  healthyDeliveries: number;
  failingDeliveries: number;
  failingAttempted: number;
  failingAttempts: number;
}

interface SaturationResult extends PhaseMeasures {
  phase: 'saturation';
  kind: 'backlog';
  scenario: string;
  endpoints: number;
  deliveries: number;
  expectedDeliveries: number;
  buildSeconds: number;
  jobsBeforeResume: Record<string, number>;
  drainSeconds: number;
  /** Deliveries / (last completion − resume). */
  drainPerSecond: number;
  /** The middle 80 % of completions over the time they took (no ramp-up or tail). */
  steadyPerSecond: number;
  attemptsPerSecond: number;
  timeToCompleteMs: DelaySummary;
}

/**
 * Polls `remaining` until it reaches 0. Gives up after `stallSeconds` without progress, or after
 * `capSeconds` in all, so a bench always stops by itself; returns what was left.
 */
async function untilDone(
  remaining: () => Promise<number>,
  stallSeconds: number,
  intervalMs = 50,
  capSeconds = UNTIL_DONE_CAP_SECONDS,
): Promise<number> {
  const started = performance.now();
  let best = Number.POSITIVE_INFINITY;
  let progressAt = started;
  for (;;) {
    const left = await remaining();
    if (left <= 0) return 0;
    const now = performance.now();
    if (left < best) {
      best = left;
      progressAt = now;
    }
    if (now - progressAt > stallSeconds * 1000 || now - started > capSeconds * 1000) return left;
    await sleep(intervalMs);
  }
}

/** User and system CPU seconds of a process (Linux /proc). */
function readUserSystem(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/** Commits of this database and the cluster's WAL counters (pg_stat_wal, PostgreSQL 14+). */
async function walCounters(db: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, string>>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
            wal_bytes AS bytes, wal_records AS records, wal_fpi AS full_page_images, wal_sync AS syncs
       FROM pg_stat_wal`,
  );
  return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
}

/**
 * Samples pg_stat_activity every 100 ms: how many of the database's backends are active, and on
 * what they wait ("CPU:running" when on no wait event; Lock:transactionid / Lock:tuple are row
 * locks; IO:WALSync / LWLock:WALWrite are commits waiting for the disk).
 */
function sampleWaits(db: pg.Pool) {
  const totals = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await db.query<{ w: string; n: number }>(
        `SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running') AS w, count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
          GROUP BY 1`,
      );
      samples++;
      for (const r of rows) totals.set(r.w, (totals.get(r.w) ?? 0) + r.n);
      await sleep(100);
    }
  })();
  return {
    async stop(): Promise<Record<string, number>> {
      running = false;
      await loop;
      return Object.fromEntries(
        [...totals]
          .map(([w, n]) => [w, round(n / Math.max(1, samples), 2)] as const)
          .filter(([, n]) => n >= 0.01)
          .sort(([, a], [, b]) => b - a),
      );
    },
  };
}

/** Milliseconds of CPU per attempt (per offered delivery for the API, whose work is the sends). */
function cpuPerDelivery(cores: Record<string, number>, attemptsPerSecond: number, offeredPerSecond: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ['worker', 'postgres', 'redis', 'receiver'])
    if (cores[key] !== undefined && attemptsPerSecond > 0) out[key] = round(((cores[key] as number) / attemptsPerSecond) * 1000, 2);
  if (cores.api !== undefined && offeredPerSecond > 0) out.api = round((cores.api / offeredPerSecond) * 1000, 2);
  return out;
}

function roundSummary(s: DelaySummary): DelaySummary {
  return {
    count: s.count,
    p50: round(s.p50),
    p95: round(s.p95),
    p99: round(s.p99),
    max: round(s.max),
    mean: round(s.mean),
    withinTarget: round(s.withinTarget, 4),
  };
}

function cpuCell(c: Record<string, number>): string {
  const f = (k: string) => (c[k] === undefined ? '–' : (c[k] as number).toFixed(2));
  return `${f('api')} / ${f('worker')} / ${f('postgres')} / ${f('redis')} / ${f('receiver')} / ${f('bench')} / ${f('others')} / ${f('machine')}`;
}

function renderMarkdown(report: any): string {
  const lines: string[] = [];
  const m = report.machine;
  const s = report.settings;
  lines.push(`## Webhook deliveries — ${report.at}`);
  lines.push('');
  lines.push(`Command: \`${report.command}\``);
  lines.push('');
  lines.push(
    `Machine: ${m.cores} cores, load average ${m.loadAverageAtStart} at start / ${m.loadAverageAtEnd} at end, Node ${m.node}, PostgreSQL ${m.postgres}. ` +
      `Settings: ${s.endpointsPerScenario} endpoints per scenario subscribed to ${s.event}, ${s.failingEndpoints} failing (slots ${s.failingSlots.join(', ')}), ` +
      `${s.durationSeconds} s phases after a ${s.warmupSeconds} s warm-up, seed ${s.seed}; worker ${Object.entries(s.worker)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}; signatures verified on every ${s.verifyEvery === 1 ? '' : `${s.verifyEvery}th `}request.`,
  );
  lines.push('');
  lines.push(
    '| phase | failing endpoints | offered/s | succeeded/s | attempts/s (failed) | healthy delay p50 / p95 / p99 / max | ≤ 1 s | pickup p50 / p99 | CPU cores api / worker / pg / redis / receiver / bench / others / machine | lost | not recorded | dup |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of report.phases as PhaseResult[]) {
    const d = r.healthyDelayMs;
    lines.push(
      `| ${r.phase} | ${r.failingEndpoints ? `${r.failingEndpoints}/${r.endpoints} ${r.failingMode}` : `0/${r.endpoints}`} | ${r.offeredPerSecond} | ${r.succeededPerSecond} | ${r.attemptsPerSecond} (${r.failedAttemptsPerSecond}) | ${d.p50} / ${d.p95} / ${d.p99} / ${d.max} ms | ${(d.withinTarget * 100).toFixed(1)} % | ${r.pickupDelayMs.p50} / ${r.pickupDelayMs.p99} ms | ${cpuCell(r.cpuCores)} | ${r.lost} | ${r.notRecorded} | ${r.duplicates} |`,
    );
  }
  const sat = report.saturation as SaturationResult | null;
  if (sat) {
    lines.push('');
    lines.push('| saturation (drain a queued backlog, all endpoints healthy) | value |');
    lines.push('|---|---|');
    lines.push(`| deliveries queued (queue paused while they were created) | ${sat.deliveries} (built in ${sat.buildSeconds} s) |`);
    lines.push(`| drained in | ${sat.drainSeconds} s |`);
    lines.push(`| drain rate overall / steady (middle 80 %) | **${sat.drainPerSecond}/s / ${sat.steadyPerSecond}/s** |`);
    lines.push(`| attempts/s | ${sat.attemptsPerSecond} |`);
    lines.push(`| CPU cores api / worker / pg / redis / receiver / bench / others / machine | ${cpuCell(sat.cpuCores)} |`);
    lines.push(`| lost / not recorded / duplicates | ${sat.lost} / ${sat.notRecorded} / ${sat.duplicates} |`);
  }
  lines.push('');
  for (const r of [...(report.phases as PhaseResult[]), ...(sat ? [sat] : [])]) {
    const perMs = Object.entries(r.cpuMsPerDelivery)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ');
    const kernel = Object.entries(r.cpuSystemShare)
      .map(([k, v]) => `${k} ${Math.round(v * 100)} %`)
      .join(', ');
    lines.push(`- ${r.phase}: CPU per attempt: ${perMs || 'n/a'} (API: per offered delivery); kernel share of CPU: ${kernel || 'n/a'}`);
    const waits = Object.entries(r.postgresWaits)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    if (waits) lines.push(`  active PostgreSQL backends (mean) by wait: ${waits}`);
    const wal = Object.entries(r.walPerAttempt)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    if (wal) lines.push(`  per attempt: ${wal} (commits: this database; WAL: whole cluster)`);
    if (r.kind === 'open-loop') {
      const p = r as PhaseResult;
      lines.push(
        `  per 5 s window, healthy delay p50/p99/max ms: ${p.windows.map((w) => `${w.p50}/${w.p99}/${w.max}`).join('  ')}; last completion ${p.drainAfterWindowMs} ms after the window; jobs at the window's end ${JSON.stringify(p.jobsAtWindowEnd)}; failing deliveries ${p.failingDeliveries} (${p.failingAttempted} attempted, ${p.failingAttempts} attempts)`,
      );
    }
    if (r.perDelivery) {
      for (const service of ['worker', 'api'] as const) {
        lines.push(...countLines(service, 'attempt', r.perDelivery[service]));
      }
    }
    for (const file of r.cpuProfiles) lines.push(`  CPU profile: ${file} (npx node bench/cpu-profile-summary.ts ${file})`);
  }
  lines.push('');
  lines.push(
    `Signatures: ${report.signatures.checked} checked, ${report.signatures.bad} bad. Unknown requests ${report.unknownRequests}, misrouted ${report.misrouted}, wrong event type ${report.wrongEventType}, send errors ${report.sendErrors}.`,
  );
  for (const sample of report.errorSamples) lines.push(`  e.g. ${sample}`);
  lines.push('');
  lines.push('| target | measured | verdict |');
  lines.push('|---|---|---|');
  for (const t of Object.values(report.targets as Record<string, { target: string; measured: number; met: boolean }>))
    lines.push(`| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`);
  lines.push('');
  for (const chart of report.charts ?? []) lines.push(`Chart: ${chart}`);
  lines.push(`Correctness: ${report.correct ? 'ok' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}

function writeCharts(
  report: any,
  data: { delays: { label: string; delays: number[] }[]; drain: { start: number; completions: number[] } | null },
): string[] {
  const when = `${String(report.at).slice(0, 16).replace('T', ' ')} UTC, load average ${report.machine.loadAverageAtStart}`;
  const written = [
    writeChart(
      'webhooks-delay.svg',
      lineChart({
        title: "Webhooks: healthy endpoints' delivery delay, open loop",
        subtitle: `send committed → receiver; ${report.settings.endpointsPerScenario} endpoints per scenario; ${when}`,
        xLabel: 'percentile',
        yLabel: 'delay (ms)',
        xScale: 'percentile',
        yScale: 'log',
        series: data.delays.map((d) => percentileSeries(d.label, d.delays)),
        guides: [{ axis: 'y', value: TARGET_HEALTHY_P99_MS, label: `target: healthy p99 ≤ ${TARGET_HEALTHY_P99_MS} ms` }],
      }),
    ),
  ];
  if (data.drain && data.drain.completions.length > 0) {
    const end = data.drain.completions.at(-1) as number;
    written.push(
      writeChart(
        'webhooks-drain.svg',
        lineChart({
          title: 'Webhooks: a queued backlog draining',
          subtitle: `${data.drain.completions.length} deliveries, all endpoints healthy; ${when}`,
          xLabel: 'seconds after the queue was resumed',
          yLabel: 'succeeded deliveries per second',
          series: [rateSeries('deliveries/s', data.drain.completions, data.drain.start, end + 1, 1000)],
          guides: [{ axis: 'y', value: TARGET_PER_SECOND, label: `target ≥ ${TARGET_PER_SECOND}/s` }],
        }),
      ),
    );
  }
  return written.map((p) => p.replace(/^.*\/docs\//, 'docs/'));
}

// Last, so that every module-level constant above is initialised first.
if (isReceiver) runReceiver();
else {
  const cleanup = createCleanup();
  await runBench(cleanup, () => run(cleanup));
}
