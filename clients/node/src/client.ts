// The Pigeon client for backends: send notifications, mint client tokens, manage webhook endpoints.
import { randomUUID } from 'node:crypto';
import * as doc from './documents.ts';
import { type ErrorMember, errorFromMember, PigeonError } from './errors.ts';
import type {
  CreateWebhookEndpointInput as GqlCreateWebhookEndpointInput,
  SendInput as GqlSendInput,
  UpdateWebhookEndpointInput as GqlUpdateWebhookEndpointInput,
  WebhookDeliveryFilter as GqlWebhookDeliveryFilter,
  SdkNotificationFragment,
  SdkWebhookDeliveryFragment,
  SdkWebhookEndpointFragment,
} from './gql/graphql.ts';
import { Transport } from './transport.ts';

/**
 * A notification as the API reports it (for templates, title and body are null until the worker
 * renders them; `status` then becomes DELIVERED).
 *
 * @example
 * ```ts
 * const n: Notification | null = await pigeon.notification(id);
 * if (n?.status === 'DELIVERED') console.log(n.title, n.read);
 * ```
 */
export type Notification = SdkNotificationFragment;

/**
 * A webhook endpoint (its secret is only returned by create, revealSecret and rotateSecret).
 *
 * @example
 * ```ts
 * const failing: WebhookEndpoint[] = (await pigeon.webhooks.list()).filter((e) => e.failingSince);
 * ```
 */
export type WebhookEndpoint = SdkWebhookEndpointFragment;

/**
 * One event to one endpoint; its `webhookId` is the `webhook-id` header on every attempt.
 *
 * @example
 * ```ts
 * const delivery: WebhookDelivery = await pigeon.webhooks.sendTestEvent(endpointId);
 * console.log(delivery.status, delivery.webhookId);
 * ```
 */
export type WebhookDelivery = SdkWebhookDeliveryFragment;

/**
 * What `send` takes: the recipient (`to`, your id for the user) and either `template` (with
 * `data` for its variables) or `title` + `body`; optionally `idempotencyKey`, `category`,
 * `actionUrl` (an http(s) URL or a path starting with "/") and a `recipient` profile to upsert.
 *
 * @example
 * ```ts
 * const input: SendInput = { to: 'user-42', template: 'welcome', data: { name: 'Ada' }, recipient: { email: 'ada@example.com' } };
 * await pigeon.send(input);
 * ```
 */
export type SendInput = GqlSendInput;

/**
 * What `webhooks.create` takes: the URL, the event types (see `webhooks.eventTypes()`) and an
 * optional description.
 *
 * @example
 * ```ts
 * const input: CreateWebhookEndpointInput = { url: 'https://example.com/hooks', eventTypes: ['notification.read'] };
 * ```
 */
export type CreateWebhookEndpointInput = GqlCreateWebhookEndpointInput;

/**
 * What `webhooks.update` takes: fields left out stay as they are; a null description clears it.
 *
 * @example
 * ```ts
 * const input: UpdateWebhookEndpointInput = { description: null, eventTypes: ['notification.delivered'] };
 * ```
 */
export type UpdateWebhookEndpointInput = GqlUpdateWebhookEndpointInput;

/**
 * Narrows `webhooks.deliveries` by endpoint, notification, event type or status.
 *
 * @example
 * ```ts
 * const filter: WebhookDeliveryFilter = { endpointId, status: 'FAILED' };
 * const { deliveries } = await pigeon.webhooks.deliveries({ filter });
 * ```
 */
export type WebhookDeliveryFilter = GqlWebhookDeliveryFilter;

/**
 * The API base URL used when none is given (a local `npm start`).
 *
 * @example
 * ```ts
 * new Pigeon({ apiKey, baseUrl: process.env.PIGEON_URL ?? PIGEON_DEFAULT_BASE_URL });
 * ```
 */
export const PIGEON_DEFAULT_BASE_URL = 'http://localhost:4000';

/**
 * How to reach the API and how hard to retry.
 *
 * @example
 * ```ts
 * const options: PigeonOptions = { apiKey: process.env.PIGEON_API_KEY!, baseUrl: 'https://pigeon.example.com', maxRetries: 5 };
 * const pigeon = new Pigeon(options);
 * ```
 */
export interface PigeonOptions {
  /** An environment's API key (`sk_dev_…` or `sk_prod_…`). */
  apiKey: string;
  /** Where the API listens, without `/graphql` (default http://localhost:4000). */
  baseUrl?: string;
  /**
   * Retries after network errors, timeouts, 5xx and RATE_LIMITED (default 3; 0 disables retrying).
   * Operations that must not run twice are only retried when the request certainly did not run.
   */
  maxRetries?: number;
  /** Give up (throw) instead of waiting longer than this before a retry (default 30 s). */
  maxRetryDelayMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/**
 * What `send` returns.
 *
 * @example
 * ```ts
 * const { notification, duplicate, idempotencyKey }: SendResult = await pigeon.send(input);
 * if (duplicate) console.log(`already sent as ${notification.id} under ${idempotencyKey}`);
 * ```
 */
export interface SendResult {
  notification: Notification;
  /** True when this idempotency key had been used already: nothing new was sent. */
  duplicate: boolean;
  /** The key the notification was sent under (the one given, or the one generated). */
  idempotencyKey: string;
}

/**
 * A short-lived token for one end user's browser (give it to `<PigeonProvider getToken>`).
 *
 * @example
 * ```ts
 * const { token, expiresAt }: ClientToken = await pigeon.createClientToken('user-42');
 * ```
 */
export interface ClientToken {
  token: string;
  /** ISO 8601; mint a new token before then. */
  expiresAt: string;
  /** `id` is Pigeon's id of the recipient, `externalId` yours. */
  recipient: { id: string; externalId: string };
}

type Result<T> = T | ({ __typename: string } & ErrorMember);

/** Returns the success member of a union result or throws the typed error for its error member. */
function unwrap<T extends { __typename?: string }>(result: Result<T> | { __typename: string }, success: string): T {
  if (result.__typename === success) return result as T;
  if ('code' in result && 'message' in result) throw errorFromMember(result as ErrorMember);
  throw new PigeonError('UNEXPECTED_RESPONSE', `Unexpected result type ${result.__typename}.`);
}

/**
 * The Pigeon client for backends. One instance per API key; safe to share across requests.
 *
 * @example
 * ```ts
 * import { Pigeon } from '@pigeon/node';
 * const pigeon = new Pigeon({ apiKey: process.env.PIGEON_API_KEY!, baseUrl: 'http://localhost:4000' });
 * await pigeon.send({ to: 'user-42', title: 'Welcome', body: 'Glad you are here.' });
 * ```
 */
export class Pigeon {
  readonly #transport: Transport;
  /** Webhook endpoint management (the same operations as the dashboard's Webhooks page). */
  readonly webhooks: PigeonWebhooks;

  constructor(options: PigeonOptions) {
    if (!options?.apiKey || typeof options.apiKey !== 'string') {
      throw new TypeError('new Pigeon({ apiKey }) needs an API key (sk_dev_… or sk_prod_…).');
    }
    const baseUrl = (options.baseUrl ?? PIGEON_DEFAULT_BASE_URL).replace(/\/+$/, '').replace(/\/graphql$/, '');
    const authorization = `Bearer ${options.apiKey}`;
    this.#transport = new Transport({
      url: `${baseUrl}/graphql`,
      headers: () => ({ authorization }),
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 3,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
    });
    this.webhooks = new PigeonWebhooks(this.#transport);
  }

  /**
   * Sends one notification. Returns once it is stored and queued; rendering and delivery follow
   * in the workers. Every call carries an idempotency key (a random one unless you pass yours), so
   * the SDK retries network errors, 5xx and RATE_LIMITED without ever sending twice: a repeat
   * returns the original notification with `duplicate: true`.
   *
   * Throws {@link ValidationError}, {@link TemplateNotFoundError}, {@link IdempotencyConflictError}
   * (the key was used for a different payload) or a transport error.
   *
   * @example
   * ```ts
   * const { notification } = await pigeon.send({
   *   to: 'user-42',
   *   template: 'comment-created',
   *   data: { author: 'Ada', excerpt: 'Looks good!' },
   *   idempotencyKey: `comment-${comment.id}`,
   * });
   * ```
   */
  async send(input: SendInput): Promise<SendResult> {
    const idempotencyKey = input.idempotencyKey ?? `sdk-${randomUUID()}`;
    const data = await this.#transport.request(doc.SendDocument, { input: { ...input, idempotencyKey } }, 'idempotent');
    const success = unwrap(data.send, 'SendSuccess') as Extract<typeof data.send, { __typename: 'SendSuccess' }>;
    return { notification: success.notification, duplicate: success.duplicate, idempotencyKey };
  }

  /**
   * Reads one notification of this environment (null when there is none with this id).
   *
   * @example
   * ```ts
   * const n = await pigeon.notification(id);
   * if (n?.status === 'FAILED') console.log(n.failureReason);
   * ```
   */
  async notification(id: string): Promise<Notification | null> {
    const data = await this.#transport.request(doc.NotificationDocument, { id }, 'idempotent');
    return data.notification ?? null;
  }

  /**
   * Mints a client token for one end user (created if new). Your backend calls this and hands the
   * token to the browser, whose `<PigeonProvider getToken>` uses it for the inbox and live events.
   *
   * @example
   * ```ts
   * app.get('/pigeon-token', async (req, res) => {
   *   const { token, expiresAt } = await pigeon.createClientToken(req.user.id, { ttlSeconds: 3600 });
   *   res.json({ token, expiresAt });
   * });
   * ```
   */
  async createClientToken(recipient: string, options: { ttlSeconds?: number } = {}): Promise<ClientToken> {
    const data = await this.#transport.request(
      doc.CreateClientTokenDocument,
      { recipient, ttlSeconds: options.ttlSeconds ?? null },
      'idempotent',
    );
    return data.createClientToken;
  }
}

/**
 * Webhook endpoints of the API key's environment. Reached as `pigeon.webhooks`.
 *
 * @example
 * ```ts
 * const { endpoint, secret } = await pigeon.webhooks.create({
 *   url: 'https://example.com/pigeon-webhooks',
 *   eventTypes: ['notification.delivered', 'notification.read'],
 * });
 * ```
 */
export class PigeonWebhooks {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * The event types an endpoint can subscribe to, with what each means.
   *
   * @example
   * ```ts
   * for (const t of await pigeon.webhooks.eventTypes()) console.log(t.name, t.description);
   * ```
   */
  async eventTypes(): Promise<{ name: string; description: string }[]> {
    return (await this.#transport.request(doc.WebhookEventTypesDocument, {}, 'idempotent')).webhookEventTypes;
  }

  /**
   * Every endpoint of the environment.
   *
   * @example
   * ```ts
   * const endpoints = await pigeon.webhooks.list();
   * ```
   */
  async list(): Promise<WebhookEndpoint[]> {
    return (await this.#transport.request(doc.WebhookEndpointsDocument, {}, 'idempotent')).webhookEndpoints;
  }

  /**
   * One endpoint, or null.
   *
   * @example
   * ```ts
   * const endpoint = await pigeon.webhooks.get(id);
   * ```
   */
  async get(id: string): Promise<WebhookEndpoint | null> {
    return (await this.#transport.request(doc.WebhookEndpointDocument, { id }, 'idempotent')).webhookEndpoint ?? null;
  }

  /**
   * Creates an endpoint and returns it with its signing secret (`whsec_…`): store the secret for
   * {@link verifyWebhook}. Not retried on ambiguous failures (it would create a second endpoint).
   *
   * @example
   * ```ts
   * const { endpoint, secret } = await pigeon.webhooks.create({ url, eventTypes: ['notification.delivered'] });
   * ```
   */
  async create(input: CreateWebhookEndpointInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const data = await this.#transport.request(doc.CreateWebhookEndpointDocument, { input }, 'once');
    const created = unwrap(data.createWebhookEndpoint, 'CreatedWebhookEndpoint') as Extract<
      typeof data.createWebhookEndpoint,
      { __typename: 'CreatedWebhookEndpoint' }
    >;
    return { endpoint: created.endpoint, secret: created.secret };
  }

  /**
   * Changes an endpoint's URL, event types or description (fields left out stay).
   *
   * @example
   * ```ts
   * await pigeon.webhooks.update(id, { eventTypes: ['notification.read'] });
   * ```
   */
  async update(id: string, input: UpdateWebhookEndpointInput): Promise<WebhookEndpoint> {
    const data = await this.#transport.request(doc.UpdateWebhookEndpointDocument, { id, input }, 'idempotent');
    return (unwrap(data.updateWebhookEndpoint, 'UpdateWebhookEndpointSuccess') as { endpoint: WebhookEndpoint }).endpoint;
  }

  /**
   * Deletes an endpoint with its deliveries and their log. Throws {@link NotFoundError} when there
   * is no such endpoint — except after a retry, when an earlier attempt whose answer was lost may
   * have deleted it: the endpoint is gone either way.
   *
   * @example
   * ```ts
   * await pigeon.webhooks.delete(id);
   * ```
   */
  async delete(id: string): Promise<void> {
    let retried = false;
    const data = await this.#transport.request(doc.DeleteWebhookEndpointDocument, { id }, 'idempotent', () => {
      retried = true;
    });
    const result = data.deleteWebhookEndpoint;
    if (retried && result.__typename === 'NotFoundError') return;
    unwrap(result, 'DeletedWebhookEndpoint');
  }

  /**
   * Shows the endpoint's signing secret (and, during a rotation, the previous one).
   *
   * @example
   * ```ts
   * const { secret } = await pigeon.webhooks.revealSecret(id);
   * ```
   */
  async revealSecret(id: string): Promise<{ secret: string; previousSecret: string | null; previousSecretExpiresAt: string | null }> {
    const data = await this.#transport.request(doc.RevealWebhookEndpointSecretDocument, { id }, 'idempotent');
    const { secret, previousSecret, previousSecretExpiresAt } = unwrap(data.revealWebhookEndpointSecret, 'WebhookEndpointSecret') as {
      secret: string;
      previousSecret: string | null;
      previousSecretExpiresAt: string | null;
    };
    return { secret, previousSecret, previousSecretExpiresAt };
  }

  /**
   * Replaces the signing secret. For `graceSeconds` (default 24 h, at most 7 days) requests carry
   * signatures by both secrets, so receivers can switch without losing a request.
   *
   * @example
   * ```ts
   * const { secret } = await pigeon.webhooks.rotateSecret(id, { graceSeconds: 3600 });
   * ```
   */
  async rotateSecret(id: string, options: { graceSeconds?: number } = {}): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const data = await this.#transport.request(
      doc.RotateWebhookEndpointSecretDocument,
      { id, graceSeconds: options.graceSeconds ?? null },
      'once',
    );
    return unwrap(data.rotateWebhookEndpointSecret, 'RotatedWebhookEndpointSecret') as { endpoint: WebhookEndpoint; secret: string };
  }

  /**
   * Stops deliveries to an endpoint (pending ones fail now; `recover` resends them later).
   *
   * @example
   * ```ts
   * await pigeon.webhooks.disable(id, { reason: 'maintenance' });
   * ```
   */
  async disable(id: string, options: { reason?: string } = {}): Promise<WebhookEndpoint> {
    const data = await this.#transport.request(doc.DisableWebhookEndpointDocument, { id, reason: options.reason ?? null }, 'idempotent');
    return (unwrap(data.disableWebhookEndpoint, 'DisableWebhookEndpointSuccess') as { endpoint: WebhookEndpoint }).endpoint;
  }

  /**
   * Re-enables an endpoint and restarts its failure clocks.
   *
   * @example
   * ```ts
   * await pigeon.webhooks.enable(id);
   * ```
   */
  async enable(id: string): Promise<WebhookEndpoint> {
    const data = await this.#transport.request(doc.EnableWebhookEndpointDocument, { id }, 'idempotent');
    return (unwrap(data.enableWebhookEndpoint, 'EnableWebhookEndpointSuccess') as { endpoint: WebhookEndpoint }).endpoint;
  }

  /**
   * Sends a `webhook.test` event through the normal delivery path.
   *
   * @example
   * ```ts
   * const delivery = await pigeon.webhooks.sendTestEvent(id, { hello: 'world' });
   * ```
   */
  async sendTestEvent(id: string, data?: Record<string, unknown>): Promise<WebhookDelivery> {
    const result = await this.#transport.request(doc.SendWebhookTestEventDocument, { id, data: data ?? null }, 'once');
    return (unwrap(result.sendWebhookTestEvent, 'SendWebhookTestEventSuccess') as { delivery: WebhookDelivery }).delivery;
  }

  /**
   * Sends one delivery again now (same `webhook-id`, same body).
   *
   * @example
   * ```ts
   * await pigeon.webhooks.redeliver(delivery.id);
   * ```
   */
  async redeliver(deliveryId: string): Promise<WebhookDelivery> {
    const data = await this.#transport.request(doc.RedeliverWebhookDocument, { id: deliveryId }, 'once');
    return (unwrap(data.redeliverWebhook, 'RedeliverWebhookSuccess') as { delivery: WebhookDelivery }).delivery;
  }

  /**
   * Resends every delivery to the endpoint that failed since `since` (at most 10,000); returns how many.
   *
   * @example
   * ```ts
   * const count = await pigeon.webhooks.recover(id, new Date(Date.now() - 86_400_000));
   * ```
   */
  async recover(id: string, since: Date | string): Promise<number> {
    const data = await this.#transport.request(
      doc.RecoverWebhookDeliveriesDocument,
      { id, since: since instanceof Date ? since.toISOString() : since },
      'once',
    );
    return (unwrap(data.recoverWebhookDeliveries, 'RecoverWebhookDeliveriesSuccess') as { recovered: { count: number } }).recovered.count;
  }

  /**
   * Deliveries, newest first, one page at a time (`first` ≤ 100; pass `after: page.endCursor`).
   *
   * @example
   * ```ts
   * const page = await pigeon.webhooks.deliveries({ filter: { status: 'FAILED' }, first: 50 });
   * ```
   */
  async deliveries(
    options: { filter?: WebhookDeliveryFilter; first?: number; after?: string } = {},
  ): Promise<{ deliveries: WebhookDelivery[]; hasNextPage: boolean; endCursor: string | null }> {
    const data = await this.#transport.request(
      doc.WebhookDeliveriesDocument,
      { filter: options.filter ?? null, first: options.first ?? 50, after: options.after ?? null },
      'idempotent',
    );
    const { edges, pageInfo } = data.webhookDeliveries;
    return { deliveries: edges.map((e) => e.node), hasNextPage: pageInfo.hasNextPage, endCursor: pageInfo.endCursor ?? null };
  }
}
