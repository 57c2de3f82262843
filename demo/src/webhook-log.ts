// The demo's webhook receiver: verifies each request with the endpoint's secret and remembers the
// last 100, verified or not, so the page can show what arrived and why a request was refused.
import { verifyWebhook, type WebhookHeaders, type WebhookNotificationData, WebhookVerificationError } from '@pigeon/node';

const KEEP = 100;

/** One request to the receiver, as the page shows it (the JSON of `GET /api/webhooks`). */
export interface ReceivedWebhook {
  receivedAt: string;
  /** The `webhook-id` header: the delivery's id, the same on every retry. */
  webhookId: string | null;
  verified: boolean;
  /** The event type; for a refused request, what its body claims (not to be trusted). */
  type: string | null;
  /** Set when the request was refused: the SDK's reason code and its explanation. */
  reason?: string;
  message?: string;
  notification?: { id: string; recipient: string; title: string | null; status: string };
}

export type ReceiveResult = { status: 204 } | { status: 400 | 503; reason: string; message: string };

export class WebhookLog {
  #secrets: string[] = [];
  #received: ReceivedWebhook[] = [];

  /** The endpoint's secret, and during a rotation the previous one too (both are accepted). */
  useSecrets(secrets: (string | null)[]): void {
    this.#secrets = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
  }

  /** Newest first. */
  list(): ReceivedWebhook[] {
    return this.#received;
  }

  /** Verifies one request's raw body and headers and records the outcome. */
  receive(rawBody: Buffer, headers: WebhookHeaders): ReceiveResult {
    const base = { receivedAt: new Date().toISOString(), webhookId: headerOf(headers, 'webhook-id') };
    if (this.#secrets.length === 0) {
      // Only between start-up and the endpoint check; 503 makes Pigeon retry instead of giving up.
      const refused = { reason: 'NO_SECRET_YET', message: 'The demo has not loaded the endpoint secret yet.' };
      this.#add({ ...base, verified: false, type: claimedType(rawBody), ...refused });
      return { status: 503, ...refused };
    }
    try {
      const event = verifyWebhook(rawBody, headers, this.#secrets);
      const notification = event.type.startsWith('notification.') ? (event.data as WebhookNotificationData) : null;
      this.#add({
        ...base,
        webhookId: event.webhookId,
        verified: true,
        type: event.type,
        ...(notification && {
          notification: {
            id: notification.id,
            recipient: notification.recipient.id,
            title: notification.title,
            status: notification.status,
          },
        }),
      });
      return { status: 204 };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      this.#add({ ...base, verified: false, type: claimedType(rawBody), reason: error.reason, message: error.message });
      return { status: 400, reason: error.reason, message: error.message };
    }
  }

  #add(entry: ReceivedWebhook): void {
    this.#received = [entry, ...this.#received].slice(0, KEEP);
  }
}

function headerOf(headers: WebhookHeaders, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function claimedType(rawBody: Buffer): string | null {
  try {
    const type = (JSON.parse(rawBody.toString('utf8')) as { type?: unknown }).type;
    return typeof type === 'string' ? type.slice(0, 100) : null;
  } catch {
    return null;
  }
}
