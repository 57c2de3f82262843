// verifyWebhook against real deliveries: the real worker signs and POSTs to a node:http receiver on
// loopback that verifies each request the way the README shows (req.headers, the raw Buffer). Then
// every failure reason, each made from a real captured request by one realistic mistake.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pigeon, verifyWebhook, WEBHOOK_TOLERANCE_SECONDS, type WebhookEvent, WebhookVerificationError } from '../src/index.ts';
import { type SdkTestApi, sdkTestApi } from './fixtures.ts';

/** One request the receiver got, with what verifyWebhook made of it there and then. */
interface Captured {
  body: Buffer;
  headers: http.IncomingHttpHeaders;
  event?: WebhookEvent;
  error?: unknown;
}

interface VerifyingReceiver {
  url: string;
  captured: Captured[];
  /** The secrets the handler verifies with. */
  secrets: string[];
  waitFor(predicate: (captured: Captured[]) => Captured | undefined, timeoutMs?: number): Promise<Captured>;
  close(): Promise<void>;
}

/** A webhook receiver written as a user would: node:http, raw body, verifyWebhook, 204 or 400. */
async function startVerifyingReceiver(): Promise<VerifyingReceiver> {
  const captured: Captured[] = [];
  const receiver = { secrets: [] as string[] };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    try {
      const event = verifyWebhook(body, req.headers, receiver.secrets);
      captured.push({ body, headers: req.headers, event });
      res.writeHead(204).end();
    } catch (error) {
      captured.push({ body, headers: req.headers, error });
      res.writeHead(400).end(error instanceof WebhookVerificationError ? error.reason : 'error');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/webhooks/pigeon`,
    captured,
    async waitFor(predicate: (captured: Captured[]) => Captured | undefined, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = predicate(captured);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`receiver: nothing matched after ${timeoutMs} ms; got ${captured.map((c) => c.body.toString()).join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  });
}

let t: SdkTestApi;
let pigeon: Pigeon;
let receiver: VerifyingReceiver;
let endpoint: { id: string; secret: string };

beforeAll(async () => {
  t = await sdkTestApi({ WEBHOOK_RETRY_SCHEDULE: '0s', WEBHOOK_RETRY_JITTER: '0' });
  pigeon = new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: t.baseUrl });
  receiver = await startVerifyingReceiver();
  const created = await pigeon.webhooks.create({ url: receiver.url, eventTypes: ['notification.accepted', 'notification.delivered'] });
  endpoint = { id: created.endpoint.id, secret: created.secret };
  receiver.secrets = [created.secret];
});
afterAll(async () => {
  await receiver?.close();
  await t?.stop();
});

/** Finds the request that verified as the event `type` about notification `id`. */
const verifiedAs = (type: WebhookEvent['type'], id: string) => (captured: Captured[]) =>
  captured.find((c) => c.event?.type === type && (c.event.data as { id?: unknown }).id === id);

/** What verifyWebhook throws for these arguments (fails the test when it verifies). */
function failure(...args: Parameters<typeof verifyWebhook>): WebhookVerificationError {
  try {
    verifyWebhook(...args);
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected verifyWebhook to fail, it verified');
}

/** The captured request's headers as a plain object of strings. */
function plain(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
}

/** Signs `body` as Pigeon does, at `at`, and returns the three headers (timestamp overridable). */
function resign(secret: string, id: string, at: Date, body: string, timestampHeader?: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': timestampHeader ?? String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

let accepted: Captured;

describe('real deliveries', () => {
  it('verifies notification.accepted and notification.delivered in the handler (IncomingHttpHeaders, Buffer)', async () => {
    const { notification } = await pigeon.send({ to: 'ada', title: 'Hello', body: 'from the SDK test' });
    accepted = await receiver.waitFor(verifiedAs('notification.accepted', notification.id));
    const delivered = await receiver.waitFor(verifiedAs('notification.delivered', notification.id));
    for (const captured of [accepted, delivered]) {
      const event = captured.event as WebhookEvent;
      expect(event.webhookId).toBe(captured.headers['webhook-id']);
      expect(Math.abs(event.attemptedAt.getTime() - Date.now())).toBeLessThan(60_000);
      expect(Date.parse(event.timestamp)).not.toBeNaN();
    }
    const a = accepted.event as Extract<WebhookEvent, { type: 'notification.accepted' }>;
    expect(a.data).toMatchObject({ id: notification.id, status: 'ACCEPTED', recipient: { id: 'ada' }, title: 'Hello' });
    const d = delivered.event as Extract<WebhookEvent, { type: 'notification.delivered' }>;
    expect(d.data).toMatchObject({ id: notification.id, status: 'DELIVERED', deliveredAt: expect.any(String) });
    expect(receiver.captured.filter((c) => c.error)).toEqual([]);
  });

  it('verifies webhook.test, with a string, Uint8Array or ArrayBuffer body and Fetch Headers', async () => {
    const delivery = await pigeon.webhooks.sendTestEvent(endpoint.id, { hello: 'world' });
    const captured = await receiver.waitFor((all) => all.find((c) => c.headers['webhook-id'] === delivery.webhookId));
    expect(captured.event).toMatchObject({ type: 'webhook.test', webhookId: delivery.webhookId, data: { hello: 'world' } });

    const headers = new Headers(plain(captured.headers));
    const bytes = new Uint8Array(captured.body);
    for (const body of [captured.body.toString('utf8'), bytes, bytes.buffer]) {
      expect(verifyWebhook(body, headers, endpoint.secret)).toMatchObject({ type: 'webhook.test', webhookId: delivery.webhookId });
    }
  });
});

describe('why a signature fails, shown on a real request', () => {
  const body = () => accepted.body.toString('utf8');
  const id = () => String(accepted.headers['webhook-id']);

  it('BODY_NOT_RAW: the body was parsed (or is missing)', () => {
    const parsed = failure(JSON.parse(body()), accepted.headers, endpoint.secret);
    expect(parsed.reason).toBe('BODY_NOT_RAW');
    expect(parsed.message).toContain('parsed object');
    expect(failure(undefined as unknown as string, accepted.headers, endpoint.secret).reason).toBe('BODY_NOT_RAW');
  });

  it('SIGNATURE_MISMATCH explains a re-serialized body', () => {
    const reserialized = JSON.stringify(JSON.parse(body()));
    expect(reserialized).not.toBe(body());
    const error = failure(reserialized, accepted.headers, endpoint.secret);
    expect(error.reason).toBe('SIGNATURE_MISMATCH');
    expect(error.message).toContain('re-serialized');
    expect(error.message).not.toContain('"whsec_" prefix');
  });

  it('a secret without its whsec_ prefix still verifies; a wrong one is told about the prefix', () => {
    const raw = endpoint.secret.slice('whsec_'.length);
    expect(verifyWebhook(accepted.body, accepted.headers, raw)).toMatchObject({ webhookId: id() });
    const wrong = failure(accepted.body, accepted.headers, randomBytes(24).toString('base64'));
    expect(wrong.reason).toBe('SIGNATURE_MISMATCH');
    expect(wrong.message).toContain('"whsec_" prefix');
    expect(wrong.message).not.toContain('re-serialized');
  });

  it('SIGNATURE_MISMATCH for a wrong secret; INVALID_SECRET for something that is no secret', () => {
    const wrong = failure(accepted.body, accepted.headers, `whsec_${randomBytes(24).toString('base64')}`);
    expect(wrong.reason).toBe('SIGNATURE_MISMATCH');
    expect(wrong.message).toContain('another endpoint');
    const apiKey = failure(accepted.body, accepted.headers, t.tenant.apiKey);
    expect(apiKey.reason).toBe('INVALID_SECRET');
    expect(apiKey.message).toContain('whsec_');
  });

  it('a request re-signed now verifies (the re-signing below is faithful)', () => {
    expect(verifyWebhook(body(), resign(endpoint.secret, id(), new Date(), body()), endpoint.secret)).toMatchObject({ webhookId: id() });
  });

  it('TIMESTAMP_IN_MILLISECONDS', () => {
    const now = new Date();
    const error = failure(body(), resign(endpoint.secret, id(), now, body(), String(now.getTime())), endpoint.secret);
    expect(error.reason).toBe('TIMESTAMP_IN_MILLISECONDS');
    expect(error.message).toContain('milliseconds');
  });

  it('TIMESTAMP_TOO_OLD and TIMESTAMP_IN_FUTURE beyond the 5-minute tolerance (clock skew)', () => {
    expect(WEBHOOK_TOLERANCE_SECONDS).toBe(300);
    const old = failure(body(), resign(endpoint.secret, id(), new Date(Date.now() - 600_000), body()), endpoint.secret);
    expect(old.reason).toBe('TIMESTAMP_TOO_OLD');
    expect(old.message).toContain('10 min ago');
    expect(old.message).toContain('clock');
    const future = failure(body(), resign(endpoint.secret, id(), new Date(Date.now() + 600_000), body()), endpoint.secret);
    expect(future.reason).toBe('TIMESTAMP_IN_FUTURE');
    expect(future.message).toContain('10 min in the future');
    // Within the tolerance both ways it verifies.
    for (const offset of [-240_000, 240_000]) {
      const headers = resign(endpoint.secret, id(), new Date(Date.now() + offset), body());
      expect(verifyWebhook(body(), headers, endpoint.secret)).toMatchObject({ webhookId: id() });
    }
  });

  it('MISSING_HEADERS names the missing ones', () => {
    const { 'webhook-signature': _signature, 'webhook-timestamp': _timestamp, ...rest } = accepted.headers;
    const error = failure(accepted.body, rest, endpoint.secret);
    expect(error.reason).toBe('MISSING_HEADERS');
    expect(error.message).toBe(
      "Missing headers webhook-timestamp, webhook-signature. Pass the request's headers unchanged (a proxy may be dropping them).",
    );
  });
});

describe('rotation', () => {
  it('during the grace period either secret verifies (alone or as an array); after it only the new one', async () => {
    const old = endpoint.secret;
    const rotated = await pigeon.webhooks.rotateSecret(endpoint.id, { graceSeconds: 600 });
    receiver.secrets = [rotated.secret, old];
    const delivery = await pigeon.webhooks.sendTestEvent(endpoint.id);
    const during = await receiver.waitFor((all) => all.find((c) => c.headers['webhook-id'] === delivery.webhookId));
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, rotated.secret, [old, rotated.secret], [rotated.secret, old]]) {
      expect(verifyWebhook(during.body, during.headers, secret)).toMatchObject({ type: 'webhook.test' });
    }

    // graceSeconds: 0 ends the rotation at once: requests carry the newest signature only.
    const again = await pigeon.webhooks.rotateSecret(endpoint.id, { graceSeconds: 0 });
    receiver.secrets = [again.secret];
    const next = await pigeon.webhooks.sendTestEvent(endpoint.id);
    const after = await receiver.waitFor((all) => all.find((c) => c.headers['webhook-id'] === next.webhookId));
    expect(after.event).toMatchObject({ type: 'webhook.test' });
    const stale = failure(after.body, after.headers, rotated.secret);
    expect(stale.reason).toBe('SIGNATURE_MISMATCH');
    expect(stale.message).toContain('grace period is over');
    expect(verifyWebhook(after.body, after.headers, [rotated.secret, again.secret])).toMatchObject({ type: 'webhook.test' });
  });
});
