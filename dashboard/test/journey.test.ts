// A new user's first hour, all through the dashboard in Chromium at 1280×800: sign up, create a
// project and an API key, write a template against its live preview (and see a render error at its
// line), point a webhook endpoint at a local receiver, send a test notification and follow it to its
// timeline, down to the webhook attempt the receiver really got and verified. The API is only asked
// to confirm what the pages show. Screenshots of every main screen go to dashboard/test/screenshots/.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uniqueName } from '../../api/test/harness.ts';
import { clipboardText, type DashboardKit, PASSWORD, startDashboardKit, waitForText } from './kit.ts';

let kit: DashboardKit;

beforeAll(async () => {
  kit = await startDashboardKit();
}, 180_000);
afterAll(() => kit?.close(), 60_000);
beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(kit?.describe())));

const TITLE = 'Order {{ order.id }} shipped';
const BODY = 'Hi {{ recipient.name | default("there") }},\nyour order <b>{{ order.id }}</b> is on its way.';
const BROKEN_BODY = 'Hi {{ recipient.name | default("there") }},\nyour order <b>{{ order.id | shout }}</b> is on its way.';
const SAMPLE = '{\n  "order": { "id": "A-1001" }\n}';

/** Clicks the page's Refresh until `check` holds: the notification page does not poll on its own. */
async function refreshUntil(page: Page, what: string, check: () => Promise<boolean>) {
  await kit.waitUntil(
    what,
    async () => {
      if (await check()) return true;
      const refresh = page.getByTestId('refresh');
      if (await refresh.isEnabled()) await refresh.click();
      await page.waitForTimeout(300);
      return false;
    },
    45_000,
  );
}

describe('a new user, through the dashboard', () => {
  it('signs up, creates a project, a key, a template, a webhook endpoint, sends a test and follows its timeline', async () => {
    const browser = await kit.newBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kit.origin });
    const email = `${uniqueName('grace')}@example.com`;

    // --- sign up: a new user has no project yet ---------------------------------------------------
    const page = await browser.open('/');
    await page.waitForURL(/\/login/);
    await page.getByTestId('signup-link').click();
    await page.getByTestId('signup-name').fill('Grace Hopper');
    await page.getByTestId('signup-email').fill(email);
    await page.getByTestId('signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();
    await page.waitForURL(/\/projects$/);
    await page.getByTestId('create-project-form').waitFor();
    expect(await page.getByTestId('user-email').textContent()).toContain('Grace Hopper');
    expect(await page.getByTestId('empty-state').textContent()).toContain('You are not in any project yet');
    await kit.screenshot(page, 'projects-empty');

    // --- create a project --------------------------------------------------------------------------
    await page.getByTestId('project-name').fill('Acme web app');
    await page.getByTestId('create-project').click();
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}\/development\/notifications$/);
    const projectId = /\/projects\/([0-9a-f-]{36})\//.exec(page.url())?.[1] ?? '';
    // The URL changes before the router's transition commits the new route: the project list's
    // topbar ("Pigeon") may still be up, so wait for the project's name rather than read once.
    await waitForText(page.getByTestId('topbar'), /Acme web app/);
    expect(await page.locator('.project-role').textContent()).toContain('Owner');
    await page.getByTestId('empty-state').filter({ hasText: 'No notifications yet' }).waitFor();
    await kit.screenshot(page, 'notifications-empty');

    // --- an API key: the secret is shown once, with a copy button -----------------------------------
    await page.getByTestId('nav-api-keys').click();
    await page.getByTestId('empty-state').filter({ hasText: 'No API keys yet' }).waitFor();
    await page.getByTestId('new-api-key').click();
    const keyDialog = page.getByTestId('create-key-dialog');
    await keyDialog.getByTestId('key-name').fill('billing backend');
    await keyDialog.getByTestId('create-key-submit').click();
    const apiKey = (await keyDialog.getByTestId('new-key-secret').getByTestId('secret-value').textContent())?.trim() ?? '';
    expect(apiKey).toMatch(/^sk_dev_[\w-]{20,}$/);
    const copyKey = keyDialog.getByRole('button', { name: 'Copy api key' });
    await copyKey.click();
    expect(await clipboardText(kit, page)).toBe(apiKey);
    await kit.screenshot(page, 'api-key-created');
    await keyDialog.getByTestId('key-done').click();
    const keyRow = page.getByTestId('api-key-row');
    await waitForText(keyRow, /billing backend/);
    expect(await keyRow.textContent()).toMatch(/sk_dev_[\w-]*….*never.*Active/);
    // Shown once: the list has only the prefix.
    expect(await page.content()).not.toContain(apiKey);
    // The server agrees the key is real and belongs to this development environment.
    const viaKey = await kit.gql('{ templates { key } }', {}, { authorization: `Bearer ${apiKey}` });
    expect(viaKey.body).toEqual({ data: { templates: [] } });
    await kit.screenshot(page, 'api-keys');

    // --- the environment switcher: production is marked, and scoped ---------------------------------
    await page.getByTestId('env-production').click();
    await page.waitForURL(new RegExp(`/projects/${projectId}/production/api-keys$`));
    await page.getByTestId('production-badge').waitFor();
    expect(await page.locator('.shell').getAttribute('data-env')).toBe('production');
    expect(await page.getByRole('note').textContent()).toContain('You are in production');
    expect(await page.getByTestId('env-production').getAttribute('aria-current')).toBe('page');
    // Production's keys are its own: the development key is not listed here.
    expect(await page.getByTestId('empty-state').textContent()).toContain('No API keys yet');
    await kit.screenshot(page, 'api-keys-production');
    await page.getByTestId('env-development').click();
    await page.waitForURL(new RegExp(`/projects/${projectId}/development/api-keys$`));
    await waitForText(page.getByTestId('api-key-row'), /billing backend/);
    expect(await page.getByTestId('production-badge').count()).toBe(0);
    expect(await page.getByRole('note').count()).toBe(0);

    // --- a template: live preview with sample data, an inline render error, then save ---------------
    await page.getByTestId('nav-templates').click();
    await page.getByTestId('empty-state').filter({ hasText: 'No templates in this environment' }).waitFor();
    await page.getByTestId('new-template').click();
    await page.getByTestId('template-key').fill('order-shipped');
    await page.getByTestId('template-name').fill('Order shipped');
    await page.getByTestId('template-category').fill('orders');
    await page.getByTestId('template-title').fill(TITLE);
    await page.getByTestId('template-body').fill(BODY);
    await page.getByTestId('sample-data').fill(SAMPLE);
    const preview = page.getByTestId('template-preview');
    await waitForText(preview.getByTestId('preview-title'), /^Order A-1001 shipped$/);
    await waitForText(preview.locator('.preview-status'), /Up to date/);
    // The sample recipient's name, and the body's markup kept (bold order id).
    expect(await preview.getByTestId('preview-body').textContent()).toBe('Hi Ada Lovelace,\nyour order A-1001 is on its way.');
    expect(await preview.getByTestId('preview-body').locator('b').textContent()).toBe('A-1001');
    await kit.screenshot(page, 'template-editor-preview');

    await page.getByTestId('template-body').fill(BROKEN_BODY);
    const renderError = page.getByTestId('preview-render-error');
    const renderMessage = await waitForText(renderError, /line 2/);
    expect(renderMessage).toMatch(/Cannot render\. Body, line 2, column \d+: .*shout/);
    // Inline at the body field, with the line marked in the editor's gutter.
    const bodyEditor = page.locator('.code-editor', { has: page.getByTestId('template-body') });
    const bodyField = page.locator('.field', { has: bodyEditor });
    expect(await bodyField.locator('.field-error').textContent()).toMatch(/^Body, line 2, column \d+: .*shout/);
    expect(await bodyEditor.locator('.gutter-line-error').allTextContents()).toEqual(['2']);
    expect(await page.getByTestId('template-body').getAttribute('aria-invalid')).toBe('true');
    // The last good render stays, marked stale.
    expect(await preview.locator('.preview-status').textContent()).toContain('Not rendered');
    expect(await page.getByTestId('preview-card').getAttribute('class')).toContain('preview-stale');
    await kit.screenshot(page, 'template-render-error');

    await page.getByTestId('template-body').fill(BODY);
    await waitForText(preview.locator('.preview-status'), /Up to date/);
    expect(await renderError.count()).toBe(0);
    expect(await bodyEditor.locator('.gutter-line-error').count()).toBe(0);
    await page.getByTestId('save-template').click();
    await page.waitForURL(/\/development\/templates\/order-shipped$/);
    await waitForText(page.getByTestId('template-saved'), /Template created\./);
    const saved = await kit.gql(
      '{ template(key: "order-shipped") { key name category title body } }',
      {},
      { authorization: `Bearer ${apiKey}` },
    );
    expect(saved.body).toEqual({
      data: { template: { key: 'order-shipped', name: 'Order shipped', category: 'orders', title: TITLE, body: BODY } },
    });
    await page.getByTestId('nav-templates').click();
    await waitForText(page.getByTestId('template-row'), /order-shipped.*Order shipped.*orders/);
    await kit.screenshot(page, 'templates');

    // --- a webhook endpoint at the local receiver, subscribed to every notification.* event ----------
    await page.getByTestId('nav-webhooks').click();
    await page.getByTestId('empty-state').filter({ hasText: 'No webhook endpoints' }).waitFor();
    await kit.screenshot(page, 'webhooks-empty');
    await page.getByTestId('new-endpoint').click();
    const endpointDialog = page.getByTestId('create-endpoint-dialog');
    await endpointDialog.getByTestId('endpoint-url').fill(kit.receiver.url);
    await endpointDialog.getByTestId('endpoint-description').fill('Local receiver');
    const notificationTypes = endpointDialog.locator('[data-testid^="event-type-notification."]');
    await notificationTypes.first().waitFor();
    const typeNames: string[] = [];
    for (const box of await notificationTypes.all()) {
      await box.check();
      typeNames.push(((await box.getAttribute('data-testid')) ?? '').replace('event-type-', ''));
    }
    expect(typeNames).toEqual(expect.arrayContaining(['notification.accepted', 'notification.delivered', 'notification.failed']));
    expect(await endpointDialog.getByTestId('event-type-endpoint.disabled').isChecked()).toBe(false);
    await endpointDialog.getByTestId('endpoint-submit').click();
    const signingSecret = (await endpointDialog.getByTestId('endpoint-secret').getByTestId('secret-value').textContent())?.trim() ?? '';
    expect(signingSecret).toMatch(/^whsec_/);
    expect(await endpointDialog.getByRole('button', { name: 'Copy signing secret' }).isVisible()).toBe(true);
    kit.receiver.setSecret(signingSecret);
    await kit.screenshot(page, 'webhook-endpoint-created');
    await endpointDialog.getByTestId('endpoint-done').click();
    const endpointRow = page.getByTestId('endpoint-row');
    await waitForText(endpointRow, new RegExp(`${kit.receiver.url}.*Local receiver.*${typeNames.length} event types.*Enabled`));
    await kit.screenshot(page, 'webhooks');

    // --- a test notification from the saved template -------------------------------------------------
    await page.getByTestId('nav-templates').click();
    await page.getByTestId('template-row').getByRole('link', { name: 'order-shipped' }).click();
    await page.waitForURL(/\/templates\/order-shipped$/);
    // The editor remembers this template's sample data, so the test sends the same order.
    await waitForText(page.getByTestId('preview-title'), /^Order A-1001 shipped$/);
    await page.getByTestId('test-recipient').fill('ada');
    await page.getByTestId('send-test').click();
    await waitForText(page.getByTestId('test-sent'), /Sent\./);
    await page.getByTestId('test-notification-link').click();
    await page.waitForURL(/\/development\/notifications\/[0-9a-f-]{36}$/);
    const notificationId = /notifications\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';

    // --- its timeline: accepted, delivered, and each webhook delivery with its attempt ---------------
    const timeline = page.getByTestId('timeline');
    const attempts = timeline.locator('[data-kind="attempt"]');
    await refreshUntil(page, 'the timeline to show delivery and both webhook attempts', async () => {
      const kinds = await timeline.getByTestId('timeline-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
      if (!kinds.includes('delivered') || kinds.filter((k) => k === 'attempt').length < 2) return false;
      const summaries = await attempts.locator('summary').allTextContents();
      return summaries.every((s) => s.includes('200'));
    });
    const kinds = await timeline.getByTestId('timeline-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    expect(kinds[0]).toBe('accepted');
    expect(kinds.filter((k) => k === 'accepted' || k === 'delivered')).toEqual(['accepted', 'delivered']);
    expect(kinds.filter((k) => k === 'webhook')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'attempt')).toHaveLength(2);
    const webhookTitles = await timeline.locator('[data-kind="webhook"] .timeline-title').allTextContents();
    expect(webhookTitles.sort()).toEqual(['Webhook notification.accepted queued', 'Webhook notification.delivered queued']);
    // What already happened reads as past (a stale page clock once showed "Delivered … (in 10 sec.)").
    const pastTimes = timeline.locator('[data-kind="accepted"], [data-kind="delivered"], [data-kind="attempt"]').locator('time');
    expect((await pastTimes.allTextContents()).filter((t) => /\bin \d/.test(t))).toEqual([]);
    expect(await page.getByTestId('rendered-title').textContent()).toBe('Order A-1001 shipped');
    expect(await page.getByTestId('rendered-body').textContent()).toBe('Hi there,\nyour order A-1001 is on its way.');
    expect(await page.locator('h1').textContent()).toContain('Delivered');

    // Open the delivered event's attempt: the request we sent and the receiver's answer.
    const deliveredAttempt = timeline.locator('[data-kind="attempt"]', { hasText: 'notification.delivered' });
    await deliveredAttempt.locator('summary').click();
    const exchange = deliveredAttempt.getByTestId('webhook-attempt');
    expect(await exchange.locator('summary').textContent()).toMatch(/Request and response.*200/);
    expect(await exchange.textContent()).toContain(`POST ${kit.receiver.url}`);
    const requestBody = JSON.parse((await exchange.getByTestId('attempt-request-body').textContent()) ?? '');
    expect(requestBody).toMatchObject({ type: 'notification.delivered', data: { id: notificationId } });
    expect(await exchange.textContent()).toMatch(/Status\s*200/);
    expect(await exchange.getByTestId('attempt-response-body').textContent()).toContain('ok');
    const shownWebhookId = await exchange.locator('tr', { hasText: 'webhook-id' }).locator('td').textContent();
    await kit.screenshot(page, 'notification-timeline');

    // The receiver really got both, signed with the secret the dashboard showed once.
    await kit.waitUntil('the receiver to get both events', () => kit.receiver.requests.length >= 2);
    const received = kit.receiver.requests.filter(
      (r) => r.event && 'data' in r.event && (r.event.data as { id?: string }).id === notificationId,
    );
    expect(kit.receiver.requests.map((r) => r.verifyError)).toEqual(kit.receiver.requests.map(() => null));
    expect(received.map((r) => r.event?.type).sort()).toEqual(['notification.accepted', 'notification.delivered']);
    expect(received.every((r) => r.path === '/hooks')).toBe(true);
    const deliveredRequest = received.find((r) => r.event?.type === 'notification.delivered');
    expect(deliveredRequest?.headers['webhook-id']).toBe(shownWebhookId);
    expect(JSON.parse(deliveredRequest?.body ?? '{}')).toEqual(requestBody);

    // --- the delivery, the endpoint and the deliveries log ------------------------------------------
    await timeline.locator('[data-kind="webhook"]', { hasText: 'notification.delivered' }).getByTestId('delivery-link').click();
    await page.waitForURL(/\/webhooks\/deliveries\/[0-9a-f-]{36}$/);
    await waitForText(page.locator('h1'), /notification\.delivered.*Succeeded/);
    expect(await page.getByTestId('webhook-attempt').count()).toBe(1);
    await kit.screenshot(page, 'webhook-delivery');

    await page.getByTestId('nav-webhooks').click();
    await page.getByTestId('endpoint-row').getByRole('link').click();
    await page.waitForURL(/\/webhooks\/endpoints\/[0-9a-f-]{36}$/);
    await page.getByTestId('deliveries-table').getByTestId('delivery-row').nth(1).waitFor();
    expect(await page.getByTestId('delivery-row').allTextContents()).toEqual([
      expect.stringMatching(/notification\.delivered.*Succeeded/),
      expect.stringMatching(/notification\.accepted.*Succeeded/),
    ]);
    expect((await page.getByTestId('delivery-row').allTextContents()).filter((t) => /\bin \d/.test(t))).toEqual([]);
    await kit.screenshot(page, 'webhook-endpoint');

    await page.getByTestId('nav-webhooks').click();
    await page.getByTestId('tab-deliveries').click();
    await page.waitForURL(/\/webhooks\/deliveries$/);
    await page.getByTestId('delivery-row').nth(1).waitFor();
    await kit.screenshot(page, 'webhook-deliveries');

    // --- the notifications log, the recipient, settings, the project list ----------------------------
    await page.getByTestId('nav-notifications').click();
    const notificationRow = page.getByTestId('notification-row');
    await waitForText(notificationRow, /ada.*Order A-1001 shipped.*order-shipped.*Delivered/);
    await kit.screenshot(page, 'notifications');

    await page.getByTestId('nav-recipients').click();
    await waitForText(page.getByTestId('recipient-row'), /ada/);
    await kit.screenshot(page, 'recipients');
    await page.getByTestId('recipient-row').click();
    await page.waitForURL(/\/recipients\/ada$/);
    await waitForText(page.getByTestId('notification-row'), /Order A-1001 shipped/);
    expect(await page.getByTestId('unread-count').textContent()).toContain('1');
    await kit.screenshot(page, 'recipient-detail');

    await page.getByTestId('nav-settings').click();
    await page.getByTestId('environment-id').waitFor();
    await kit.screenshot(page, 'settings');

    await page.getByTestId('project-picker').selectOption('__all');
    await page.waitForURL(/\/projects$/);
    await waitForText(page.getByTestId('project-link'), /Acme web app.*Owner/);
    await kit.screenshot(page, 'projects');

    browser.assertNoErrors();
    await browser.close();
  }, 240_000);
});
