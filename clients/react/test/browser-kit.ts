// Fixtures for browser tests of the React SDK. A kit runs the platform as real processes (API
// processes on ports of their own and one worker, sharing a fresh PostgreSQL database and one Redis
// prefix), makes tenants over HTTP, serves a test app bundled by esbuild from its own origin (with
// the `/token` endpoint a customer's backend would have), and drives /usr/bin/chromium through
// playwright-core. `close()` stops everything it started, after a failed test or a failed start too.
//
//   let kit: BrowserKit;
//   const { newTabs } = browserKitForFile({ apis: 2 }, (started) => { kit = started; });
//   it('…', async () => {
//     const tenant = await kit.createTenant();
//     const site = await kit.servePage('bell.tsx', tenant);
//     const tabs = await newTabs();                // closed after the test; its pages must not throw
//     const page = await tabs.open(site.url({ user: 'ada' }));
//     await tenant.send({ to: 'ada', title: 'Hello' });
//     await page.locator('[data-pigeon-item]').waitFor();
//     await kit.api(0).stop('SIGKILL');           // sends now go through API #2: tenant.send(…, { api: 1 })
//     await kit.api(0).start();                   // same port; the page reconnects on its own
//   });
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pigeon, type SendInput } from '@pigeon/node';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
  type Request,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import {
  createTenant,
  createTestDatabase,
  flushPrefix,
  httpClient,
  mintClientToken,
  TEST_REDIS_URL,
  type Tenant,
  uniqueName,
} from '../../../api/test/harness.ts';
import type { PageConfig } from './app/config.ts';

/** The test apps (`servePage('bell.tsx', …)` resolves names against it). */
export const APP_DIR = fileURLToPath(new URL('./app/', import.meta.url));
/** Where `screenshot()` writes (gitignored). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));
export const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const API_ENTRY = fileURLToPath(new URL('../../../api/src/main.ts', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../../../worker/src/main.ts', import.meta.url));
/** Path of the live inbox stream (graphql-sse), as the API serves it. */
const STREAM_PATH = '/graphql/stream';
/** A cold API process (Prisma client, schema build) is ready in 2–4 s here; two at once on two cores take longer. */
const START_TIMEOUT_MS = 45_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_KEPT = 64 * 1024;

// --- processes -------------------------------------------------------------------------------------

/** One platform process the kit runs; stopping and starting it again keeps its port and environment. */
export interface PlatformProcess {
  readonly name: string;
  /** Started, ready, and not stopped since. */
  readonly running: boolean;
  /** The tail of its stdout and stderr over every run. */
  readonly output: string;
  /** SIGTERM lets the process drain (open streams complete); SIGKILL is a crash. Resolves once it exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again (same port, same database) and resolves when it is ready. */
  start(): Promise<void>;
}

export interface ApiProcess extends PlatformProcess {
  readonly port: number;
  /** `http://127.0.0.1:<port>`, what a page's `baseUrl` points at. */
  readonly url: string;
}

interface ManagedProcess extends PlatformProcess {
  /** It exited although nobody stopped it. */
  readonly crashed: boolean;
  /** Synchronous SIGKILL, for the exit hook. */
  killNow(): void;
}

function managedProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  isReady: (outputSinceStart: string) => Promise<boolean> | boolean,
): ManagedProcess {
  let child: ChildProcess | null = null;
  let output = '';
  let runOutput = '';
  let ready = false;
  let wanted = false;
  const alive = () => child !== null && child.exitCode === null && child.signalCode === null;
  const append = (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_KEPT);
    runOutput = (runOutput + chunk).slice(-OUTPUT_KEPT);
  };
  return {
    name,
    get running() {
      return ready && alive();
    },
    get crashed() {
      return wanted && child !== null && !alive();
    },
    get output() {
      return output;
    },
    async start() {
      if (alive()) throw new Error(`${name} is already running`);
      runOutput = '';
      if (output) append(`\n--- ${name} starting again ---\n`);
      // process.execPath: the Node 24 running the tests (a bare `node` on PATH may be older).
      const started = spawn(process.execPath, [entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      wanted = true;
      started.stdout?.setEncoding('utf8').on('data', append);
      started.stderr?.setEncoding('utf8').on('data', append);
      started.once('exit', (code, signal) => {
        ready = false;
        append(`\n--- ${name} exited (code ${code}, signal ${signal}) ---\n`);
      });
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(await isReady(runOutput))) {
        if (!alive()) throw new Error(`${name} exited while starting:\n${output.slice(-4_000)}`);
        if (Date.now() > deadline) throw new Error(`${name} was not ready after ${START_TIMEOUT_MS} ms:\n${output.slice(-4_000)}`);
        await sleep(100);
      }
      ready = true;
    },
    async stop(signal = 'SIGTERM') {
      wanted = false;
      ready = false;
      const current = child;
      if (!current || !alive()) return;
      const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
      current.kill(signal);
      const timer = setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
    killNow() {
      if (alive()) child?.kill('SIGKILL');
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const respondsReady = (url: string) => async () => {
  try {
    return (await fetch(`${url}/readyz`)).status === 200;
  } catch {
    return false;
  }
};

// --- tenants ---------------------------------------------------------------------------------------

/** A notification as an API key reads it (server truth, for assertions next to what a page shows). */
export interface SentNotification {
  id: string;
  title: string | null;
  status: string;
  read: boolean;
  seen: boolean;
  archived: boolean;
  inboxSeq: number | null;
}

/** A signed-up user with a project; its development environment's API key is the one used here. */
export interface KitTenant extends Tenant {
  /** The Node SDK with this tenant's API key, through `api` (default: the first running API process). */
  pigeon(api?: number): Pigeon;
  /** Sends through the Node SDK and returns the notification id; `waitForDelivery` waits until the worker delivered it. */
  send(input: SendInput, options?: { api?: number; waitForDelivery?: boolean }): Promise<string>;
  /** A client token minted with the API key (ttl 60–86,400 s; default 1 h). */
  mintToken(user: string, ttlSeconds?: number): Promise<{ token: string; expiresAt: string; recipientId: string }>;
  /** A recipient's notifications, newest first, read with the API key (so a recipient's own rate budget is untouched). */
  notifications(user: string): Promise<SentNotification[]>;
  /**
   * The recipient's own inbox counts, read as the page reads them: with a client token, through API
   * process `api` (default: the first running one). It costs one operation of the recipient's rate
   * budget; a refusal throws an `ApiRefusal` with the API's code.
   */
  inbox(user: string, api?: number): Promise<{ unreadCount: number; unseenCount: number }>;
  /**
   * Changes the development environment's rate budgets (operations per minute). The counters do not
   * restart: a budget lowered below what this minute already used refuses the next operation (e.g. to
   * make the server refuse an optimistic update). Each API process caches an environment's client-token
   * settings for up to 10 s after it last read them, so for client tokens the new budget may apply only
   * that much later: poll `inbox(user, api)` until it throws RATE_LIMITED to know it does.
   */
  setRateBudget(budget: { apiKeyOpsPerMinute?: number; clientTokenOpsPerMinute?: number }): Promise<void>;
}

/** An operation the API refused (its GraphQL error code, and Retry-After for RATE_LIMITED). */
export class ApiRefusal extends Error {
  readonly code: string;
  readonly retryAfter: number | undefined;
  constructor(code: string, message: string, retryAfter?: number) {
    super(`${code}: ${message}`);
    this.name = 'ApiRefusal';
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// --- the page server ---------------------------------------------------------------------------------

/** What the page server's `GET /token?user=…` does; change it at any time during a test. */
export interface TokenEndpoint {
  /** Lifetime the API gives each token: 60–86,400 s (default 3,600). */
  ttlSeconds: number;
  /**
   * When set, the `expiresAt` handed to the page is this many seconds from now instead of the real
   * one: the SDK's refresh runs without waiting out the API's 60 s minimum (the token stays valid).
   */
  claimedTtlSeconds: number | null;
  /** When set, answer with this HTTP status instead of a token. */
  failWith: number | null;
  /** Every token request, oldest first. */
  readonly requests: { user: string; status: number; at: number }[];
  /** Requests answered with a token (for one user, or all). */
  count(user?: string): number;
}

export interface PageServer {
  /** `http://127.0.0.1:<port>`: an origin of its own, not the API's. */
  readonly origin: string;
  /**
   * The page for `user` talking to API process `api` (index, default 0). Other parameters are the
   * app's own (bell.tsx: `pageSize`, `headless=0`, `strict=0`, `bareToken=1`).
   */
  url(params?: { user?: string; api?: number } & Record<string, string | number | boolean | undefined>): string;
  readonly tokens: TokenEndpoint;
  close(): Promise<void>;
}

/** Stops listening and drops its connections (close() alone would wait for keep-alive ones). */
function stopServer(server: Server): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return stopped;
}

const bundles = new Map<string, Promise<string>>();

/** The app bundled for the browser; built once per entry per test process. */
function bundle(entry: string): Promise<string> {
  let built = bundles.get(entry);
  if (!built) {
    built = build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      jsx: 'automatic',
      platform: 'browser',
      target: 'chrome120',
      // Development React: its warnings (keys, effects, StrictMode's double effects) reach the console log.
      define: { 'process.env.NODE_ENV': '"development"' },
      write: false,
      logLevel: 'silent',
    }).then((result) => result.outputFiles[0]?.text ?? '');
    bundles.set(entry, built);
    built.catch(() => bundles.delete(entry));
  }
  return built;
}

function pageHtml(config: PageConfig): string {
  // JSON in a script element: escape "<" so no value can end the element. The viewport meta tag, as
  // every real app has: without it a mobile context (isMobile) lays the page out 980 px wide.
  const json = JSON.stringify(config).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Pigeon browser test</title>
<style>body { margin: 0; font: 14px/1.4 system-ui, sans-serif; }</style></head>
<body><div id="root"></div>
<script>window.__PIGEON_TEST__ = ${json};</script>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

// --- the browser -------------------------------------------------------------------------------------

/** One browser context: its tabs share BroadcastChannel, Web Locks and storage, like one user's tabs. */
export interface BrowserTabs {
  readonly context: BrowserContext;
  /** Opens a tab and waits for its load event. */
  open(url: string): Promise<Page>;
  /** Inbox streams (requests to /graphql/stream) open right now, over all tabs of this context. */
  openStreams(): number;
  /** Inbox streams opened since the context was created. */
  streamsOpened(): number;
  /** Waits until exactly `n` streams are open (and, with `forMs`, stay so that long). */
  waitForOpenStreams(n: number, options?: { timeoutMs?: number; forMs?: number }): Promise<void>;
  /** Uncaught exceptions of its pages (tests usually expect none). */
  readonly pageErrors: string[];
  close(): Promise<void>;
}

// --- the kit -----------------------------------------------------------------------------------------

export interface BrowserKitOptions {
  /** API processes to run (default 1), each on a port of its own. */
  apis?: number;
  /** Run the worker (default true): without it nothing is delivered. */
  worker?: boolean;
  /** Extra environment for every process (e.g. `WEBHOOK_ALLOW_LIST`, `INBOX_RECHECK_INTERVAL_MS`). */
  env?: Record<string, string>;
}

export interface BrowserKit {
  readonly apis: readonly ApiProcess[];
  readonly worker: PlatformProcess | null;
  readonly databaseUrl: string;
  readonly redisPrefix: string;
  /** API process `index` (0-based; throws when there is none). */
  api(index: number): ApiProcess;
  /** The first running API process (throws when none runs). */
  runningApi(): ApiProcess;
  createTenant(): Promise<KitTenant>;
  /** Serves `entry` (a file in APP_DIR or an absolute path) for `tenant`, with `/token`. */
  servePage(entry: string, tenant: KitTenant): Promise<PageServer>;
  /** A fresh browser context (Chromium starts with the first one). */
  newContext(options?: BrowserContextOptions): Promise<BrowserTabs>;
  /** Saves a PNG under SCREENSHOT_DIR and returns its path. */
  screenshot(target: Page | Locator, name: string): Promise<string>;
  /** Polls `check` every 50 ms; fails early when a process crashed; the error carries the processes' and pages' logs. */
  waitUntil(what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Process output and browser console lines, for failure messages. */
  describe(): string;
  close(): Promise<void>;
}

/** Starts the platform (fresh database, own Redis prefix) and returns the kit; closes what it started if a part fails. */
/**
 * A kit for one test file, through vitest's hooks: started before the file's tests (handed to
 * `started`), closed after them, described on a failed test. Contexts opened with `newTabs` are
 * closed after each test, which fails if any of their pages threw.
 */
export function browserKitForFile(
  options: BrowserKitOptions,
  started: (kit: BrowserKit) => void,
): { newTabs(options?: Parameters<BrowserKit['newContext']>[0]): Promise<BrowserTabs> } {
  let kit: BrowserKit | undefined;
  let contexts: BrowserTabs[] = [];
  beforeAll(async () => {
    kit = await startBrowserKit(options);
    started(kit);
  });
  afterAll(async () => {
    await kit?.close();
  });
  beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(kit?.describe())));
  afterEach(async () => {
    const opened = contexts;
    contexts = [];
    const errors = opened.flatMap((tabs) => tabs.pageErrors);
    await Promise.all(opened.map((tabs) => tabs.close()));
    expect(errors, 'uncaught page errors').toEqual([]);
  });
  return {
    async newTabs(contextOptions) {
      if (!kit) throw new Error('the browser kit has not started');
      const tabs = await kit.newContext(contextOptions);
      contexts.push(tabs);
      return tabs;
    },
  };
}

export async function startBrowserKit(options: BrowserKitOptions = {}): Promise<BrowserKit> {
  const { apis: apiCount = 1, worker: withWorker = true, env: extraEnv = {} } = options;
  const redisPrefix = uniqueName('pigeonbrowser');
  const processes: ManagedProcess[] = [];
  const apis: ApiProcess[] = [];
  const servers: Server[] = [];
  const consoleLines: string[] = [];
  let workerProcess: ManagedProcess | null = null;
  let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  let browser: Promise<Browser> | null = null;
  let closed = false;

  // If the test process ends without close() (a crash, a timeout kill), no process outlives it.
  const killAll = () => {
    for (const p of processes) p.killNow();
  };
  process.once('exit', killAll);

  const logConsole = (line: string) => {
    consoleLines.push(line);
    if (consoleLines.length > 200) consoleLines.shift();
  };

  const describe = () =>
    [
      ...processes.map((p) => `--- ${p.name} (${p.running ? 'running' : 'not running'}):\n${p.output.slice(-3_000)}`),
      `--- browser console (last ${Math.min(consoleLines.length, 60)}):\n${consoleLines.slice(-60).join('\n')}`,
    ].join('\n');

  const waitUntil = async (what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    const name = () => (typeof what === 'string' ? what : what());
    for (;;) {
      const crashed = processes.find((p) => p.crashed);
      if (crashed) throw new Error(`${crashed.name} exited while waiting for ${name()}:\n${describe()}`);
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${name()}:\n${describe()}`);
      await sleep(50);
    }
  };

  const apiAt = (index: number) => {
    const api = apis[index];
    if (!api) throw new Error(`there is no API process #${index} (the kit runs ${apis.length})`);
    return api;
  };
  const runningApi = () => {
    const api = apis.find((a) => a.running);
    if (!api) throw new Error('no API process is running');
    return api;
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    const problems: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        problems.push(error);
      }
    };
    // Browser first, so its streams end before the processes stop.
    if (browser) await attempt(async () => (await browser)?.close());
    await Promise.all(servers.map((s) => attempt(() => stopServer(s))));
    await Promise.all(processes.map((p) => attempt(() => p.stop('SIGTERM'))));
    process.removeListener('exit', killAll);
    await attempt(async () => {
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 });
      try {
        await flushPrefix(redis, redisPrefix);
      } finally {
        redis.disconnect();
      }
    });
    if (database) await attempt(() => (database as NonNullable<typeof database>).drop());
    if (problems.length > 0) throw new AggregateError(problems, `closing the browser kit failed: ${problems.map(String).join('; ')}`);
  };

  try {
    database = await createTestDatabase();
    const shared: Record<string, string> = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      DATABASE_POOL_SIZE: '4',
      // Every tenant signs up from 127.0.0.1.
      SIGNUP_MAX_PER_HOUR: '100000',
      GRAPHIQL: 'false',
      ...extraEnv,
    };
    for (let i = 0; i < apiCount; i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const ready = respondsReady(url);
      const p = managedProcess(`api #${i + 1} (${url})`, API_ENTRY, { LOG_LEVEL: 'warn', ...shared, PORT: String(port) }, () => ready());
      processes.push(p);
      apis.push(Object.assign(p, { port, url }));
    }
    if (withWorker) {
      workerProcess = managedProcess(
        'worker',
        WORKER_ENTRY,
        // "worker started" is an info line: the worker logs at info to say it is ready.
        { LOG_LEVEL: 'info', WORKER_CONCURRENCY: '4', RENDER_THREADS: '1', ...shared },
        (out) => out.includes('worker started'),
      );
      processes.push(workerProcess);
    }
    await Promise.all(processes.map((p) => p.start()));
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  const createKitTenant = async (): Promise<KitTenant> => {
    const tenant = await createTenant(httpClient(runningApi().url));
    const pigeon = (api?: number) =>
      new Pigeon({ apiKey: tenant.apiKey, baseUrl: (api === undefined ? runningApi() : apiAt(api)).url, maxRetries: 1, timeoutMs: 10_000 });
    const notifications = async (user: string): Promise<SentNotification[]> => {
      const { body } = await httpClient(runningApi().url).gql(
        `query($f: NotificationFilter) { notifications(first: 100, filter: $f) { edges { node { id title status read seen archived inboxSeq } } } }`,
        { f: { recipient: user } },
        { authorization: `Bearer ${tenant.apiKey}` },
      );
      const edges = body.data?.notifications?.edges;
      if (!edges) throw new Error(`notifications failed: ${JSON.stringify(body)}`);
      return edges.map((e: { node: SentNotification }) => e.node);
    };
    return {
      ...tenant,
      pigeon,
      async send(input, sendOptions = {}) {
        const { notification } = await pigeon(sendOptions.api).send(input);
        if (sendOptions.waitForDelivery) {
          await waitUntil(`delivery of ${notification.id}`, async () =>
            (await notifications(input.to)).some((n) => n.id === notification.id && n.status === 'DELIVERED'),
          );
        }
        return notification.id;
      },
      mintToken: (user, ttlSeconds) => mintClientToken(httpClient(runningApi().url), tenant.apiKey, user, ttlSeconds),
      notifications,
      async inbox(user, api) {
        const { token } = await mintClientToken(httpClient(runningApi().url), tenant.apiKey, user);
        const { body } = await httpClient((api === undefined ? runningApi() : apiAt(api)).url).gql(
          '{ inbox { unreadCount unseenCount } }',
          {},
          { authorization: `Bearer ${token}` },
        );
        const inbox = body.data?.inbox;
        if (inbox) return inbox;
        const error = body.errors?.[0];
        throw new ApiRefusal(
          String(error?.extensions?.code ?? 'UNKNOWN'),
          String(error?.message ?? JSON.stringify(body)),
          error?.extensions?.retryAfter,
        );
      },
      async setRateBudget(budget) {
        const { body } = await httpClient(runningApi().url).gql(
          `mutation($e: ID!, $input: UpdateEnvironmentInput!) {
            updateEnvironment(environmentId: $e, input: $input) { __typename ... on Error { message } } }`,
          { e: tenant.developmentId, input: budget },
          tenant.sessionHeaders,
        );
        if (body.data?.updateEnvironment?.__typename !== 'UpdateEnvironmentSuccess') {
          throw new Error(`updateEnvironment failed: ${JSON.stringify(body)}`);
        }
      },
    };
  };

  const servePage = async (entry: string, tenant: KitTenant): Promise<PageServer> => {
    const script = await bundle(isAbsolute(entry) ? entry : join(APP_DIR, entry));
    const requests: TokenEndpoint['requests'] = [];
    const tokens: TokenEndpoint = {
      ttlSeconds: 3_600,
      claimedTtlSeconds: null,
      failWith: null,
      requests,
      count: (user) => requests.filter((r) => r.status === 200 && (user === undefined || r.user === user)).length,
    };
    const server = createHttpServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://page.test');
      const send = (status: number, type: string, body: string) =>
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
      try {
        if (url.pathname === '/') {
          const api = apis[Number(url.searchParams.get('api') ?? 0)];
          if (!api) return send(400, 'text/plain', 'no such API process');
          return send(200, 'text/html; charset=utf-8', pageHtml({ baseUrl: api.url, user: url.searchParams.get('user') ?? 'ada' }));
        }
        if (url.pathname === '/app.js') return send(200, 'text/javascript; charset=utf-8', script);
        if (url.pathname === '/favicon.ico') return res.writeHead(204).end();
        if (url.pathname === '/token') {
          const user = url.searchParams.get('user') ?? '';
          if (tokens.failWith !== null || !user) {
            const status = user ? (tokens.failWith ?? 500) : 400;
            requests.push({ user, status, at: Date.now() });
            return send(status, 'application/json', JSON.stringify({ error: 'refused by the test' }));
          }
          // Through whichever API process runs: the page's own API may be down on purpose.
          const minted = await tenant.pigeon().createClientToken(user, { ttlSeconds: tokens.ttlSeconds });
          const expiresAt =
            tokens.claimedTtlSeconds === null ? minted.expiresAt : new Date(Date.now() + tokens.claimedTtlSeconds * 1000).toISOString();
          requests.push({ user, status: 200, at: Date.now() });
          return send(200, 'application/json', JSON.stringify({ token: minted.token, expiresAt }));
        }
        return send(404, 'text/plain', 'not found');
      } catch (error) {
        requests.push({ user: url.searchParams.get('user') ?? '', status: 502, at: Date.now() });
        logConsole(`[page server] ${req.url}: ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) send(502, 'application/json', JSON.stringify({ error: 'token minting failed' }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return {
      origin,
      tokens,
      url(params = {}) {
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries({ user: 'ada', ...params })) if (v !== undefined) search.set(k, String(v));
        return `${origin}/?${search}`;
      },
      close: () => stopServer(server),
    };
  };

  const newContext = async (contextOptions: BrowserContextOptions = {}): Promise<BrowserTabs> => {
    if (!browser) {
      if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get install chromium (see .ci/run)`);
      browser = chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    }
    const context = await (await browser).newContext({
      // Fixed size, scale, locale, zone and motion: screenshots that only change when the UI does.
      viewport: { width: 800, height: 600 },
      deviceScaleFactor: 1,
      locale: 'en-US',
      timezoneId: 'UTC',
      reducedMotion: 'reduce',
      ...contextOptions,
    });
    // Shorter than vitest's test timeout, so a missing element fails with Playwright's message.
    context.setDefaultTimeout(10_000);
    const open = new Set<Request>();
    let opened = 0;
    const pageErrors: string[] = [];
    const isStream = (r: Request) => r.method() !== 'OPTIONS' && new URL(r.url()).pathname.endsWith(STREAM_PATH);
    const pageOf = (r: Request) => {
      try {
        return r.frame().page();
      } catch {
        return null; // a worker's request
      }
    };
    context.on('request', (r) => {
      if (!isStream(r)) return;
      open.add(r);
      opened += 1;
    });
    // A stream ends as "finished" (the server completed it) or "failed" (aborted by the page, or the
    // connection broke); a closed tab's requests may report neither.
    context.on('requestfinished', (r) => open.delete(r));
    context.on('requestfailed', (r) => open.delete(r));
    let tabCount = 0;
    context.on('page', (page) => {
      const tab = `tab ${++tabCount}`;
      page.on('console', (m) => {
        if (!m.text().includes('React DevTools')) logConsole(`[${tab} ${m.type()}] ${m.text()}`);
      });
      page.on('pageerror', (e) => {
        pageErrors.push(e.message);
        logConsole(`[${tab} uncaught] ${e.stack ?? e.message}`);
      });
      page.on('close', () => {
        for (const r of open) if (pageOf(r) === page) open.delete(r);
      });
    });
    return {
      context,
      pageErrors,
      async open(url) {
        const page = await context.newPage();
        await page.goto(url);
        return page;
      },
      openStreams: () => open.size,
      streamsOpened: () => opened,
      async waitForOpenStreams(n, { timeoutMs = 10_000, forMs = 0 } = {}) {
        let since = 0;
        await waitUntil(
          () => `${n} open inbox stream(s) (open: ${open.size}, opened so far: ${opened})`,
          () => {
            if (open.size !== n) {
              since = 0;
              return false;
            }
            since ||= Date.now();
            return Date.now() - since >= forMs;
          },
          timeoutMs + forMs,
        );
      },
      close: () => context.close(),
    };
  };

  return {
    apis,
    worker: workerProcess,
    databaseUrl: database.url,
    redisPrefix,
    api: apiAt,
    runningApi,
    createTenant: createKitTenant,
    servePage,
    newContext,
    async screenshot(target, name) {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
      await target.screenshot({ path, animations: 'disabled', caret: 'hide' });
      return path;
    },
    waitUntil,
    describe,
    close,
  };
}
