// Verifying Pigeon's webhooks (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
//
// The signature check itself is the `standardwebhooks` package's. What this module adds is the
// explanation: when a check fails, the error says which of the usual mistakes it was (a parsed and
// re-serialized body, a timestamp in milliseconds, a secret without its `whsec_` prefix, a clock
// that is off) instead of a bare "no matching signature".
import { WebhookVerificationError as LibraryVerificationError, Webhook } from 'standardwebhooks';

/**
 * Requests signed longer ago (or further ahead) than this many seconds are refused, so a captured
 * request cannot be replayed later.
 *
 * @example
 * ```ts
 * console.log(`clocks must agree within ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes`);
 * ```
 */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/**
 * Why a webhook failed verification (the `reason` of {@link WebhookVerificationError}).
 *
 * @example
 * ```ts
 * const reason: WebhookVerificationReason = error.reason;
 * if (reason === 'TIMESTAMP_TOO_OLD' || reason === 'TIMESTAMP_IN_FUTURE') checkClock();
 * ```
 */
export type WebhookVerificationReason =
  | 'MISSING_HEADERS'
  | 'BODY_NOT_RAW'
  | 'INVALID_SECRET'
  | 'INVALID_TIMESTAMP'
  | 'TIMESTAMP_IN_MILLISECONDS'
  | 'TIMESTAMP_TOO_OLD'
  | 'TIMESTAMP_IN_FUTURE'
  | 'SIGNATURE_MISMATCH'
  | 'INVALID_JSON';

/**
 * Thrown by {@link verifyWebhook}. `reason` is stable; `message` explains what to fix.
 *
 * @example
 * ```ts
 * try { verifyWebhook(body, req.headers, secret); }
 * catch (e) { if (e instanceof WebhookVerificationError) res.status(400).send(e.reason); }
 * ```
 */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
  readonly reason: WebhookVerificationReason;
  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * The notification as it was when the event happened (the `data` of `notification.*` events).
 *
 * @example
 * ```ts
 * if (event.type === 'notification.read') {
 *   const data: WebhookNotificationData = event.data;
 *   await crm.markRead(data.recipient.id, data.id, data.readAt);
 * }
 * ```
 */
export interface WebhookNotificationData {
  id: string;
  environmentId: string;
  status: 'ACCEPTED' | 'DELIVERED' | 'FAILED';
  /** `id` is your external id of the recipient. */
  recipient: { id: string };
  template: string | null;
  title: string | null;
  body: string | null;
  actionUrl: string | null;
  category: string | null;
  data: unknown;
  idempotencyKey: string | null;
  failureReason: string | null;
  createdAt: string;
  deliveredAt: string | null;
  seenAt: string | null;
  readAt: string | null;
  archivedAt: string | null;
}

/**
 * Event types whose `data` is a notification.
 *
 * @example
 * ```ts
 * const types: NotificationWebhookEventType[] = ['notification.delivered', 'notification.read'];
 * await pigeon.webhooks.create({ url, eventTypes: types });
 * ```
 */
export type NotificationWebhookEventType =
  | 'notification.accepted'
  | 'notification.delivered'
  | 'notification.failed'
  | 'notification.seen'
  | 'notification.read'
  | 'notification.unread'
  | 'notification.archived'
  | 'notification.unarchived';

interface WebhookEventBase {
  /** The `webhook-id` header: the delivery's id, the same on every retry. Deduplicate by it. */
  webhookId: string;
  /** When the event happened (the payload's `timestamp`, ISO 8601). */
  timestamp: string;
  /** When this attempt was signed (the `webhook-timestamp` header). */
  attemptedAt: Date;
}

/**
 * A verified webhook: narrow on `type` to get the shape of `data`. Deduplicate by `webhookId`
 * (retries and redeliveries repeat it).
 *
 * @example
 * ```ts
 * const event: WebhookEvent = verifyWebhook(body, headers, secret);
 * switch (event.type) {
 *   case 'notification.delivered': console.log('delivered', event.data.id); break;
 *   case 'endpoint.disabled': console.warn('endpoint disabled:', event.data.url, event.data.reason); break;
 * }
 * ```
 */
export type WebhookEvent =
  // One member per notification event type, so `Extract<WebhookEvent, { type: 'notification.read' }>` works too.
  | { [T in NotificationWebhookEventType]: WebhookEventBase & { type: T; data: WebhookNotificationData } }[NotificationWebhookEventType]
  | (WebhookEventBase & {
      type: 'endpoint.disabled';
      data: { endpointId: string; url: string; description: string | null; reason: string | null; disabledAt: string };
    })
  | (WebhookEventBase & { type: 'webhook.test'; data: unknown });

/**
 * Request headers in any of the usual shapes: a Fetch `Headers`, Node's `req.headers`, a plain
 * object (names in any case).
 *
 * @example
 * ```ts
 * const headers: WebhookHeaders = request.headers; // Fetch (Next.js, Hono, Bun) or Node's IncomingHttpHeaders
 * ```
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Checks that a request really comes from Pigeon and returns its event. Pass the body exactly as
 * it arrived (a string, Buffer, Uint8Array or ArrayBuffer — never a parsed object), the request
 * headers, and the endpoint's secret — or, while rotating, both secrets. Requests signed more than
 * 5 minutes away from this machine's clock are refused.
 *
 * Throws {@link WebhookVerificationError} whose message names the likely mistake.
 *
 * @example
 * ```ts
 * import { verifyWebhook, WebhookVerificationError } from '@pigeon/node';
 * app.post('/webhooks/pigeon', express.raw({ type: 'application/json' }), (req, res) => {
 *   try {
 *     const event = verifyWebhook(req.body, req.headers, process.env.PIGEON_WEBHOOK_SECRET!);
 *     if (event.type === 'notification.read') markReadInCrm(event.data.id);
 *     res.sendStatus(204);
 *   } catch (e) {
 *     if (e instanceof WebhookVerificationError) res.status(400).send(e.reason);
 *     else throw e;
 *   }
 * });
 * ```
 */
export function verifyWebhook(
  body: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string | readonly string[],
): WebhookEvent {
  if (body === undefined || body === null) {
    throw new WebhookVerificationError(
      'BODY_NOT_RAW',
      'No body was given: read the raw request body and pass it, e.g. express.raw({ type: "application/json" }) or `await request.text()`.',
    );
  }
  if (typeof body !== 'string' && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer)) {
    throw new WebhookVerificationError(
      'BODY_NOT_RAW',
      'The body was given as a parsed object. The signature covers the exact bytes Pigeon sent, and serializing the object again ' +
        'changes them (spacing, key order, escapes): pass the raw body, e.g. express.raw({ type: "application/json" }) or `await request.text()`.',
    );
  }
  const payload = typeof body === 'string' ? body : new TextDecoder().decode(body);

  const id = header(headers, 'webhook-id');
  const timestampHeader = header(headers, 'webhook-timestamp');
  const signature = header(headers, 'webhook-signature');
  const missing = [!id && 'webhook-id', !timestampHeader && 'webhook-timestamp', !signature && 'webhook-signature'].filter(Boolean);
  if (!id || !timestampHeader || !signature) {
    throw new WebhookVerificationError(
      'MISSING_HEADERS',
      `Missing header${missing.length > 1 ? 's' : ''} ${missing.join(', ')}. Pass the request's headers unchanged (a proxy may be dropping them).`,
    );
  }

  const secrets = (typeof secret === 'string' ? [secret] : [...secret]).filter((s) => typeof s === 'string' && s.length > 0);
  if (secrets.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'No secret given: pass the endpoint secret ("whsec_…").');
  for (const s of secrets) {
    const raw = s.startsWith('whsec_') ? s.slice(6) : s;
    if (!BASE64.test(raw)) {
      throw new WebhookVerificationError(
        'INVALID_SECRET',
        s.startsWith('whsec_')
          ? 'The secret is not "whsec_" followed by base64: it was cut or changed. Copy it again from createWebhookEndpoint / revealWebhookEndpointSecret.'
          : 'The secret does not start with "whsec_" and is not base64: pass the endpoint secret exactly as Pigeon returned it (e.g. not an API key).',
      );
    }
  }

  if (!/^\d+$/.test(timestampHeader)) {
    throw new WebhookVerificationError('INVALID_TIMESTAMP', `webhook-timestamp "${timestampHeader}" is not a Unix time in seconds.`);
  }
  const timestamp = Number(timestampHeader);
  const now = Math.floor(Date.now() / 1000);
  if (timestamp > 100_000_000_000) {
    throw new WebhookVerificationError(
      'TIMESTAMP_IN_MILLISECONDS',
      `webhook-timestamp ${timestampHeader} looks like milliseconds; Standard Webhooks timestamps are seconds since 1970. ` +
        'If you signed this request yourself (e.g. in a test), sign with Math.floor(Date.now() / 1000).',
    );
  }
  const skew = now - timestamp;
  if (skew > WEBHOOK_TOLERANCE_SECONDS) {
    throw new WebhookVerificationError(
      'TIMESTAMP_TOO_OLD',
      `The request was signed ${describeSeconds(skew)} ago, more than the 5-minute tolerance. Either it is a replay of an old request, ` +
        "or this machine's clock is behind: check it (NTP).",
    );
  }
  if (-skew > WEBHOOK_TOLERANCE_SECONDS) {
    throw new WebhookVerificationError(
      'TIMESTAMP_IN_FUTURE',
      `The request is signed ${describeSeconds(-skew)} in the future, more than the 5-minute tolerance: this machine's clock is behind Pigeon's. Check it (NTP).`,
    );
  }

  // Within the tolerance the library's own timestamp check passes; it does the constant-time compare.
  let verified: unknown;
  let matched = false;
  for (const s of secrets) {
    try {
      verified = new Webhook(s).verify(payload, { 'webhook-id': id, 'webhook-timestamp': timestampHeader, 'webhook-signature': signature });
      matched = true;
      break;
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new WebhookVerificationError('INVALID_JSON', 'The signature is valid but the body is not JSON.');
      }
      if (!(error instanceof LibraryVerificationError)) throw error;
    }
  }
  if (!matched) throw new WebhookVerificationError('SIGNATURE_MISMATCH', mismatchMessage(payload, secrets, signature));

  const event = verified as { type?: unknown; timestamp?: unknown; data?: unknown } | undefined;
  if (!event || typeof event !== 'object' || typeof event.type !== 'string') {
    throw new WebhookVerificationError(
      'INVALID_JSON',
      'The signature is valid but the body is not a Pigeon event ({ type, timestamp, data }).',
    );
  }
  return {
    webhookId: id,
    attemptedAt: new Date(timestamp * 1000),
    timestamp: String(event.timestamp),
    type: event.type,
    data: event.data,
  } as WebhookEvent;
}

function describeSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function mismatchMessage(payload: string, secrets: string[], signature: string): string {
  const causes: string[] = [];
  if (!signature.split(' ').some((s) => s.startsWith('v1,'))) {
    causes.push('the webhook-signature header has no "v1," signature (it was changed on the way)');
  }
  try {
    // Pigeon's bodies come from PostgreSQL's jsonb text, which puts a space after every ":" and ",";
    // a compact body is what JSON.stringify makes of a parsed one.
    if (payload === JSON.stringify(JSON.parse(payload)) && payload.includes('":')) {
      causes.push(
        'the body looks re-serialized (compact JSON, while Pigeon sends "key": value with spaces): verify the raw body, before any JSON parsing',
      );
    }
  } catch {
    // Not JSON at all: the body was altered or is not ours; the generic causes below cover it.
  }
  if (secrets.some((s) => !s.startsWith('whsec_'))) {
    causes.push('the secret has no "whsec_" prefix: pass it exactly as Pigeon returned it');
  }
  causes.push('the secret belongs to another endpoint, or was rotated and the grace period is over (pass both secrets while rotating)');
  causes.push('the body was changed on the way (decoded with another charset, trimmed, pretty-printed)');
  return `No signature matches. Likely causes, most likely first: ${causes.join('; ')}.`;
}
