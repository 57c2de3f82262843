// The browser kit's own test, without the SDK: a plain page (app/probe.tsx) on the kit's page
// server gets a token from /token, reads the inbox from a real API process on another origin and
// follows the live stream; the kit counts that stream, restarts the API on its port, changes rate
// budgets and takes a screenshot.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { type BrowserKit, startBrowserKit } from './browser-kit.ts';

let kit: BrowserKit;
beforeAll(async () => {
  kit = await startBrowserKit();
});
afterAll(async () => {
  await kit?.close();
});
// The processes' output and the pages' console, next to a failure.
beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(kit.describe())));

it('serves a page that reads the inbox from an API process on another origin and follows its live stream', async () => {
  const tenant = await kit.createTenant();
  await tenant.send({ to: 'ada', title: 'First', body: 'one' }, { waitForDelivery: true });
  const site = await kit.servePage('probe.tsx', tenant);
  const tabs = await kit.newContext();

  const page = await tabs.open(site.url({ user: 'ada', stream: 1 }));
  await page.locator('[data-test-events="CONNECTED"]').waitFor();
  expect(await page.locator('output').textContent()).toBe('1');
  expect(site.tokens.count('ada')).toBe(1);
  await tabs.waitForOpenStreams(1);

  // Sent with the API key over HTTP, delivered by the worker process, live on the page.
  await tenant.send({ to: 'ada', title: 'Second', body: 'two' });
  await page.locator('[data-test-unread="2"]').waitFor();
  expect(await page.locator('[data-test-events]').getAttribute('data-test-events')).toBe('CONNECTED DELIVERED');
  expect(existsSync(await kit.screenshot(page, 'kit-probe'))).toBe(true);

  // Streams are counted per context: a second tab adds one, closing it or stopping one ends it.
  const second = await tabs.open(site.url({ user: 'ada', stream: 1 }));
  await tabs.waitForOpenStreams(2);
  await second.close();
  await tabs.waitForOpenStreams(1);
  await page.locator('[data-test-stop-stream]').click();
  await tabs.waitForOpenStreams(0);
  expect(tabs.streamsOpened()).toBe(2);
  expect(site.tokens.count()).toBe(2);
  expect(tabs.pageErrors).toEqual([]);
  expect((await tenant.notifications('ada')).map((n) => [n.title, n.status, n.read])).toEqual([
    ['Second', 'DELIVERED', false],
    ['First', 'DELIVERED', false],
  ]);
  await tabs.close();
});

it('stops an API process (SIGTERM, then SIGKILL) while a page is open and starts it again on the same port', async () => {
  const tenant = await kit.createTenant();
  const site = await kit.servePage('probe.tsx', tenant);
  const tabs = await kit.newContext();
  const api = kit.api(0);
  const port = api.port;
  const page = await tabs.open(site.url({ user: 'grace', stream: 1 }));
  await tabs.waitForOpenStreams(1);

  // A graceful stop completes the stream (the request finishes).
  await api.stop('SIGTERM');
  expect(api.running).toBe(false);
  await tabs.waitForOpenStreams(0);
  await api.start();
  expect(api.running).toBe(true);
  expect(api.port).toBe(port);

  await page.reload();
  await page.locator('[data-test-events="CONNECTED"]').waitFor();
  await tabs.waitForOpenStreams(1);
  // A crash breaks the connection (the request fails); the page sees the stream's error.
  await api.stop('SIGKILL');
  await tabs.waitForOpenStreams(0);
  await page.locator('[data-test-error]').waitFor();
  await api.start();

  await tenant.send({ to: 'grace', title: 'After the restarts', body: 'three' }, { waitForDelivery: true });
  await page.reload();
  await page.locator('[data-test-unread="1"]').waitFor();
  await tabs.waitForOpenStreams(1);
  expect(tabs.streamsOpened()).toBe(3);
  await tabs.close();
}, 60_000);

it('changes rate budgets and lets the token endpoint refuse', async () => {
  const tenant = await kit.createTenant();
  const site = await kit.servePage('probe.tsx', tenant);
  const tabs = await kit.newContext();

  // One operation a minute for the recipient's client tokens: the first page load's inbox query
  // uses it up, the reload's is refused.
  await tenant.setRateBudget({ clientTokenOpsPerMinute: 1 });
  const page = await tabs.open(site.url({ user: 'linus' }));
  await page.locator('[data-test-unread="0"]').waitFor();
  await page.reload();
  expect(await page.locator('[data-test-error]').textContent()).toMatch(/HTTP 429 .*RATE_LIMITED/);

  site.tokens.failWith = 503;
  await page.reload();
  expect(await page.locator('[data-test-error]').textContent()).toBe('GET /token answered HTTP 503');
  expect(site.tokens.requests.map((r) => r.status)).toEqual([200, 200, 503]);
  expect(site.tokens.count('linus')).toBe(2);
  await tabs.close();
});
