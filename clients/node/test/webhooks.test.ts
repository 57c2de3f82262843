// Webhook endpoint management through the SDK, end to end against the real API and worker: create,
// list, get, update, secrets (reveal, rotate), disable/enable, test events, deliveries, redelivery,
// recovery and delete — with a real receiver on loopback seeing what each operation causes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, sleep, startReceiver } from '../../../api/test/webhook-kit.ts';
import { ConflictError, NotFoundError, Pigeon, ValidationError, type WebhookDelivery } from '../src/index.ts';
import { type SdkTestApi, sdkTestApi, startFaultProxy } from './fixtures.ts';

let t: SdkTestApi;
let pigeon: Pigeon;
let receiver: Receiver;

beforeAll(async () => {
  t = await sdkTestApi({ WEBHOOK_RETRY_SCHEDULE: '0s,100ms', WEBHOOK_RETRY_JITTER: '0' });
  pigeon = new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: t.baseUrl });
  receiver = await startReceiver('ok');
});
afterAll(async () => {
  await receiver?.close();
  await t?.stop();
});

/** Polls one delivery through the SDK until `done` accepts it. */
async function deliveryUntil(
  endpointId: string,
  id: string,
  done: (delivery: WebhookDelivery) => boolean,
  timeoutMs = 10_000,
): Promise<WebhookDelivery> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { deliveries } = await pigeon.webhooks.deliveries({ filter: { endpointId }, first: 100 });
    const delivery = deliveries.find((d) => d.id === id);
    if (delivery && done(delivery)) return delivery;
    if (Date.now() > deadline) throw new Error(`delivery ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(delivery)}`);
    await sleep(50);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a result');
}

describe('webhook endpoints', () => {
  let id: string;
  let secret: string;

  it('lists the event types', async () => {
    const types = await pigeon.webhooks.eventTypes();
    expect(types.map((e) => e.name)).toEqual(
      expect.arrayContaining(['notification.accepted', 'notification.delivered', 'endpoint.disabled']),
    );
    expect(types.every((e) => e.description.length > 0)).toBe(true);
  });

  it('creates an endpoint with a whsec_ secret, then lists and gets it', async () => {
    const created = await pigeon.webhooks.create({ url: receiver.url, eventTypes: ['notification.delivered'], description: 'CRM sync' });
    ({ id } = created.endpoint);
    secret = created.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(created.endpoint).toMatchObject({
      url: receiver.url,
      eventTypes: ['notification.delivered'],
      description: 'CRM sync',
      enabled: true,
      disabledAt: null,
      previousSecretExpiresAt: null,
    });
    expect(await pigeon.webhooks.list()).toEqual([created.endpoint]);
    expect(await pigeon.webhooks.get(id)).toEqual(created.endpoint);
    expect(await pigeon.webhooks.get('0190d2a4-0000-7000-8000-000000000000')).toBeNull();
  });

  it('refuses an invalid endpoint with ValidationError', async () => {
    const error = await rejection(pigeon.webhooks.create({ url: 'ftp://example.com', eventTypes: ['notification.delivered'] }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['input.url']);
  });

  it('updates fields given and keeps the others', async () => {
    const updated = await pigeon.webhooks.update(id, { eventTypes: ['notification.delivered', 'notification.read'] });
    expect(updated).toMatchObject({
      id,
      url: receiver.url,
      description: 'CRM sync',
      eventTypes: ['notification.delivered', 'notification.read'],
    });
  });

  it('reveals and rotates the secret; the previous one is shown during the grace period', async () => {
    expect(await pigeon.webhooks.revealSecret(id)).toEqual({ secret, previousSecret: null, previousSecretExpiresAt: null });
    const rotated = await pigeon.webhooks.rotateSecret(id, { graceSeconds: 600 });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(secret);
    const expiresAt = Date.parse(rotated.endpoint.previousSecretExpiresAt ?? '');
    expect(expiresAt - Date.now()).toBeGreaterThan(590_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    expect(await pigeon.webhooks.revealSecret(id)).toEqual({
      secret: rotated.secret,
      previousSecret: secret,
      previousSecretExpiresAt: rotated.endpoint.previousSecretExpiresAt,
    });
    secret = rotated.secret;
    receiver.setSecrets(secret);
  });

  it('disables and enables; a disabled endpoint gets no test event', async () => {
    const disabled = await pigeon.webhooks.disable(id, { reason: 'maintenance' });
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'maintenance', disabledAt: expect.any(String) });
    const refused = await rejection(pigeon.webhooks.sendTestEvent(id));
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused).toMatchObject({ message: 'id: The endpoint is disabled; enable it first.' });
    const enabled = await pigeon.webhooks.enable(id);
    expect(enabled).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null });
  });

  it('sends a test event, lists its delivery and redelivers it with the same webhook-id', async () => {
    const delivery = await pigeon.webhooks.sendTestEvent(id, { hello: 'world' });
    expect(delivery).toMatchObject({ endpointId: id, eventType: 'webhook.test', status: 'PENDING' });
    const succeeded = await deliveryUntil(id, delivery.id, (d) => d.status === 'SUCCEEDED');
    expect(succeeded).toMatchObject({ webhookId: delivery.webhookId, attemptCount: 1, completedAt: expect.any(String) });
    const first = receiver.requests.find((r) => r.headers['webhook-id'] === delivery.webhookId);
    expect(first).toMatchObject({ verified: true });
    expect(JSON.parse(first?.body ?? '{}')).toMatchObject({ type: 'webhook.test', data: { hello: 'world' } });

    await pigeon.webhooks.redeliver(delivery.id);
    await deliveryUntil(id, delivery.id, (d) => d.status === 'SUCCEEDED' && d.attemptCount === 2);
    const attempts = receiver.requests.filter((r) => r.headers['webhook-id'] === delivery.webhookId);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.body).toBe(attempts[0]?.body);
  });

  it('ConflictError: redelivering while an attempt is in flight', async () => {
    receiver.setBehaviour({ kind: 'slow-ok', delayMs: 1_000 });
    const delivery = await pigeon.webhooks.sendTestEvent(id);
    await receiver.waitFor((requests) => requests.some((r) => r.headers['webhook-id'] === delivery.webhookId));
    const error = await rejection(pigeon.webhooks.redeliver(delivery.id));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      code: 'CONFLICT',
      message: 'An attempt of this delivery is in progress; try again when it has finished.',
    });
    receiver.setBehaviour('ok');
    await deliveryUntil(id, delivery.id, (d) => d.status === 'SUCCEEDED');
  });

  it('pages deliveries newest first and filters them', async () => {
    const notification = await pigeon.send({ to: 'ada', title: 'Paging', body: 'one more delivery' });
    const byNotification = await (async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const page = await pigeon.webhooks.deliveries({ filter: { notificationId: notification.notification.id } });
        // Finished, so that it cannot meet the next test's failing receiver.
        if (page.deliveries.some((d) => d.status === 'SUCCEEDED') || Date.now() > deadline) return page;
        await sleep(50);
      }
    })();
    expect(byNotification.deliveries.map((d) => [d.eventType, d.status])).toEqual([['notification.delivered', 'SUCCEEDED']]);
    const newest = await pigeon.webhooks.deliveries({ filter: { endpointId: id, eventType: 'notification.delivered' } });
    expect(newest.deliveries[0]?.id).toBe(byNotification.deliveries[0]?.id);

    const first = await pigeon.webhooks.deliveries({ filter: { endpointId: id }, first: 1 });
    expect(first.deliveries).toHaveLength(1);
    expect(first.hasNextPage).toBe(true);
    const second = await pigeon.webhooks.deliveries({ filter: { endpointId: id }, first: 1, after: first.endCursor ?? undefined });
    expect(second.deliveries).toHaveLength(1);
    expect(second.deliveries[0]?.id).not.toBe(first.deliveries[0]?.id);
    expect((second.deliveries[0]?.createdAt ?? '') <= (first.deliveries[0]?.createdAt ?? '')).toBe(true);
  });

  it('recovers deliveries that failed', async () => {
    const since = new Date(Date.now() - 1_000);
    receiver.setBehaviour(500);
    const delivery = await pigeon.webhooks.sendTestEvent(id);
    const failed = await deliveryUntil(id, delivery.id, (d) => d.status === 'FAILED');
    expect(failed.attemptCount).toBe(2);
    expect(failed.failureReason).toEqual(expect.any(String));

    receiver.setBehaviour('ok');
    expect(await pigeon.webhooks.recover(id, since)).toBe(1);
    const recovered = await deliveryUntil(id, delivery.id, (d) => d.status === 'SUCCEEDED');
    expect(recovered.attemptCount).toBe(3);
    expect(await pigeon.webhooks.recover(id, since)).toBe(0);
  });

  it('deletes the endpoint; deleting it again is NotFoundError', async () => {
    await pigeon.webhooks.delete(id);
    expect(await pigeon.webhooks.get(id)).toBeNull();
    expect(await pigeon.webhooks.list()).toEqual([]);
    const again = await rejection(pigeon.webhooks.delete(id));
    expect(again).toBeInstanceOf(NotFoundError);
    expect(again).toMatchObject({ message: `WebhookEndpoint "${id}" was not found.` });
  });

  it('a delete whose answer was lost is retried and succeeds', async () => {
    const { endpoint } = await pigeon.webhooks.create({ url: receiver.url, eventTypes: ['notification.read'] });
    const proxy = await startFaultProxy(t.baseUrl, ['lose-response']);
    try {
      await new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url }).webhooks.delete(endpoint.id);
      expect(proxy.requests.map((r) => [r.action, r.upstreamStatus])).toEqual([
        ['lose-response', 200],
        ['forward', 200],
      ]);
    } finally {
      await proxy.close();
    }
    expect(await pigeon.webhooks.get(endpoint.id)).toBeNull();
  });
});
