// The demo end to end, as `npm run demo` runs it: its entry point as a child process, on free ports,
// with its own data directory and Redis prefix (never a developer's), then the full loop over HTTP.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ReceivedWebhook } from './src/webhook-log.ts';

const REDIS_URL = process.env.PIGEON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAIN = fileURLToPath(new URL('./src/main.ts', import.meta.url));

const dataDir = mkdtempSync(join(tmpdir(), 'pigeon-demo-'));
const prefix = `pigeondemo_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
let demo: ChildProcess;
let exited: Promise<unknown>;
let output = '';
let url = '';

beforeAll(async () => {
  // WEBHOOK_ALLOW_LIST unset: the platform's local start then allows the receiver on loopback.
  const { WEBHOOK_ALLOW_LIST: _unset, ...inherited } = process.env;
  // Its own process group, so the cleanup below can reach the platform child even if the demo failed.
  demo = spawn(process.execPath, [MAIN], {
    env: { ...inherited, PORT: '0', PIGEON_PORT: '0', DEMO_DATA_DIR: dataDir, DEMO_REDIS_PREFIX: prefix, REDIS_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  exited = new Promise((resolve) => demo.once('exit', resolve));
  demo.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  demo.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + 45_000;
  while (!url) {
    url = /Pigeon demo: open (\S+)/.exec(output)?.[1] ?? '';
    if (demo.exitCode !== null) throw new Error(`The demo exited during start-up:\n${output}`);
    if (Date.now() > deadline) throw new Error(`The demo did not start within 45 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (demo?.pid) {
    try {
      process.kill(-demo.pid, 'SIGKILL');
    } catch {
      // The group is gone already: the shutdown test stopped it.
    }
  }
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: res.status === 204 ? null : await res.json() };
}

async function received(): Promise<ReceivedWebhook[]> {
  return ((await (await fetch(`${url}/api/webhooks`)).json()) as { received: ReceivedWebhook[] }).received;
}

it('serves the page and its bundle', async () => {
  const page = await fetch(url);
  expect(page.headers.get('content-type')).toContain('text/html');
  expect(await page.text()).toContain('<script type="module" src="/app.js">');
  const js = await fetch(`${url}/app.js`);
  expect(js.status).toBe(200);
  expect((await js.text()).length).toBeGreaterThan(10_000);
});

it('sends through the SDK and receives verified accepted and delivered webhooks for it', async () => {
  const sent = await post('/api/send', {
    to: 'ada',
    title: 'Tea & cake',
    body: 'In the kitchen.',
    actionUrl: '/kitchen',
    idempotencyKey: 'k1',
  });
  expect(sent.status).toBe(200);
  expect(sent.json).toMatchObject({ duplicate: false, idempotencyKey: 'k1', notification: { status: 'ACCEPTED' } });
  const id = sent.json.notification.id as string;

  await expect
    .poll(async () => (await received()).filter((w) => w.notification?.id === id && w.verified).map((w) => w.type), {
      timeout: 10_000,
      interval: 200,
    })
    .toEqual(expect.arrayContaining(['notification.accepted', 'notification.delivered']));
  const delivered = (await received()).find((w) => w.notification?.id === id && w.type === 'notification.delivered');
  expect(delivered).toMatchObject({ verified: true, notification: { recipient: 'ada', title: 'Tea &amp; cake', status: 'DELIVERED' } });
  expect(delivered?.webhookId).toMatch(/^[0-9a-f-]{36}$/);

  // The same key again is the same notification, not a second one.
  const again = await post('/api/send', {
    to: 'ada',
    title: 'Tea & cake',
    body: 'In the kitchen.',
    actionUrl: '/kitchen',
    idempotencyKey: 'k1',
  });
  expect(again.json).toMatchObject({ duplicate: true, notification: { id } });
});

it('refuses a forged webhook with the reason and shows it', async () => {
  const res = await fetch(`${url}/webhooks/pigeon`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': 'forged-1',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': `v1,${Buffer.from('not a real signature').toString('base64')}`,
    },
    body: '{"data": {"id": "x"}, "type": "notification.read", "timestamp": "2026-01-01T00:00:00Z"}',
  });
  expect(res.status).toBe(400);
  expect((await res.json()).error.code).toBe('SIGNATURE_MISMATCH');
  expect((await received())[0]).toMatchObject({
    webhookId: 'forged-1',
    verified: false,
    type: 'notification.read',
    reason: 'SIGNATURE_MISMATCH',
  });
});

it('mints a client token that reads the inbox of the chosen user', async () => {
  const config = (await (await fetch(`${url}/api/config`)).json()) as { pigeonUrl: string };
  const { status, json } = await post('/api/token', { user: 'ada' });
  expect(status).toBe(200);
  expect(Date.parse(json.expiresAt)).toBeGreaterThan(Date.now());
  const res = await fetch(`${config.pigeonUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${json.token}` },
    body: JSON.stringify({ query: '{ inbox { unreadCount } }' }),
  });
  // Ada got the one notification of the test above.
  expect(await res.json()).toEqual({ data: { inbox: { unreadCount: 1 } } });

  expect((await post('/api/token', { user: 'mallory' })).status).toBe(400);
});

it('in a browser: the bell lights up after Send notification, and opening it reads it (a webhook says so)', async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'], headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.getByLabel('Signed in as').selectOption('grace');
    await page.getByText('0 unread · live').waitFor();
    await page.getByRole('button', { name: 'Send notification' }).click();
    await page.getByRole('button', { name: 'Notifications, 1 unread' }).click();
    await page.locator('[data-pigeon-item-action]').first().click();
    await page.getByText('The bell asked to open /orders/1234').waitFor();
    await page.getByText('0 unread · live').waitFor();
    await expect
      .poll(async () =>
        (await received()).some((w) => w.type === 'notification.read' && w.verified && w.notification?.recipient === 'grace'),
      )
      .toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});

it('stops with the platform child on SIGTERM', async () => {
  process.kill(demo.pid as number, 'SIGTERM');
  await exited;
  expect(demo.exitCode).toBe(0);
  // Nothing of the demo's process group is left (kill with signal 0 only checks).
  expect(() => process.kill(-(demo.pid as number), 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
}, 30_000);
