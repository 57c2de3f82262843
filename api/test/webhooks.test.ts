// Webhooks end to end: events → delivery rows → the real worker → signed POSTs to real receivers on
// loopback, retries, the attempt log, endpoint health (410, auto-disable), rotation, manual
// redelivery and recovery, validation, tenancy and retention. Schedules are compressed through the
// same WEBHOOK_* settings production reads; timing assertions are lower bounds only.
import { pruneWebhookLog, type WebhookSettings, type WorkerRuntime, webhookSettings } from '@pigeon/worker';
import { parseAllowList } from '@pigeon/worker/webhooks/target';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, mintClientToken, startTestWorker, type Tenant, type TestApi, uniqueName } from './harness.ts';
import {
  type Behaviour,
  createEndpoint,
  eventually,
  getDelivery,
  gqlData,
  isFinished,
  listDeliveries,
  type Receiver,
  sendNotification,
  sendTestEvent,
  sleep,
  startReceiver,
  verifies,
  type WebhookDeliveryView,
  type WebhookTestApi,
  waitForDeliveries,
  waitForDelivery,
  webhookTestApi,
} from './webhook-kit.ts';

const ENV = {
  WEBHOOK_RETRY_SCHEDULE: '0s,300ms,600ms',
  WEBHOOK_RETRY_JITTER: '0',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_MAX_RESPONSE_BYTES: '1024',
  WEBHOOK_RETRY_AFTER_MAX_MS: '2500',
};

const NOTIFICATION_EVENTS = [
  'notification.accepted',
  'notification.delivered',
  'notification.failed',
  'notification.seen',
  'notification.read',
  'notification.unread',
  'notification.archived',
  'notification.unarchived',
] as const;

let t: WebhookTestApi;
let api: TestApi;
let tenant: Tenant;
/** The development environment's API key. */
let dev: Record<string, string>;
/** The same project's production environment. */
let prod: Record<string, string>;

beforeAll(async () => {
  t = await webhookTestApi(ENV, { worker: false });
  api = t.api;
  tenant = t.tenant;
  dev = bearer(tenant.apiKey);
  prod = bearer(tenant.productionApiKey);
});
afterAll(() => t?.stop());

// Every test registers what it opens; afterEach deletes its endpoints (which also stops their
// pending retries) before closing its receivers.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function receiver(behaviour: Behaviour | readonly Behaviour[] = 'ok'): Promise<Receiver> {
  const r = await startReceiver(behaviour);
  cleanups.push(() => r.close());
  return r;
}

/** An endpoint for `target` (the receiver then verifies with its secret), deleted after the test. */
async function endpoint(target: Receiver | string, eventTypes: readonly string[], headers = dev) {
  const created = await createEndpoint(api, headers, { url: typeof target === 'string' ? target : target.url, eventTypes });
  if (typeof target !== 'string') target.setSecrets(created.secret);
  cleanups.push(() => api.gql(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }`, { id: created.id }, headers));
  return created;
}

/** Runs a worker (with the API's settings plus `overrides`) for the tests of one describe block. */
function useWorker(overrides: () => Partial<Parameters<WebhookTestApi['startWorker']>[0]> = () => ({})) {
  let worker: WorkerRuntime | null = null;
  beforeAll(async () => {
    worker = await t.startWorker(overrides());
  });
  afterAll(async () => {
    await worker?.stop();
  });
}

const ENDPOINT_FIELDS = 'id url enabled disabledAt disabledReason eventTypes failingSince previousSecretExpiresAt';

async function getEndpoint(id: string, headers = dev) {
  const data = await gqlData(api, `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT_FIELDS} } }`, { id }, headers);
  return data.webhookEndpoint;
}

async function endpointEvents(headers = dev): Promise<Array<{ endpointId: string; type: string; reason: string | null }>> {
  const data = await gqlData(
    api,
    `{ webhookEndpointEvents(first: 100) { edges { node { endpointId type reason createdAt } } } }`,
    {},
    headers,
  );
  return data.webhookEndpointEvents.edges.map((e: { node: unknown }) => e.node);
}

async function mutate(field: string, args: string, selection: string, variables: Record<string, unknown>, headers = dev) {
  const data = await gqlData(
    api,
    `mutation(${args}) { r: ${field} { __typename ${selection} ... on Error { code message } } }`,
    variables,
    headers,
  );
  return data.r;
}

const disable = (id: string, reason?: string) =>
  mutate(
    'disableWebhookEndpoint(id: $id, reason: $reason)',
    '$id: ID!, $reason: String',
    '... on DisableWebhookEndpointSuccess { endpoint { id enabled } }',
    {
      id,
      reason,
    },
  );
const enable = (id: string) =>
  mutate('enableWebhookEndpoint(id: $id)', '$id: ID!', `... on EnableWebhookEndpointSuccess { endpoint { ${ENDPOINT_FIELDS} } }`, { id });

async function notificationStatuses(ids: readonly string[]) {
  return eventually(
    () => api.db.prisma.notification.findMany({ where: { id: { in: [...ids] } }, select: { id: true, status: true } }),
    (rows) => rows.length === ids.length && rows.every((n) => n.status !== 'ACCEPTED'),
    `notifications ${ids.join(', ')} to be rendered`,
  );
}

/** The one delivery of an endpoint, once it is finished. */
async function onlyDelivery(endpointId: string, timeoutMs?: number): Promise<WebhookDeliveryView> {
  const [d] = await waitForDeliveries(api, dev, { endpointId }, (l) => l.length === 1 && isFinished(l[0]), { timeoutMs });
  return d as WebhookDeliveryView;
}

function expectIsoNear(value: string, ms = 60_000) {
  expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(Math.abs(Date.parse(value) - Date.now())).toBeLessThan(ms);
}

describe('with the worker', () => {
  useWorker();

  describe('events', () => {
    it('lists the event types endpoints can subscribe to', async () => {
      const data = await gqlData(api, '{ webhookEventTypes { name description } }', {}, dev);
      expect(data.webhookEventTypes.map((e: { name: string }) => e.name).sort()).toEqual(
        [...NOTIFICATION_EVENTS, 'endpoint.disabled'].sort(),
      );
    });

    it('every notification event reaches a subscribed endpoint, signed, with the notification as data; others get nothing', async () => {
      const all = await receiver();
      const allEndpoint = await endpoint(all, NOTIFICATION_EVENTS);
      const readOnly = await receiver();
      const readOnlyEndpoint = await endpoint(readOnly, ['notification.read']);
      // Same project, other environment: subscribed to everything, must see nothing.
      const production = await receiver();
      const productionEndpoint = await endpoint(production, [...NOTIFICATION_EVENTS, 'endpoint.disabled'], prod);

      const created = await gqlData(
        api,
        `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Error { message } } }`,
        { input: { key: 'wh-needs-name', title: 'Hello {{ name }}', body: 'x' } },
        dev,
      );
      expect(created.createTemplate.__typename).toBe('CreateTemplateSuccess');

      const externalId = uniqueName('wh-events');
      const delivered = await sendNotification(api, dev, { to: externalId, title: 'One', body: 'first', data: { order: 7 } });
      // The template refers to a variable the data lacks: rendering fails at runtime.
      const failed = await sendNotification(api, dev, { to: externalId, template: 'wh-needs-name', data: {} });
      expect(await notificationStatuses([delivered, failed])).toEqual(
        expect.arrayContaining([
          { id: delivered, status: 'DELIVERED' },
          { id: failed, status: 'FAILED' },
        ]),
      );

      const client = bearer((await mintClientToken(api, tenant.apiKey, externalId)).token);
      for (const action of ['markSeen', 'markRead', 'markUnread', 'archive', 'unarchive']) {
        const r = await gqlData(
          api,
          `mutation($ids: [ID!]!) { r: ${action}(ids: $ids) { __typename ... on InboxChange { changedCount } ... on Error { message } } }`,
          { ids: [delivered] },
          client,
        );
        expect(r.r, action).toEqual({ __typename: 'InboxChange', changedCount: 1 });
      }

      const deliveries = await waitForDeliveries(api, dev, { endpointId: allEndpoint.id }, (l) => l.length === 9 && l.every(isFinished));
      expect(deliveries.map((d) => d.eventType).sort()).toEqual(
        [...NOTIFICATION_EVENTS, 'notification.accepted'].sort(), // two sends: two accepted
      );
      expect(all.requests).toHaveLength(9);
      for (const d of deliveries) {
        expect(d.status, d.eventType).toBe('SUCCEEDED');
        const request = all.requests.find((r) => r.headers['webhook-id'] === d.id);
        expect(request, d.eventType).toBeDefined();
        if (!request) continue;
        expect(request.verified, d.eventType).toBe(true);
        // The body is the stored payload text, byte for byte.
        expect(request.body).toBe(d.attempts[0]?.requestBody);
        expect(JSON.parse(request.body)).toEqual(d.payload);
        expect(d.payload.type).toBe(d.eventType);
        expectIsoNear(d.payload.timestamp);
        expect(d.payload.data).toMatchObject({ environmentId: tenant.developmentId, recipient: { id: externalId } });
      }

      const byType = (type: string, id = delivered) =>
        deliveries.filter((d) => d.eventType === type && d.payload.data.id === id).map((d) => d.payload.data);
      expect(byType('notification.accepted', delivered)).toMatchObject([{ status: 'ACCEPTED', title: 'One', data: { order: 7 } }]);
      expect(byType('notification.accepted', failed)).toMatchObject([{ status: 'ACCEPTED', template: 'wh-needs-name' }]);
      expect(byType('notification.delivered')).toMatchObject([{ status: 'DELIVERED', title: 'One', body: 'first' }]);
      expect(byType('notification.delivered')[0]?.deliveredAt).toEqual(expect.any(String));
      const [failure] = byType('notification.failed', failed);
      expect(failure).toMatchObject({ status: 'FAILED', template: 'wh-needs-name' });
      expect(failure?.failureReason).toMatch(/wh-needs-name/);
      expect(byType('notification.seen')[0]?.seenAt).toEqual(expect.any(String));
      expect(byType('notification.read')[0]?.readAt).toEqual(expect.any(String));
      expect(byType('notification.unread')[0]?.readAt).toBeNull();
      expect(byType('notification.archived')[0]?.archivedAt).toEqual(expect.any(String));
      expect(byType('notification.unarchived')[0]?.archivedAt).toBeNull();
      // The notification lists its deliveries too.
      const n = await gqlData(
        api,
        `query($id: ID!) { notification(id: $id) { webhookDeliveries(first: 100) { edges { node { eventType } } } } }`,
        { id: failed },
        dev,
      );
      expect(n.notification.webhookDeliveries.edges.map((e: any) => e.node.eventType).sort()).toEqual([
        'notification.accepted',
        'notification.failed',
      ]);

      // The filters narrow by event type and status, within the endpoint.
      const filtered = await listDeliveries(api, dev, { endpointId: allEndpoint.id, eventType: 'notification.accepted' });
      expect(filtered.map((d) => d.payload.data.id).sort()).toEqual([delivered, failed].sort());
      expect(await listDeliveries(api, dev, { endpointId: allEndpoint.id, status: 'FAILED' })).toEqual([]);
      expect(await listDeliveries(api, dev, { endpointId: allEndpoint.id, notificationId: failed })).toHaveLength(2);
      // Recipients (client tokens) never see the webhook log of their notifications.
      const own = await api.gql(
        `{ inbox { notifications { edges { node { id webhookDeliveries { edges { node { id } } } } } } } }`,
        {},
        client,
      );
      const nodes = own.body.data?.inbox?.notifications?.edges ?? [];
      expect(nodes.length).toBeGreaterThan(0);
      for (const edge of nodes) expect(edge.node.webhookDeliveries).toBeNull();

      // Subscribed to read only: exactly the one read event.
      const [read] = await waitForDeliveries(api, dev, { endpointId: readOnlyEndpoint.id }, (l) => l.length === 1 && l.every(isFinished));
      expect(read).toMatchObject({ eventType: 'notification.read', status: 'SUCCEEDED' });
      expect(readOnly.requests.map((r) => JSON.parse(r.body).type)).toEqual(['notification.read']);

      // Deliveries are written in the event's transaction: no row now means none ever.
      expect(await listDeliveries(api, prod, { endpointId: productionEndpoint.id })).toEqual([]);
      expect(await listDeliveries(api, dev, { endpointId: productionEndpoint.id })).toEqual([]);
      expect(production.requests).toEqual([]);
    });

    it('markAllRead sends one notification.read per notification it changed', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const externalId = uniqueName('wh-all-read');
      const ids = await Promise.all([1, 2, 3].map((i) => sendNotification(api, dev, { to: externalId, title: `n${i}`, body: 'b' })));
      await notificationStatuses(ids);
      const client = bearer((await mintClientToken(api, tenant.apiKey, externalId)).token);
      const change = await gqlData(api, `mutation { markAllRead { ... on InboxChange { changedCount } } }`, {}, client);
      expect(change.markAllRead.changedCount).toBe(3);

      const deliveries = await waitForDeliveries(api, dev, { endpointId: e.id }, (l) => l.length === 3 && l.every(isFinished));
      expect(deliveries.map((d) => d.payload.data.id).sort()).toEqual([...ids].sort());
      for (const d of deliveries) expect(d).toMatchObject({ eventType: 'notification.read', status: 'SUCCEEDED' });
      expect(new Set(r.requests.map((q) => q.headers['webhook-id'])).size).toBe(3);
      expect(r.requests.every((q) => q.verified)).toBe(true);
    });

    it('markAllSeen sends one notification.seen per notification it changed', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.seen']);
      const externalId = uniqueName('wh-all-seen');
      const ids = await Promise.all([1, 2].map((i) => sendNotification(api, dev, { to: externalId, title: `n${i}`, body: 'b' })));
      await notificationStatuses(ids);
      const client = bearer((await mintClientToken(api, tenant.apiKey, externalId)).token);
      const change = await gqlData(api, `mutation { markAllSeen { ... on InboxChange { changedCount } } }`, {}, client);
      expect(change.markAllSeen.changedCount).toBe(2);
      const deliveries = await waitForDeliveries(api, dev, { endpointId: e.id }, (l) => l.length === 2 && l.every(isFinished));
      expect(deliveries.map((d) => d.payload.data.id).sort()).toEqual([...ids].sort());
      for (const d of deliveries) expect(d).toMatchObject({ eventType: 'notification.seen', status: 'SUCCEEDED' });
    });
  });

  describe('retries and the attempt log', () => {
    it('keeps webhook-id, body and a valid signature across retries', async () => {
      const r = await receiver([500, 500, 'ok']);
      const e = await endpoint(r, ['notification.accepted']);
      const before = Math.floor(Date.now() / 1000);
      const notificationId = await sendNotification(api, dev, { to: uniqueName('wh-retry'), title: 'Retry', body: 'me' });
      const d = await onlyDelivery(e.id);
      const after = Math.ceil(Date.now() / 1000);

      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 3, webhookId: d.id, notification: { id: notificationId } });
      expect(r.requests).toHaveLength(3);
      const [first] = r.requests;
      for (const request of r.requests) {
        expect(request.method).toBe('POST');
        expect(request.path).toBe('/hook');
        expect(request.headers['webhook-id']).toBe(d.id);
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.body).toBe(first?.body);
        expect(request.verified).toBe(true);
        const timestamp = request.headers['webhook-timestamp'] ?? '';
        expect(timestamp).toMatch(/^\d{10}$/);
        expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
        expect(Number(timestamp)).toBeLessThanOrEqual(after);
        expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      }
      expect(JSON.parse(first?.body ?? '')).toEqual(d.payload);
    });

    it('records every attempt: request, response, duration and trigger', async () => {
      const r = await receiver([
        { kind: 'status', status: 500, body: 'first failure', headers: { 'x-receiver': 'one' } },
        { kind: 'status', status: 502, body: 'second failure' },
        { kind: 'status', status: 200, body: 'thanks' },
      ]);
      const e = await endpoint(r, ['notification.accepted']);
      await sendNotification(api, dev, { to: uniqueName('wh-log'), title: 'Log', body: 'me' });
      const d = await onlyDelivery(e.id);

      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 3, failureReason: null, nextAttemptAt: null });
      expect(d.completedAt).toEqual(expect.any(String));
      expect(d.attempts.map((a) => [a.trigger, a.responseStatus, a.responseBody, a.errorClass, a.responseBodyTruncated])).toEqual([
        ['SCHEDULED', 500, 'first failure', null, false],
        ['SCHEDULED', 502, 'second failure', null, false],
        ['SCHEDULED', 200, 'thanks', null, false],
      ]);
      expect(d.attempts[0]?.responseHeaders).toMatchObject({ 'x-receiver': 'one', 'content-type': 'text/plain' });
      d.attempts.forEach((a, i) => {
        const request = r.requests[i];
        expect(a.url).toBe(r.url);
        expect(a.durationMs).toBeGreaterThanOrEqual(0);
        expect(a.requestBody).toBe(request?.body);
        expect(a.requestHeaders).toMatchObject({
          'webhook-id': d.id,
          'webhook-timestamp': request?.headers['webhook-timestamp'],
          'webhook-signature': request?.headers['webhook-signature'],
          'content-type': 'application/json',
        });
        expect(Date.parse(a.startedAt)).toBeLessThanOrEqual(request?.receivedAt.getTime() ?? 0);
      });
      expect(d.lastAttemptAt).toBe(d.attempts[2]?.startedAt);
    });

    it('follows the schedule, then fails with the last status as the reason', async () => {
      const r = await receiver(500);
      const e = await endpoint(r, ['notification.read']);
      const id = await sendTestEvent(api, dev, e.id);
      const d = await waitForDelivery(api, dev, id);

      expect(d).toMatchObject({ status: 'FAILED', attemptCount: 3 });
      expect(d.failureReason).toMatch(/3 scheduled attempts/);
      expect(d.failureReason).toMatch(/HTTP 500/);
      expect(d.attempts.map((a) => a.responseStatus)).toEqual([500, 500, 500]);
      const [a0, a1, a2] = r.requests.map((q) => q.at) as [number, number, number];
      // Schedule 0s, 300ms, 600ms: each retry waits at least its entry (lower bounds only).
      expect(a1 - a0).toBeGreaterThanOrEqual(295);
      expect(a2 - a1).toBeGreaterThanOrEqual(595);
      // Exhausted means exhausted: nothing more comes.
      await sleep(800);
      expect(r.requests).toHaveLength(3);
    });
  });

  describe('receivers that misbehave', () => {
    it('an answer that never comes is a timeout; the next attempt goes on', async () => {
      const r = await receiver(['hang', 'ok']);
      const e = await endpoint(r, ['notification.read']);
      const id = await sendTestEvent(api, dev, e.id);
      // WEBHOOK_TIMEOUT_MS is 1000: the first attempt ends well within 8 s.
      const d = await waitForDelivery(api, dev, id, isFinished, { timeoutMs: 8_000 });
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
      expect(d.attempts[0]).toMatchObject({ errorClass: 'timeout', responseStatus: null, responseBody: null });
      expect(d.attempts[0]?.errorMessage).toMatch(/1000 ms/);
      expect(d.attempts[0]?.durationMs).toBeGreaterThanOrEqual(990);
      expect(d.attempts[1]?.responseStatus).toBe(200);
    });

    it('a reset connection is connection_reset; a closed port is connection_refused', async () => {
      const r = await receiver(['reset', 'ok']);
      const e = await endpoint(r, ['notification.read']);
      const closed = await startReceiver();
      await closed.close();
      const refused = await endpoint(closed.url, ['notification.read']);

      const [reset, refusal] = await Promise.all([sendTestEvent(api, dev, e.id), sendTestEvent(api, dev, refused.id)]);
      const d = await waitForDelivery(api, dev, reset);
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
      expect(d.attempts[0]).toMatchObject({ errorClass: 'connection_reset', responseStatus: null });
      const f = await waitForDelivery(api, dev, refusal);
      expect(f).toMatchObject({ status: 'FAILED', attemptCount: 3 });
      expect(f.attempts.map((a) => a.errorClass)).toEqual(['connection_refused', 'connection_refused', 'connection_refused']);
      expect(f.failureReason).toMatch(/connection_refused/);
    });

    it('a slow answer within the timeout succeeds', async () => {
      const r = await receiver({ kind: 'slow-ok', delayMs: 400 });
      const e = await endpoint(r, ['notification.read']);
      const d = await waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id));
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
      expect(d.attempts[0]).toMatchObject({ responseStatus: 200, responseBody: 'ok (slow)', errorClass: null });
      expect(d.attempts[0]?.durationMs).toBeGreaterThanOrEqual(390);
    });

    it('keeps only the first WEBHOOK_MAX_RESPONSE_BYTES of a big response', async () => {
      const r = await receiver({ kind: 'status', status: 200, body: 'x'.repeat(200_000) });
      const e = await endpoint(r, ['notification.read']);
      const d = await waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id));
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
      expect(d.attempts[0]).toMatchObject({ responseStatus: 200, responseBodyTruncated: true, responseBody: 'x'.repeat(1024) });
    });

    it('does not follow redirects', async () => {
      const elsewhere = await receiver();
      const r = await receiver({ kind: 'redirect', location: elsewhere.url });
      const e = await endpoint(r, ['notification.read']);
      const d = await waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id));
      expect(d).toMatchObject({ status: 'FAILED', attemptCount: 3 });
      expect(d.attempts[0]).toMatchObject({ responseStatus: 302, responseHeaders: expect.objectContaining({ location: elsewhere.url }) });
      expect(elsewhere.requests).toEqual([]);
    });
  });

  describe('endpoint health', () => {
    it('waits at least Retry-After after a 429, and at most WEBHOOK_RETRY_AFTER_MAX_MS after a 503', async () => {
      const polite = await receiver([{ kind: 'retry-after', seconds: 2 }, 'ok']);
      const greedy = await receiver([{ kind: 'retry-after', status: 503, seconds: 3600 }, 'ok']);
      const politeEndpoint = await endpoint(polite, ['notification.read']);
      const greedyEndpoint = await endpoint(greedy, ['notification.read']);
      const [p, g] = await Promise.all([sendTestEvent(api, dev, politeEndpoint.id), sendTestEvent(api, dev, greedyEndpoint.id)]);

      const d = await waitForDelivery(api, dev, p);
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
      expect(d.attempts[0]).toMatchObject({ responseStatus: 429, responseHeaders: expect.objectContaining({ 'retry-after': '2' }) });
      const [p0, p1] = polite.requests;
      expect((p1?.at ?? 0) - (p0?.at ?? 0)).toBeGreaterThanOrEqual(1900);

      // Retry-After: 3600 is clamped to 2.5 s (WEBHOOK_RETRY_AFTER_MAX_MS), so it comes within the wait.
      const h = await waitForDelivery(api, dev, g, isFinished, { timeoutMs: 10_000 });
      expect(h).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
      const [g0, g1] = greedy.requests;
      expect((g1?.at ?? 0) - (g0?.at ?? 0)).toBeGreaterThanOrEqual(2450);
    });

    it('410 Gone disables the endpoint, tells the subscribers of endpoint.disabled, and enabling restores deliveries', async () => {
      const gone = await receiver(410);
      const goneEndpoint = await endpoint(gone, ['notification.accepted']);
      const watcher = await receiver();
      const watcherEndpoint = await endpoint(watcher, ['endpoint.disabled']);
      const otherEnvironment = await endpoint(await receiver(), ['endpoint.disabled'], prod);

      const d = await waitForDelivery(api, dev, await sendTestEvent(api, dev, goneEndpoint.id));
      expect(d).toMatchObject({ status: 'FAILED', attemptCount: 1 });
      expect(d.failureReason).toMatch(/410/);
      const disabled = await getEndpoint(goneEndpoint.id);
      expect(disabled).toMatchObject({ enabled: false, disabledReason: 'The endpoint answered 410 Gone.' });
      expect(disabled.disabledAt).toEqual(expect.any(String));
      expect(await endpointEvents()).toContainEqual(
        expect.objectContaining({ endpointId: goneEndpoint.id, type: 'endpoint.disabled', reason: 'The endpoint answered 410 Gone.' }),
      );

      const notice = await onlyDelivery(watcherEndpoint.id);
      expect(notice).toMatchObject({ eventType: 'endpoint.disabled', status: 'SUCCEEDED' });
      expect(watcher.requests).toHaveLength(1);
      expect(watcher.requests[0]?.verified).toBe(true);
      expect(JSON.parse(watcher.requests[0]?.body ?? '')).toMatchObject({
        type: 'endpoint.disabled',
        data: { endpointId: goneEndpoint.id, url: gone.url, reason: 'The endpoint answered 410 Gone.', disabledAt: disabled.disabledAt },
      });
      expect(await listDeliveries(api, prod, { endpointId: otherEnvironment.id })).toEqual([]);
      expect((await endpointEvents(prod)).map((x) => x.endpointId)).not.toContain(goneEndpoint.id);

      // While disabled: new events do not fan out to it, and nothing can be sent by hand.
      await sendNotification(api, dev, { to: uniqueName('wh-gone'), title: 'x', body: 'y' });
      expect(await listDeliveries(api, dev, { endpointId: goneEndpoint.id })).toHaveLength(1);
      const refusedTest = await mutate('sendWebhookTestEvent(id: $id)', '$id: ID!', '', { id: goneEndpoint.id });
      expect(refusedTest).toMatchObject({ __typename: 'ValidationError', message: expect.any(String) });
      expect(await mutate('redeliverWebhook(id: $id)', '$id: ID!', '', { id: d.id })).toMatchObject({ __typename: 'ValidationError' });

      const enabled = await enable(goneEndpoint.id);
      expect(enabled).toMatchObject({
        __typename: 'EnableWebhookEndpointSuccess',
        endpoint: { enabled: true, disabledAt: null, disabledReason: null },
      });
      const events = (await endpointEvents()).filter((e) => e.endpointId === goneEndpoint.id);
      expect(events.map((e) => e.type)).toEqual(['endpoint.enabled', 'endpoint.disabled']); // newest first

      gone.setBehaviour('ok');
      const notificationId = await sendNotification(api, dev, { to: uniqueName('wh-back'), title: 'back', body: 'again' });
      const back = await waitForDeliveries(
        api,
        dev,
        { endpointId: goneEndpoint.id, notificationId },
        (l) => l.length === 1 && l.every(isFinished),
      );
      expect(back[0]).toMatchObject({ eventType: 'notification.accepted', status: 'SUCCEEDED' });
      // The watcher heard of the disable once; enabling is not an endpoint.disabled event.
      expect(watcher.requests).toHaveLength(1);
    });

    it('disabling by hand fails the pending deliveries; after enabling, recover resends them', async () => {
      const r = await receiver(500);
      const e = await endpoint(r, ['notification.read']);
      const since = new Date();
      const id = await sendTestEvent(api, dev, e.id);
      await waitForDelivery(api, dev, id, (d) => d.attemptCount >= 1);
      expect(await disable(e.id, 'maintenance window')).toMatchObject({ endpoint: { id: e.id, enabled: false } });
      // Failed at once, or (when a retry was in flight) as soon as that attempt is recorded.
      const d = await waitForDelivery(api, dev, id);
      expect(d).toMatchObject({ status: 'FAILED', failureReason: 'The endpoint is disabled.', nextAttemptAt: null });
      // The request count is the attempt count: the disabled endpoint was not called again.
      expect(r.requests).toHaveLength(d.attemptCount);
      expect(await endpointEvents()).toContainEqual(
        expect.objectContaining({ endpointId: e.id, type: 'endpoint.disabled', reason: 'maintenance window' }),
      );
      const refused = await mutate('recoverWebhookDeliveries(id: $id, since: $since)', '$id: ID!, $since: DateTime!', '', {
        id: e.id,
        since: since.toISOString(),
      });
      expect(refused.__typename).toBe('ValidationError');

      expect(await enable(e.id)).toMatchObject({ endpoint: { enabled: true } });
      r.setBehaviour('ok');
      const recovered = await mutate(
        'recoverWebhookDeliveries(id: $id, since: $since)',
        '$id: ID!, $since: DateTime!',
        '... on RecoverWebhookDeliveriesSuccess { recovered { count } }',
        { id: e.id, since: since.toISOString() },
      );
      expect(recovered).toMatchObject({ recovered: { count: 1 } });
      const resent = await waitForDelivery(api, dev, id, (x) => x.attemptCount === d.attemptCount + 1 && isFinished(x));
      expect(resent.status).toBe('SUCCEEDED');
      expect(resent.attempts.at(-1)?.trigger).toBe('MANUAL');
      expect(r.requests.at(-1)?.headers['webhook-id']).toBe(id);
    });
  });

  describe('secrets', () => {
    it('during a rotation grace period requests carry both signatures; with no grace only the new one', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const original = e.secret;
      expect(original).toMatch(/^whsec_/);

      const rotate = async (graceSeconds: number) => {
        const result = await mutate(
          'rotateWebhookEndpointSecret(id: $id, graceSeconds: $grace)',
          '$id: ID!, $grace: Int',
          '... on RotatedWebhookEndpointSecret { secret endpoint { previousSecretExpiresAt } }',
          { id: e.id, grace: graceSeconds },
        );
        expect(result.__typename).toBe('RotatedWebhookEndpointSecret');
        return result as { secret: string; endpoint: { previousSecretExpiresAt: string | null } };
      };
      const reveal = async () =>
        (await mutate(
          'revealWebhookEndpointSecret(id: $id)',
          '$id: ID!',
          '... on WebhookEndpointSecret { secret previousSecret previousSecretExpiresAt }',
          { id: e.id },
        )) as { secret: string; previousSecret: string | null; previousSecretExpiresAt: string | null };
      const deliverOne = async () => {
        const id = await sendTestEvent(api, dev, e.id);
        await waitForDelivery(api, dev, id);
        const request = r.requests.find((q) => q.headers['webhook-id'] === id);
        if (!request) throw new Error(`no request for ${id}`);
        return request;
      };

      const graced = await rotate(60);
      expect(graced.secret).toMatch(/^whsec_/);
      expect(graced.secret).not.toBe(original);
      expect(Date.parse(graced.endpoint.previousSecretExpiresAt ?? '') - Date.now()).toBeGreaterThan(50_000);
      expect(await reveal()).toMatchObject({ secret: graced.secret, previousSecret: original });
      const during = await deliverOne();
      const signatures = (during.headers['webhook-signature'] ?? '').split(' ');
      expect(signatures).toHaveLength(2);
      // The new secret's signature comes first.
      const timestamp = new Date(Number(during.headers['webhook-timestamp']) * 1000);
      expect(signatures[0]).toBe(new Webhook(graced.secret).sign(during.headers['webhook-id'] ?? '', timestamp, during.body));
      expect(signatures[1]).toBe(new Webhook(original).sign(during.headers['webhook-id'] ?? '', timestamp, during.body));
      expect(verifies(during, original)).toBe(true);
      expect(verifies(during, graced.secret)).toBe(true);

      const immediate = await rotate(0);
      expect(immediate.endpoint.previousSecretExpiresAt).toBeNull();
      expect(await reveal()).toEqual({
        __typename: 'WebhookEndpointSecret',
        secret: immediate.secret,
        previousSecret: null,
        previousSecretExpiresAt: null,
      });
      const after = await deliverOne();
      expect((after.headers['webhook-signature'] ?? '').split(' ')).toHaveLength(1);
      expect(verifies(after, immediate.secret)).toBe(true);
      expect(verifies(after, graced.secret)).toBe(false);
      expect(verifies(after, original)).toBe(false);

      for (const grace of [-1, 7 * 86_400 + 1]) {
        const refused = await mutate('rotateWebhookEndpointSecret(id: $id, graceSeconds: $grace)', '$id: ID!, $grace: Int', '', {
          id: e.id,
          grace,
        });
        expect(refused.__typename, String(grace)).toBe('ValidationError');
      }
      expect((await reveal()).secret).toBe(immediate.secret);
    });

    it('sendWebhookTestEvent delivers webhook.test whatever the endpoint subscribes to, and is refused when disabled', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const custom = await waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id, { hello: 'world' }));
      expect(custom).toMatchObject({ eventType: 'webhook.test', status: 'SUCCEEDED', notification: null });
      const plain = await waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id));
      expect(plain.payload.data).toMatchObject({ endpointId: e.id, message: expect.any(String) });
      expect(r.events()).toEqual([
        { type: 'webhook.test', timestamp: expect.any(String), data: { hello: 'world' } },
        { type: 'webhook.test', timestamp: expect.any(String), data: plain.payload.data },
      ]);
      expect(r.requests.every((q) => q.verified)).toBe(true);

      for (const data of [[1, 2], 'text', { big: 'x'.repeat(17 * 1024) }]) {
        const bad = await mutate('sendWebhookTestEvent(id: $id, data: $data)', '$id: ID!, $data: JSON', '', { id: e.id, data });
        expect(bad.__typename, JSON.stringify(data).slice(0, 20)).toBe('ValidationError');
      }

      await disable(e.id);
      const refused = await mutate('sendWebhookTestEvent(id: $id)', '$id: ID!', '', { id: e.id });
      expect(refused.__typename).toBe('ValidationError');
      expect(refused.message).toEqual(expect.any(String));
      expect(r.requests).toHaveLength(2);
    });
  });

  describe('redelivery and recovery', () => {
    it('redeliverWebhook makes one MANUAL attempt with the same webhook-id and body', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const id = await sendTestEvent(api, dev, e.id);
      await waitForDelivery(api, dev, id);
      const redelivered = await mutate('redeliverWebhook(id: $id)', '$id: ID!', '... on RedeliverWebhookSuccess { delivery { id } }', {
        id,
      });
      expect(redelivered).toMatchObject({ __typename: 'RedeliverWebhookSuccess', delivery: { id } });
      const d = await waitForDelivery(api, dev, id, (x) => x.attemptCount === 2 && isFinished(x));
      expect(d.status).toBe('SUCCEEDED');
      expect(d.attempts.map((a) => a.trigger)).toEqual(['SCHEDULED', 'MANUAL']);
      expect(r.requests).toHaveLength(2);
      expect(r.requests[1]?.headers['webhook-id']).toBe(id);
      expect(r.requests[1]?.body).toBe(r.requests[0]?.body);
      expect(r.requests[1]?.verified).toBe(true);
      // One attempt, not a new schedule.
      await sleep(400);
      expect(r.requests).toHaveLength(2);
    });

    it('redeliverWebhook is refused while an attempt is in flight', async () => {
      const r = await receiver(['hang', 'ok']);
      const e = await endpoint(r, ['notification.read']);
      const id = await sendTestEvent(api, dev, e.id);
      await r.waitFor((q) => q.length === 1);
      const busy = await mutate('redeliverWebhook(id: $id)', '$id: ID!', '', { id });
      expect(busy).toMatchObject({ __typename: 'ConflictError', message: expect.any(String) });
      // The hanging attempt times out and the schedule carries on as if nothing was asked.
      const d = await waitForDelivery(api, dev, id, isFinished, { timeoutMs: 8_000 });
      expect(d).toMatchObject({ status: 'SUCCEEDED', attemptCount: 2 });
      expect(d.attempts.map((a) => a.trigger)).toEqual(['SCHEDULED', 'SCHEDULED']);
    });

    it('recoverWebhookDeliveries resends the failed deliveries created since T, and only those', async () => {
      const r = await receiver(500);
      const e = await endpoint(r, ['notification.read']);
      const old = await sendTestEvent(api, dev, e.id, { n: 0 });
      await waitForDelivery(api, dev, old);
      await sleep(20);
      const since = new Date();
      await sleep(20);
      const recent = await Promise.all([1, 2, 3].map((n) => sendTestEvent(api, dev, e.id, { n })));
      for (const id of recent) expect(await waitForDelivery(api, dev, id)).toMatchObject({ status: 'FAILED', attemptCount: 3 });

      r.setBehaviour('ok');
      const recovered = await mutate(
        'recoverWebhookDeliveries(id: $id, since: $since)',
        '$id: ID!, $since: DateTime!',
        '... on RecoverWebhookDeliveriesSuccess { recovered { count } }',
        { id: e.id, since: since.toISOString() },
      );
      expect(recovered).toMatchObject({ __typename: 'RecoverWebhookDeliveriesSuccess', recovered: { count: 3 } });
      for (const id of recent) {
        const d = await waitForDelivery(api, dev, id, (x) => x.attemptCount === 4 && isFinished(x));
        expect(d.status).toBe('SUCCEEDED');
        expect(d.attempts.map((a) => a.trigger)).toEqual(['SCHEDULED', 'SCHEDULED', 'SCHEDULED', 'MANUAL']);
      }
      expect(await getDelivery(api, dev, old)).toMatchObject({ status: 'FAILED', attemptCount: 3 });
      expect(r.requests.filter((q) => q.headers['webhook-id'] === old)).toHaveLength(3);
      const future = await mutate('recoverWebhookDeliveries(id: $id, since: $since)', '$id: ID!, $since: DateTime!', '', {
        id: e.id,
        since: new Date(Date.now() + 60_000).toISOString(),
      });
      expect(future.__typename).toBe('ValidationError');
    });
  });

  describe('ownership', () => {
    let other: Tenant;
    beforeAll(async () => {
      other = await createTenant(api);
    });

    it('another tenant, or another environment, sees NotFound for an endpoint and its deliveries', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const deliveryId = await sendTestEvent(api, dev, e.id);
      await waitForDelivery(api, dev, deliveryId);

      for (const headers of [bearer(other.apiKey), prod]) {
        const reads = await gqlData(
          api,
          `query($id: ID!, $e: ID!) { webhookEndpoint(id: $id) { id } webhookDelivery(id: $id) { id } byEndpoint: webhookDeliveries(filter: { endpointId: $e }) { edges { node { id } } } }`,
          { id: e.id, e: e.id },
          headers,
        );
        expect(reads).toEqual({ webhookEndpoint: null, webhookDelivery: null, byEndpoint: { edges: [] } });
        expect(await getDelivery(api, headers, deliveryId)).toBeNull();
        const attempts: Array<[string, string, Record<string, unknown>]> = [
          ['updateWebhookEndpoint(id: $id, input: { description: "mine" })', '$id: ID!', { id: e.id }],
          ['deleteWebhookEndpoint(id: $id)', '$id: ID!', { id: e.id }],
          ['revealWebhookEndpointSecret(id: $id)', '$id: ID!', { id: e.id }],
          ['rotateWebhookEndpointSecret(id: $id)', '$id: ID!', { id: e.id }],
          ['disableWebhookEndpoint(id: $id)', '$id: ID!', { id: e.id }],
          ['enableWebhookEndpoint(id: $id)', '$id: ID!', { id: e.id }],
          ['sendWebhookTestEvent(id: $id)', '$id: ID!', { id: e.id }],
          ['redeliverWebhook(id: $id)', '$id: ID!', { id: deliveryId }],
          ['recoverWebhookDeliveries(id: $id, since: "2020-01-01T00:00:00Z")', '$id: ID!', { id: e.id }],
        ];
        for (const [field, args, variables] of attempts) {
          expect(await mutate(field, args, '', variables, headers), field).toMatchObject({
            __typename: 'NotFoundError',
            code: 'NOT_FOUND',
          });
        }
      }
      // Untouched: still enabled, same secret, one attempt.
      expect(await getEndpoint(e.id)).toMatchObject({ enabled: true });
      const secret = await mutate('revealWebhookEndpointSecret(id: $id)', '$id: ID!', '... on WebhookEndpointSecret { secret }', {
        id: e.id,
      });
      expect(secret.secret).toBe(e.secret);
      expect(r.requests).toHaveLength(1);
    });

    it('deleting an endpoint removes it with its deliveries and attempts', async () => {
      const r = await receiver();
      const e = await createEndpoint(api, dev, { url: r.url, eventTypes: ['notification.read'] });
      const deliveryId = await sendTestEvent(api, dev, e.id);
      await waitForDelivery(api, dev, deliveryId);
      expect(await api.db.prisma.webhookAttempt.count({ where: { deliveryId } })).toBe(1);

      expect(await mutate('deleteWebhookEndpoint(id: $id)', '$id: ID!', '... on DeletedWebhookEndpoint { id }', { id: e.id })).toEqual({
        __typename: 'DeletedWebhookEndpoint',
        id: e.id,
      });
      expect(await getEndpoint(e.id)).toBeNull();
      const list = await gqlData(api, '{ webhookEndpoints { id } }', {}, dev);
      expect(list.webhookEndpoints.map((x: { id: string }) => x.id)).not.toContain(e.id);
      expect(await getDelivery(api, dev, deliveryId)).toBeNull();
      expect(await api.db.prisma.webhookDelivery.count({ where: { endpointId: e.id } })).toBe(0);
      expect(await api.db.prisma.webhookAttempt.count({ where: { deliveryId } })).toBe(0);
      expect(await mutate('deleteWebhookEndpoint(id: $id)', '$id: ID!', '', { id: e.id })).toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('retention', () => {
    it('pruneWebhookLog deletes old attempts and finished deliveries, keeping pending and recent ones', async () => {
      const r = await receiver();
      const e = await endpoint(r, ['notification.read']);
      const [oldDone, oldPending, recent] = await Promise.all([1, 2, 3].map(() => sendTestEvent(api, dev, e.id)));
      for (const id of [oldDone, oldPending, recent]) await waitForDelivery(api, dev, id as string);
      const prisma = api.db.prisma;
      const old = [oldDone, oldPending] as string[];
      await prisma.$executeRaw`
        UPDATE webhook_attempts SET started_at = now() - interval '31 days' WHERE delivery_id = ANY(${old}::uuid[])`;
      await prisma.$executeRaw`
        UPDATE webhook_deliveries SET created_at = now() - interval '31 days', completed_at = now() - interval '31 days'
         WHERE id = ${oldDone}::uuid`;
      // Still PENDING (its next attempt a day away, out of the worker's reach): kept whatever its age.
      await prisma.$executeRaw`
        UPDATE webhook_deliveries SET status = 'PENDING', completed_at = NULL, next_attempt_at = now() + interval '1 day',
               created_at = now() - interval '31 days'
         WHERE id = ${oldPending}::uuid`;

      expect(await pruneWebhookLog(prisma, { retentionHours: 720 })).toEqual({ attempts: 2, deliveries: 1 });
      expect(await prisma.webhookDelivery.findMany({ where: { endpointId: e.id }, select: { id: true }, orderBy: { id: 'asc' } })).toEqual(
        [oldPending, recent].sort().map((id) => ({ id })),
      );
      expect(await prisma.webhookAttempt.count({ where: { deliveryId: { in: old } } })).toBe(0);
      expect(await prisma.webhookAttempt.count({ where: { deliveryId: recent } })).toBe(1);
      // A second pass finds nothing more.
      expect(await pruneWebhookLog(prisma, { retentionHours: 720 })).toEqual({ attempts: 0, deliveries: 0 });
    });
  });
});

describe('with other worker settings', () => {
  /** A worker for this test only (stopped after its endpoints are deleted and receivers closed). */
  async function workerWith(settings: Partial<WebhookSettings>) {
    const worker = await t.startWorker({ webhooks: { ...webhookSettings(api.env), targets: t.targets, ...settings } });
    cleanups.push(() => worker.stop());
  }

  it('auto-disables after WEBHOOK_DISABLE_AFTER_EXHAUSTED consecutive exhausted deliveries (a success resets the count)', async () => {
    await workerWith({
      retry: { schedule: [0, 100], jitter: 0, maxRetryAfterMs: 1000 },
      disableAfterExhausted: 2,
      disableAfterFailingMs: 0,
    });
    // Delivery 1: exhausted; 2: succeeds; 3 and 4: exhausted.
    const r = await receiver([500, 500, 'ok', 500]);
    const e = await endpoint(r, ['notification.read']);
    const deliver = async () => waitForDelivery(api, dev, await sendTestEvent(api, dev, e.id));

    expect(await deliver()).toMatchObject({ status: 'FAILED', attemptCount: 2 });
    expect(await deliver()).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
    expect(await deliver()).toMatchObject({ status: 'FAILED', attemptCount: 2 });
    expect(await getEndpoint(e.id)).toMatchObject({ enabled: true });
    const last = await deliver();
    expect(last).toMatchObject({ status: 'FAILED', attemptCount: 2 });
    expect(last.failureReason).toMatch(/2 scheduled attempts/);
    const disabled = await getEndpoint(e.id);
    expect(disabled).toMatchObject({ enabled: false, disabledReason: '2 deliveries in a row exhausted their retries.' });
    expect(await endpointEvents()).toContainEqual(
      expect.objectContaining({ endpointId: e.id, type: 'endpoint.disabled', reason: disabled.disabledReason }),
    );
  });

  it('auto-disables after every attempt failed for WEBHOOK_DISABLE_AFTER_FAILING_MS; its pending deliveries then fail', async () => {
    await workerWith({
      retry: { schedule: [0, ...Array.from({ length: 12 }, () => 400)], jitter: 0, maxRetryAfterMs: 1000 },
      disableAfterExhausted: 0,
      disableAfterFailingMs: 1500,
    });
    const r = await receiver(500);
    const e = await endpoint(r, ['notification.read']);
    const id = await sendTestEvent(api, dev, e.id);

    const disabled = await eventually(
      () => getEndpoint(e.id),
      (x) => x?.enabled === false,
      'the endpoint to be disabled',
    );
    expect(disabled.disabledReason).toMatch(/^Every attempt failed for \d+ seconds\.$/);
    const d = await waitForDelivery(api, dev, id);
    expect(d).toMatchObject({ status: 'FAILED', failureReason: 'The endpoint is disabled.' });
    const firstAttempt = Date.parse(d.attempts[0]?.startedAt ?? '');
    expect(Date.parse(disabled.disabledAt) - firstAttempt).toBeGreaterThanOrEqual(1500);
    expect(r.requests).toHaveLength(d.attemptCount);
    expect(d.attempts.every((a) => a.responseStatus === 500)).toBe(true);
  });

  it('keeps at most WEBHOOK_ENDPOINT_CONCURRENCY requests in flight per endpoint', async () => {
    await workerWith({ endpointConcurrency: 2 });
    const slow = await receiver({ kind: 'slow-ok', delayMs: 300 });
    const other = await receiver({ kind: 'slow-ok', delayMs: 600 });
    const e = await endpoint(slow, ['notification.read']);
    const f = await endpoint(other, ['notification.read']);
    const ids = await Promise.all(
      [...Array.from({ length: 6 }, () => e.id), ...Array.from({ length: 2 }, () => f.id)].map((x) => sendTestEvent(api, dev, x)),
    );
    for (const id of ids) expect(await waitForDelivery(api, dev, id)).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
    expect(slow.requests).toHaveLength(6);
    expect(slow.maxInFlight).toBeLessThanOrEqual(2);
    // The limit is per endpoint: the other endpoint's requests were not held back to one at a time.
    expect(other.maxInFlight).toBe(2);
  });
});

describe('endpoint validation', () => {
  // The loopback-allowing API of this file checks syntax and event types; the two below check the
  // address rules: the install's default policy, and a resolver that answers a private address.
  let strict: TestApi;
  let resolved: TestApi;
  let strictHeaders: Record<string, string>;
  let resolvedHeaders: Record<string, string>;
  beforeAll(async () => {
    [strict, resolved] = await Promise.all([
      createTestApi(),
      createTestApi(
        {},
        {
          webhookTargets: {
            allow: parseAllowList(''),
            lookup: async (hostname) =>
              hostname === 'internal.example.test' ? [{ address: '10.1.2.3', family: 4 }] : [{ address: '93.184.216.34', family: 4 }],
          },
        },
      ),
    ]);
    const [a, b] = await Promise.all([createTenant(strict), createTenant(resolved)]);
    strictHeaders = bearer(a.apiKey);
    resolvedHeaders = bearer(b.apiKey);
  });
  afterAll(async () => {
    await Promise.all([strict?.close(), resolved?.close()]);
  });

  async function create(client: TestApi, headers: Record<string, string>, input: Record<string, unknown>) {
    const data = await gqlData(
      client,
      `mutation($input: CreateWebhookEndpointInput!) { r: createWebhookEndpoint(input: $input) {
         __typename ... on CreatedWebhookEndpoint { endpoint { id url } } ... on ValidationError { message issues { path message } } } }`,
      { input },
      headers,
    );
    return data.r;
  }

  it.each([
    ['an ftp URL', { url: 'ftp://example.com/hook' }, 'input.url', /scheme "ftp"/],
    ['a URL without a host', { url: 'http://' }, 'input.url', /absolute URL/],
    ['a URL with credentials', { url: 'https://user:secret@example.com/hook' }, 'input.url', /username or password/],
    ['an unknown event type', { eventTypes: ['notification.read', 'notification.bogus'] }, 'input.eventTypes.1', /Unknown event type/],
    ['no event types', { eventTypes: [] }, 'input.eventTypes', /at least one/],
  ])('refuses %s', async (_label, change, path, message) => {
    const r = await create(api, dev, { url: 'http://127.0.0.1:9/hook', eventTypes: ['notification.read'], ...change });
    expect(r.__typename).toBe('ValidationError');
    expect(r.issues).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it.each([
    ['a private address', 'http://10.0.0.1/', /private-network/],
    ['loopback', 'http://127.0.0.1:8080/hook', /loopback/],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data', /link-local/],
  ])('refuses %s with the default policy', async (_label, url, message) => {
    const r = await create(strict, strictHeaders, { url, eventTypes: ['notification.read'] });
    expect(r.__typename).toBe('ValidationError');
    expect(r.issues).toContainEqual({ path: 'input.url', message: expect.stringMatching(message) });
  });

  it('refuses a name that resolves to a private address, at creation and on update', async () => {
    const refused = await create(resolved, resolvedHeaders, {
      url: 'https://internal.example.test/hook',
      eventTypes: ['notification.read'],
    });
    expect(refused.__typename).toBe('ValidationError');
    expect(refused.issues).toContainEqual({ path: 'input.url', message: expect.stringMatching(/10\.1\.2\.3.*private-network/) });

    const accepted = await create(resolved, resolvedHeaders, {
      url: 'https://public.example.test/hook',
      eventTypes: ['notification.read'],
    });
    expect(accepted).toMatchObject({ __typename: 'CreatedWebhookEndpoint', endpoint: { url: 'https://public.example.test/hook' } });
    const updated = await gqlData(
      resolved,
      `mutation($id: ID!) { r: updateWebhookEndpoint(id: $id, input: { url: "https://internal.example.test/x" }) {
         __typename ... on ValidationError { issues { path message } } } }`,
      { id: accepted.endpoint.id },
      resolvedHeaders,
    );
    expect(updated.r.__typename).toBe('ValidationError');
    expect(updated.r.issues).toContainEqual({ path: 'input.url', message: expect.stringMatching(/private-network/) });
  });

  it('disabling fails the waiting deliveries at once, not at their next attempt', async () => {
    // No worker runs against this API: the delivery waits as PENDING until the disable.
    const created = await create(resolved, resolvedHeaders, { url: 'https://public.example.test/wait', eventTypes: ['notification.read'] });
    const deliveryId = await sendTestEvent(resolved, resolvedHeaders, created.endpoint.id);
    expect(await getDelivery(resolved, resolvedHeaders, deliveryId)).toMatchObject({ status: 'PENDING', attemptCount: 0 });
    const disabled = await gqlData(
      resolved,
      `mutation($id: ID!) { r: disableWebhookEndpoint(id: $id, reason: "paused") { __typename ... on DisableWebhookEndpointSuccess { endpoint { enabled } } } }`,
      { id: created.endpoint.id },
      resolvedHeaders,
    );
    expect(disabled.r).toMatchObject({ endpoint: { enabled: false } });
    expect(await getDelivery(resolved, resolvedHeaders, deliveryId)).toMatchObject({
      status: 'FAILED',
      failureReason: 'The endpoint is disabled.',
      nextAttemptAt: null,
      attemptCount: 0,
    });
  });

  it('checks the address again before every attempt: a name that now resolves privately is not called', async () => {
    const created = await create(resolved, resolvedHeaders, {
      url: 'https://rebinding.example.test/hook',
      eventTypes: ['notification.read'],
    });
    expect(created.__typename).toBe('CreatedWebhookEndpoint');
    // The worker's resolver now answers a private address (DNS rebinding after the check at creation).
    const worker = await startTestWorker(resolved, {
      webhooks: {
        ...webhookSettings(resolved.env),
        retry: { schedule: [0], jitter: 0, maxRetryAfterMs: 0 },
        targets: { allow: [], lookup: async () => [{ address: '10.1.2.3', family: 4 }] },
      },
    });
    cleanups.push(() => worker.stop());
    const id = await sendTestEvent(resolved, resolvedHeaders, created.endpoint.id);
    const d = await waitForDelivery(resolved, resolvedHeaders, id);
    expect(d).toMatchObject({ status: 'FAILED', attemptCount: 1 });
    expect(d.attempts[0]).toMatchObject({ errorClass: 'blocked_address', responseStatus: null });
    expect(d.attempts[0]?.errorMessage).toMatch(/10\.1\.2\.3/);
  });
});
