// Fixtures for the dashboard's browser tests. The dashboard is built fresh (Vite's JS API) into a
// temporary directory that the API process serves, so a test never sees a stale dashboard/dist. The
// platform runs as real processes (one API, one worker, a fresh PostgreSQL database and a Redis
// prefix of its own) through the React SDK's browser kit, with loopback allowed for webhooks so a
// local receiver can take them. Chromium is /usr/bin/chromium driven by playwright-core.
//
//   let kit: DashboardKit;
//   beforeAll(async () => { kit = await startDashboardKit(); }, 180_000);
//   afterAll(() => kit?.close());
//   it('…', async () => {
//     const browser = await kit.newBrowser({ viewport: { width: 1280, height: 800 } });
//     const page = await browser.open('/signup');
//     await kit.screenshot(page, 'signup');
//     browser.assertNoErrors();
//   });
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyWebhook, type WebhookEvent } from '@pigeon/node';
import type { BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { httpClient } from '../../api/test/harness.ts';
import { type BrowserKit, type BrowserTabs, startBrowserKit } from '../../clients/react/test/browser-kit.ts';

export const DASHBOARD_DIR = fileURLToPath(new URL('../', import.meta.url));
/** Where `screenshot()` writes (gitignored). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));
export const LAPTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;
/** What the dashboard's sign-up form accepts (10+ characters, not guessable). */
export const PASSWORD = 'correct horse battery staple';
/** Playwright's wait for one element or action; the machine may be busy, so it is generous. */
const ACTION_TIMEOUT_MS = 20_000;

// --- the build ------------------------------------------------------------------------------------

/**
 * Builds the dashboard (production mode, as the API serves it) into a fresh temporary directory and
 * returns its path. Needs src/gql (from `npm run codegen`, which `npm test` runs first).
 */
export async function buildDashboard(): Promise<string> {
  if (!existsSync(join(DASHBOARD_DIR, 'src/gql/graphql.ts'))) {
    throw new Error('dashboard/src/gql is missing: run `npm run codegen` first (npm test does it in its pretest step).');
  }
  const outDir = await mkdtemp(join(tmpdir(), 'pigeon-dashboard-'));
  const { build } = await import('vite');
  // Vitest sets NODE_ENV=test, and Vite would bake that into the bundle (React's development build):
  // build what production serves instead.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      root: DASHBOARD_DIR,
      mode: 'production',
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true, sourcemap: false },
    });
  } catch (error) {
    await rm(outDir, { recursive: true, force: true });
    throw error;
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return outDir;
}

// --- the webhook receiver ------------------------------------------------------------------------

/** One request as the receiver saw it, verified once the receiver knows the secret. */
export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (what the signature covers). */
  body: string;
  /** The verified event (`verifyWebhook` of the Node SDK), once `setSecret` was called. */
  event: WebhookEvent | null;
  /** Why verification failed, if it did. */
  verifyError: string | null;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks` */
  readonly url: string;
  readonly requests: readonly ReceivedWebhook[];
  /** Verifies every request so far, and each one after, with this secret. */
  setSecret(secret: string): void;
  close(): Promise<void>;
}

/** A node:http receiver on loopback that records every request and answers 200 "ok". */
export async function startReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  let secret: string | null = null;
  const verify = (r: ReceivedWebhook) => {
    if (!secret) return;
    try {
      r.event = verifyWebhook(r.body, r.headers, secret);
      r.verifyError = null;
    } catch (error) {
      r.event = null;
      r.verifyError = error instanceof Error ? error.message : String(error);
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedWebhook = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        event: null,
        verifyError: null,
      };
      verify(received);
      requests.push(received);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    setSecret(value) {
      secret = value;
      for (const r of requests) verify(r);
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}

// --- browsers -------------------------------------------------------------------------------------

/** One browser context (one person's browser) on the dashboard. */
export interface DashboardBrowser {
  readonly context: BrowserContext;
  /** Opens a tab at `path` (relative to the dashboard's origin). */
  open(path: string): Promise<Page>;
  /** Uncaught exceptions and console errors of its pages. */
  errors(): string[];
  /** Throws with the list when a page had an uncaught exception or logged an error. */
  assertNoErrors(): void;
  /** Headers that authenticate as this browser's session over HTTP: its cookies and X-CSRF-Token from pigeon_csrf. */
  sessionHeaders(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface DashboardKit {
  /** The processes, database and Redis prefix (the React SDK's kit). */
  readonly platform: BrowserKit;
  /** The API's origin, which serves the dashboard at `/`. */
  readonly origin: string;
  readonly receiver: WebhookReceiver;
  newBrowser(options?: BrowserContextOptions): Promise<DashboardBrowser>;
  /** One GraphQL operation over HTTP (to check what the server says, next to what a page shows). */
  gql(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: { data?: any; errors?: any } }>;
  /** Saves a PNG under SCREENSHOT_DIR (the whole page unless `fullPage: false`) and returns its path. */
  screenshot(target: Page | Locator, name: string, options?: { fullPage?: boolean }): Promise<string>;
  /** Polls `check` until it holds (default 20 s); fails early if a process crashed, with their logs. */
  waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Process output and browser console, for failure messages. */
  describe(): string;
  close(): Promise<void>;
}

/** Builds the dashboard, starts the receiver and the platform; closes what it started if a part fails. */
export async function startDashboardKit(): Promise<DashboardKit> {
  const dist = await buildDashboard();
  const receiver = await startReceiver();
  let platform: BrowserKit;
  try {
    platform = await startBrowserKit({
      apis: 1,
      env: {
        DASHBOARD_DIR: dist,
        // The receiver is on loopback, which webhooks may not reach by default.
        WEBHOOK_ALLOW_LIST: '127.0.0.0/8',
      },
    });
  } catch (error) {
    await receiver.close().catch(() => {});
    await rm(dist, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  const origin = platform.runningApi().url;
  const client = httpClient(origin);

  const newBrowser = async (options: BrowserContextOptions = {}): Promise<DashboardBrowser> => {
    const tabs: BrowserTabs = await platform.newContext({ viewport: LAPTOP, ...options });
    const { context } = tabs;
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    const consoleErrors: string[] = [];
    context.on('page', (page) => {
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url || 'no url'})`);
      });
    });
    const errors = () => [...tabs.pageErrors.map((e) => `uncaught: ${e}`), ...consoleErrors];
    const browser: DashboardBrowser = {
      context,
      async open(path) {
        const page = await context.newPage();
        await page.goto(new URL(path, origin).toString());
        return page;
      },
      errors,
      assertNoErrors() {
        const found = errors();
        if (found.length > 0) throw new Error(`the dashboard logged errors:\n${found.join('\n')}`);
      },
      async sessionHeaders() {
        const cookies = await context.cookies(origin);
        const session = cookies.find((c) => c.name === 'pigeon_session');
        const csrf = cookies.find((c) => c.name === 'pigeon_csrf');
        if (!session || !csrf) throw new Error(`no session cookies in this browser: ${cookies.map((c) => c.name).join(', ')}`);
        return {
          cookie: `pigeon_session=${session.value}; pigeon_csrf=${csrf.value}`,
          'x-csrf-token': decodeURIComponent(csrf.value),
        };
      },
      close: () => context.close(),
    };
    return browser;
  };

  return {
    platform,
    origin,
    receiver,
    newBrowser,
    gql: (query, variables = {}, headers = {}) => client.gql(query, variables, headers),
    async screenshot(target, name, options = {}) {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
      const fullPage = options.fullPage ?? true;
      // A full-page capture draws the sticky header and sidebar where the page is scrolled to.
      if ('goto' in target && fullPage) await target.evaluate(() => window.scrollTo(0, 0));
      await target.screenshot({ path, animations: 'disabled', caret: 'hide', ...('goto' in target ? { fullPage } : {}) });
      return path;
    },
    waitUntil: (what, check, timeoutMs = 20_000) => platform.waitUntil(what, check, timeoutMs),
    describe: () => platform.describe(),
    async close() {
      const problems: unknown[] = [];
      for (const step of [() => platform.close(), () => receiver.close(), () => rm(dist, { recursive: true, force: true })]) {
        try {
          await step();
        } catch (error) {
          problems.push(error);
        }
      }
      if (problems.length > 0) throw new AggregateError(problems, `closing the dashboard kit failed: ${problems.map(String).join('; ')}`);
    },
  };
}

// --- small page helpers ---------------------------------------------------------------------------

/** Waits until `locator`'s text matches, with the text it last had in the error. */
export async function waitForText(locator: Locator, pattern: RegExp, timeoutMs = ACTION_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = (await locator.textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null)) ?? '';
    if (pattern.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in ${locator}; last text: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Signs a new user up through the sign-up form; resolves on the page it lands on (the project list for a new user). */
export async function signUpThroughUi(browser: DashboardBrowser, email: string, name: string): Promise<Page> {
  const page = await browser.open('/signup');
  await page.getByTestId('signup-name').fill(name);
  await page.getByTestId('signup-email').fill(email);
  await page.getByTestId('signup-password').fill(PASSWORD);
  await page.getByTestId('signup-submit').click();
  await page.waitForURL(/\/projects$/);
  await page.getByTestId('create-project-form').waitFor();
  return page;
}

/** Creates a project from the project list; resolves with its id once its notifications page is open. */
export async function createProjectThroughUi(page: Page, name: string): Promise<string> {
  await page.getByTestId('project-name').fill(name);
  await page.getByTestId('create-project').click();
  await page.waitForURL(/\/projects\/[0-9a-f-]{36}\/development\/notifications$/);
  return /\/projects\/([0-9a-f-]{36})\//.exec(page.url())?.[1] ?? '';
}

/** The message shown under the form field whose control has `testId`. */
export function fieldError(page: Page, testId: string): Locator {
  return page.locator('.field', { has: page.getByTestId(testId) }).locator('.field-error');
}

/** Waits until the clipboard (granted to the page's context) holds text, and returns it. */
export async function clipboardText(kit: DashboardKit, page: Page): Promise<string> {
  let text = '';
  await kit.waitUntil('text on the clipboard', async () => {
    text = await page.evaluate(() => navigator.clipboard.readText());
    return text !== '';
  });
  return text;
}
