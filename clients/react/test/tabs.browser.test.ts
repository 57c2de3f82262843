// The React SDK's live connection in Chromium, across what real browsers and servers do: the API
// process crashes and comes back, several tabs of one user share one stream (and hand it over when
// the leader tab closes), a read in one tab reaches the others, client tokens are refreshed ahead
// of expiry and the token endpoint fails for a while, and a tab that was not running catches up.
import type { CDPSession, Page, Request } from 'playwright-core';
import { expect, it } from 'vitest';
import { type BrowserKit, type BrowserTabs, browserKitForFile, type KitTenant } from './browser-kit.ts';

declare global {
  interface Window {
    /** What `document.visibilityState` answers while a test emulates hiding the tab. */
    emulatedVisibility?: DocumentVisibilityState;
    /** The bell's rows and badge over time ("UUr|2": unread, unread, read; badge 2), from a MutationObserver. */
    bellTimeline?: { state: string; at: number }[];
    /** performance.now() when the test clicked "Mark all as read". */
    markAllClickedAt?: number;
  }
}

const LIVE = '[data-pigeon-bell][data-connection="live"]';

let kit: BrowserKit;
// Every context a test opens (newTabs) is closed after it, and none of its pages may have thrown.
const { newTabs } = browserKitForFile({ apis: 2 }, (started) => {
  kit = started;
});

async function openLive(tabs: BrowserTabs, url: string): Promise<Page> {
  const page = await tabs.open(url);
  await page.locator(LIVE).waitFor();
  return page;
}

/** The headless list's rows, in order (every tab shows it; the bell's rows only exist while open). */
function listRows(page: Page): Promise<{ id: string; read: boolean }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-test-item]')].map((li) => ({
      id: li.getAttribute('data-id') ?? '',
      read: li.getAttribute('data-read') === 'true',
    })),
  );
}

function badge(page: Page): Promise<string | null> {
  return page.evaluate(() => document.querySelector('[data-pigeon-badge]')?.textContent ?? null);
}

/** Waits until the page lists exactly `ids` (any order), then checks that none is listed twice. */
async function waitForList(page: Page, ids: readonly string[], timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const shown = [...document.querySelectorAll('[data-test-item]')].map((li) => li.getAttribute('data-id'));
      return shown.length === expected.length && expected.every((id) => shown.includes(id));
    },
    [...ids],
    { timeout },
  );
  const shown = (await listRows(page)).map((r) => r.id);
  expect(new Set(shown).size).toBe(shown.length);
}

const sendOne = (t: KitTenant, to: string, title: string, options?: { api?: number; waitForDelivery?: boolean }) =>
  t.send({ to, title, body: `Body of ${title}` }, options);

it('catches up after its API process crashes and restarts: every notification once, counts equal to the server', async () => {
  const t = await kit.createTenant();
  const before = await sendOne(t, 'ada', 'Before the crash', { waitForDelivery: true });
  const site = await kit.servePage('bell.tsx', t);
  const tabs = await newTabs();
  const page = await openLive(tabs, site.url({ user: 'ada', api: 0 }));
  await waitForList(page, [before]);

  await kit.api(0).stop('SIGKILL');
  await page.locator('[data-pigeon-bell][data-connection="reconnecting"]').waitFor();
  // Sent and delivered through the other API process while the page's is down.
  const during = await Promise.all([1, 2, 3].map((n) => sendOne(t, 'ada', `While down ${n}`, { api: 1, waitForDelivery: true })));
  expect(await listRows(page)).toEqual([{ id: before, read: false }]);
  await kit.api(0).start();

  // Backoff grows while the API is down (0.5 s doubling, jittered), so the reconnect may take a while.
  await page.locator(LIVE).waitFor({ timeout: 45_000 });
  await waitForList(page, [before, ...during]);
  const rows = await listRows(page);
  const server = await t.notifications('ada');
  expect(rows.map((r) => r.id).sort()).toEqual(server.map((n) => n.id).sort());
  const unread = rows.filter((r) => !r.read).length;
  expect(unread).toBe(4);
  expect(await badge(page)).toBe(String(unread));
  expect(await t.inbox('ada')).toMatchObject({ unreadCount: unread });
  await page.locator('[data-test-inbox][data-test-unread="4"]').waitFor();

  // The bell shows them too, each once.
  await page.locator('[data-pigeon-bell-button]').click();
  await page.locator('[data-pigeon-item]').nth(3).waitFor();
  const bellIds = await page.evaluate(() => [...document.querySelectorAll('[data-pigeon-item]')].map((li) => li.getAttribute('data-id')));
  expect(bellIds).toEqual(rows.map((r) => r.id));

  // live → reconnecting → … → live, and a new stream was opened.
  const connections = await page.evaluate(() => window.pigeonTest.connections);
  const firstLive = connections.indexOf('live');
  expect(firstLive).toBeGreaterThanOrEqual(0);
  expect(connections.slice(firstLive + 1)).toContain('reconnecting');
  expect(connections[connections.length - 1]).toBe('live');
  expect(tabs.streamsOpened()).toBeGreaterThanOrEqual(2);
  await tabs.waitForOpenStreams(1);
}, 90_000);

it('a read in one tab clears the badge in another tab of the same user', async () => {
  const t = await kit.createTenant();
  const id = await sendOne(t, 'grace', 'Read me once', { waitForDelivery: true });
  const site = await kit.servePage('bell.tsx', t);
  const tabs = await newTabs();
  const first = await openLive(tabs, site.url({ user: 'grace' }));
  const second = await openLive(tabs, site.url({ user: 'grace' }));
  for (const page of [first, second]) await page.locator('[data-pigeon-badge]', { hasText: '1' }).waitFor();

  await first.locator('[data-pigeon-bell-button]').click();
  await first.locator(`[data-pigeon-item][data-id="${id}"] [data-pigeon-item-action]`).click();
  await first.locator('[data-pigeon-badge]').waitFor({ state: 'detached' });
  await second.locator('[data-pigeon-badge]').waitFor({ state: 'detached' });
  await second.locator(`[data-test-item][data-id="${id}"][data-read="true"]`).waitFor();
  expect(await second.getByRole('button', { name: 'Notifications', exact: true }).count()).toBe(1);
  expect((await t.notifications('grace')).map((n) => n.read)).toEqual([true]);
});

it('six tabs hold one stream, and when the leader tab closes another takes over', async () => {
  const t = await kit.createTenant();
  const site = await kit.servePage('bell.tsx', t);
  const tabs = await newTabs();
  const pages: Page[] = [];
  for (let i = 0; i < 6; i++) pages.push(await openLive(tabs, site.url({ user: 'linus' })));
  await tabs.waitForOpenStreams(1, { forMs: 1_500 });
  const opened = tabs.streamsOpened();

  const leaders = async (of: Page[]) => {
    const holds = await Promise.all(of.map((page) => page.evaluate(() => window.pigeonTest.holdsStream())));
    return of.filter((_, i) => holds[i]);
  };
  const [leader, ...others] = await leaders(pages);
  expect(others).toEqual([]);
  if (!leader) throw new Error('no tab holds the stream');

  const firstId = await sendOne(t, 'linus', 'To all six');
  for (const page of pages) await waitForList(page, [firstId]);

  await leader.close();
  const remaining = pages.filter((page) => page !== leader);
  // Another tab takes the lock and opens the one stream, from its own cursor.
  await kit.waitUntil('a remaining tab to hold the stream', async () => (await leaders(remaining)).length === 1);
  await tabs.waitForOpenStreams(1, { forMs: 1_500 });
  expect(tabs.streamsOpened()).toBe(opened + 1);
  expect(await leaders(remaining)).toHaveLength(1);
  for (const page of remaining) await page.locator(LIVE).waitFor();

  const secondId = await sendOne(t, 'linus', 'To the five left');
  for (const page of remaining) {
    await waitForList(page, [secondId, firstId]);
    expect(await badge(page)).toBe('2');
  }
}, 60_000);

it('"Mark all as read" in a follower tab stays applied while the leader tab\'s scripts are paused', async () => {
  const t = await kit.createTenant();
  await Promise.all(['A', 'B', 'C', 'D'].map((x) => sendOne(t, 'nora', `Item ${x}`, { waitForDelivery: true })));
  const site = await kit.servePage('bell.tsx', t);
  const tabs = await newTabs();
  const leader = await openLive(tabs, site.url({ user: 'nora' }));
  const follower = await openLive(tabs, site.url({ user: 'nora' }));
  expect(await leader.evaluate(() => window.pigeonTest.holdsStream())).toBe(true);
  expect(await follower.evaluate(() => window.pigeonTest.holdsStream())).toBe(false);
  await follower.locator('[data-pigeon-bell-button]').click();
  await follower.locator('[data-pigeon-item]').nth(3).waitFor();
  // Opening marked them seen; let that settle (relayed by the leader) first.
  await kit.waitUntil('the server to have them seen', async () => (await t.notifications('nora')).every((n) => n.seen));
  await follower.locator('[data-test-inbox][data-test-unseen="0"]').waitFor();

  // The leader stops running scripts (as a background tab may): the follower gets no events now.
  const cdp = await tabs.context.newCDPSession(leader);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  try {
    await follower.evaluate(() => {
      const root = document.querySelector('[data-pigeon-bell]');
      if (!root) throw new Error('bell missing');
      const timeline: { state: string; at: number }[] = [];
      window.bellTimeline = timeline;
      const record = () => {
        const rows = [...document.querySelectorAll('[data-pigeon-item]')].map((li) =>
          li.getAttribute('data-unread') === 'true' ? 'U' : 'r',
        );
        const state = `${rows.join('')}|${document.querySelector('[data-pigeon-badge]')?.textContent ?? ''}`;
        if (timeline[timeline.length - 1]?.state !== state) timeline.push({ state, at: performance.now() });
      };
      record();
      new MutationObserver(record).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
      window.markAllClickedAt = performance.now();
    });
    await follower.locator('[data-pigeon-mark-all]').click();
    await kit.waitUntil('the server to have them read', async () => (await t.notifications('nora')).every((n) => n.read));
    // Half a second after the server's answer reached the follower (its event cannot, yet).
    await follower.waitForFunction(() => {
      const answered = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter((e) => new URL(e.name).pathname === '/graphql' && e.startTime >= (window.markAllClickedAt ?? 0) && e.responseEnd > 0)
        .map((e) => e.responseEnd);
      return answered.length > 0 && performance.now() > Math.max(...answered) + 500;
    });
    const timeline = await follower.evaluate(() => window.bellTimeline ?? []);
    const shown = timeline.map((s) => `${s.state} at +${Math.round(s.at - (timeline[0]?.at ?? 0))} ms`).join(', ');
    // Read at once and still read after the answer: not back to unread until the ALL_READ event comes.
    expect(
      timeline.map((s) => s.state),
      `rows|badge over time: ${shown}`,
    ).toEqual(['UUUU|4', 'rrrr|']);
  } finally {
    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
    await cdp.detach();
  }
  // Resumed, the leader applies the buffered ALL_READ and relays it: both tabs agree with the server.
  for (const page of [leader, follower]) {
    await page.locator('[data-test-item][data-read="false"]').first().waitFor({ state: 'detached' });
    expect(await badge(page)).toBeNull();
  }
});

it('refreshes its token ahead of the expiry it was told, and survives the token endpoint failing for a while', async () => {
  const t = await kit.createTenant();
  const site = await kit.servePage('bell.tsx', t);
  // Real tokens live an hour; the page is told 7 s, so it refreshes 5 s ahead: every ~2 s.
  site.tokens.claimedTtlSeconds = 7;
  const tabs = await newTabs();
  const page = await openLive(tabs, site.url({ user: 'alan' }));
  const atLoad = site.tokens.count('alan');
  await kit.waitUntil('two refreshes', () => site.tokens.count('alan') >= atLoad + 2, 15_000);
  const granted = site.tokens.requests.filter((r) => r.status === 200).map((r) => r.at);
  for (let i = 1; i < granted.length; i++) {
    // Each before the previous token's claimed expiry.
    expect((granted[i] ?? 0) - (granted[i - 1] ?? 0)).toBeLessThan(7_000);
  }
  const first = await sendOne(t, 'alan', 'After the refreshes');
  await waitForList(page, [first]);
  expect(await page.evaluate(() => window.pigeonTest.connections)).toEqual(['connecting', 'live']);

  // The token endpoint fails: the next scheduled refresh is refused…
  site.tokens.failWith = 500;
  const refused = () => site.tokens.requests.filter((r) => r.status === 500).length;
  await kit.waitUntil('a refused token request', () => refused() > 0, 15_000);
  // …the stream it already holds keeps delivering…
  const second = await sendOne(t, 'alan', 'While /token fails');
  await waitForList(page, [second, first]);
  // …and once the cached token is within 5 s of its claimed expiry, every change needs a new one:
  // opening the bell (mark seen) and a read are shown, then rolled back with the error on screen.
  const lastGranted = Math.max(...site.tokens.requests.filter((r) => r.status === 200).map((r) => r.at));
  await kit.waitUntil('the cached token to be too old to use', () => Date.now() > lastGranted + 2_500);
  await page.locator('[data-pigeon-bell-button]').click();
  await page.locator('[data-pigeon-mutation-error]').waitFor();
  const row = page.locator(`[data-pigeon-item][data-id="${second}"]`);
  const refusedBefore = refused();
  await row.locator('[data-pigeon-item-toggle]').click();
  await kit.waitUntil('the read to ask for a token and be refused', () => refused() > refusedBefore);
  await page.locator(`[data-pigeon-item][data-id="${second}"][data-unread="true"]`).waitFor();
  expect(await page.locator('[data-pigeon-mutation-error]').textContent()).toContain('GET /token answered HTTP 500');
  // Nothing went blank: both rows, the count, the live connection.
  expect(await page.locator('[data-pigeon-item]').count()).toBe(2);
  expect(await badge(page)).toBe('2');
  expect(await page.locator('[data-pigeon-bell]').getAttribute('data-connection')).toBe('live');

  // The endpoint recovers: the same change goes through, the error clears, refreshes resume.
  site.tokens.failWith = null;
  const grantedBefore = site.tokens.count('alan');
  await row.locator('[data-pigeon-item-toggle]').click();
  await page.locator(`[data-pigeon-item][data-id="${second}"][data-unread="false"]`).waitFor();
  await page.locator('[data-pigeon-mutation-error]').waitFor({ state: 'detached' });
  await kit.waitUntil(
    'the server to have it read',
    async () => (await t.notifications('alan')).find((n) => n.id === second)?.read === true,
  );
  await kit.waitUntil('scheduled refreshes to resume', () => site.tokens.count('alan') >= grantedBefore + 2, 15_000);
  expect(await page.evaluate(() => window.pigeonTest.connections)).toEqual(['connecting', 'live']);
}, 60_000);

it('a tab whose scripts were paused while events arrived catches up, and refetches when it becomes visible', async () => {
  const t = await kit.createTenant();
  const first = await sendOne(t, 'mara', 'Seen before the pause', { waitForDelivery: true });
  const site = await kit.servePage('bell.tsx', t);
  const tabs = await newTabs();
  const page = await openLive(tabs, site.url({ user: 'mara' }));
  await waitForList(page, [first]);

  // Headless Chromium here never hides or freezes a page (Page.setWebLifecycleState "frozen" is
  // accepted but scripts keep running; a minimized window stays "visible"), so hiding is emulated:
  // document.visibilityState answers what the test says, and the test dispatches visibilitychange.
  await page.evaluate(() => {
    window.emulatedVisibility = 'hidden';
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => window.emulatedVisibility ?? 'visible' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.emulatedVisibility === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  // "Frozen": the debugger pauses the tab's scripts at the next thing they run (the stream's data).
  const cdp: CDPSession = await tabs.context.newCDPSession(page);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  const during = [
    await sendOne(t, 'mara', 'While paused 1', { waitForDelivery: true }),
    await sendOne(t, 'mara', 'While paused 2', { waitForDelivery: true }),
  ];
  // The DOM (read through the protocol, which works while scripts are paused) has not moved.
  const { root } = await cdp.send('DOM.getDocument');
  const { nodeIds } = await cdp.send('DOM.querySelectorAll', { nodeId: root.nodeId, selector: '[data-test-item]' });
  expect(nodeIds).toHaveLength(1);

  const refetches: Request[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.postData()?.includes('PigeonInboxPage')) refetches.push(request);
  });
  await cdp.send('Debugger.resume');
  await cdp.send('Debugger.disable');
  await cdp.detach();
  // Resumed, it applies what its stream buffered meanwhile: caught up, each once, without a refetch.
  await waitForList(page, [first, ...during]);
  expect(refetches).toHaveLength(0);
  // Becoming visible refetches the list (it may have missed more than its stream kept).
  await page.evaluate(() => {
    window.emulatedVisibility = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await kit.waitUntil('a refetch after becoming visible', () => refetches.length > 0);
  await Promise.all(refetches.map((request) => request.response()));
  await waitForList(page, [first, ...during]);
  const rows = await listRows(page);
  expect(rows.map((r) => r.id).sort()).toEqual((await t.notifications('mara')).map((n) => n.id).sort());
  expect(await badge(page)).toBe('3');
  await page.locator(LIVE).waitFor();
});
