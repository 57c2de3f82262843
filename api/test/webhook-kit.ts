// Fixtures for webhook tests: a real HTTP receiver on loopback whose answers a test scripts, the
// GraphQL operations a webhook test needs, and an API plus an in-process worker allowed to reach
// loopback. Nothing here is mocked: requests go through the real worker, signer and SSRF guard.
//
// @example
// const { api, tenant, stop } = await webhookTestApi({ WEBHOOK_RETRY_SCHEDULE: '0s,300ms' });
// const receiver = await startReceiver([500, 'ok']);
// const headers = bearer(tenant.apiKey);
// const endpoint = await createEndpoint(api, headers, { url: receiver.url, eventTypes: ['notification.accepted'] });
// receiver.setSecrets(endpoint.secret);
// await sendNotification(api, headers, { to: 'ada', title: 'Hi', body: 'there' });
// const [first] = await receiver.waitFor((r) => r.length >= 2);
// expect(first?.verified).toBe(true);
// await receiver.close();
// await stop();
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WorkerRuntime, type WorkerRuntimeOptions, webhookSettings } from '@pigeon/worker';
import { parseAllowList, type TargetPolicy } from '@pigeon/worker/webhooks/target';
import { Webhook } from 'standardwebhooks';
import { createTenant, createTestApi, type GqlClient, startTestWorker, type Tenant, type TestApi } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// Polling

/**
 * Calls `probe` until `done` accepts its result, and returns that result. On timeout it throws an
 * error naming `what` and showing the last result, so a failing test says what it saw.
 *
 * @example const d = await eventually(() => getDelivery(api, headers, id), (d) => d?.status === 'SUCCEEDED', 'delivery to succeed');
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  done: (value: T) => boolean,
  what: string,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}. Last state:\n${JSON.stringify(value, null, 2)}`);
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Receiver

/**
 * How the receiver answers one request:
 * - `'ok'`: 200 with body "ok";
 * - a number: that status, with body "status N";
 * - `'hang'`: reads the request and never answers (until `close()`);
 * - `'reset'`: reads the request and destroys the socket without a response;
 * - `{ kind: 'status' }`: any status, body and headers (e.g. a huge body);
 * - `{ kind: 'retry-after' }`: 429 (or the given status, e.g. 503) with `Retry-After: <seconds>`;
 * - `{ kind: 'slow-ok' }`: 200 after `delayMs`;
 * - `{ kind: 'redirect' }`: a redirect (302 unless given) to `location`.
 */
export type Behaviour =
  | 'ok'
  | 'hang'
  | 'reset'
  | number
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'retry-after'; seconds: number | string; status?: number }
  | { kind: 'slow-ok'; delayMs: number }
  | { kind: 'redirect'; location: string; status?: number };

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  /** 0 for the receiver's first request. */
  index: number;
  method: string;
  /** Path and query string. */
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The raw body, decoded as UTF-8. */
  body: string;
  /** Wall-clock arrival (after the body was read). */
  receivedAt: Date;
  /** `performance.now()` at arrival: compare these for gaps between attempts. */
  at: number;
  /** Which of the receiver's secrets (see `setSecrets`) verify this request with `standardwebhooks`. */
  verifiedBy: string[];
  /** `verifiedBy` is not empty. */
  verified: boolean;
  /** What the receiver did with it. */
  behaviour: Behaviour;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>/hook`. */
  readonly url: string;
  /** Every request so far, oldest first (a live array). */
  readonly requests: readonly ReceivedRequest[];
  /**
   * Sets the answer for the following requests. A single behaviour answers every request; an
   * array is a script, one entry per request, whose last entry then answers all later requests
   * (`[500, 500, 'ok']`: two failures, then success for good).
   */
  setBehaviour(behaviour: Behaviour | readonly Behaviour[]): void;
  /** The secrets requests are verified with (current first); checked when each request arrives. */
  setSecrets(secrets: string | readonly string[]): void;
  /**
   * Waits until `predicate` accepts the requests so far and returns them; on timeout throws an
   * error listing what did arrive.
   */
  waitFor(predicate: (requests: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedRequest[]>;
  /** The most requests this receiver has held unanswered at once (per-endpoint concurrency). */
  readonly maxInFlight: number;
  /** The parsed JSON bodies of the requests so far (a request whose body is not JSON gives null). */
  events(): Array<{ type: string; timestamp: string; data: any } | null>;
  /** Closes the server and every connection, including ones held by 'hang'. */
  close(): Promise<void>;
}

/** Whether `request` verifies with `secret` (Standard Webhooks: id, timestamp tolerance, any of its signatures). */
export function verifies(request: Pick<ReceivedRequest, 'headers' | 'body'>, secret: string): boolean {
  try {
    new Webhook(secret).verify(request.body, request.headers);
    return true;
  } catch {
    return false;
  }
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * Starts a real HTTP server on 127.0.0.1 (a free port) that records every request and answers as
 * scripted. Close it in the test's cleanup.
 *
 * @example
 * const receiver = await startReceiver([500, 500, 'ok']);
 * receiver.setSecrets(endpoint.secret);
 * const requests = await receiver.waitFor((r) => r.length === 3);
 */
export async function startReceiver(initial: Behaviour | readonly Behaviour[] = 'ok'): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let script: readonly Behaviour[] = [];
  let secrets: readonly string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let inFlight = 0;
  let maxInFlight = 0;

  const setBehaviour = (behaviour: Behaviour | readonly Behaviour[]) => {
    script = Array.isArray(behaviour) ? [...behaviour] : [behaviour as Behaviour];
    if (script.length === 0) throw new Error('setBehaviour needs at least one behaviour');
  };
  setBehaviour(initial);

  const nextBehaviour = (): Behaviour => {
    const [first, ...rest] = script;
    if (rest.length > 0) script = rest;
    return first as Behaviour;
  };

  const answer = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = headersOf(req);
      const body = Buffer.concat(chunks).toString('utf8');
      const behaviour = nextBehaviour();
      const verifiedBy = secrets.filter((secret) => verifies({ headers, body }, secret));
      requests.push({
        index: requests.length,
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        body,
        receivedAt: new Date(),
        at: performance.now(),
        verifiedBy,
        verified: verifiedBy.length > 0,
        behaviour,
      });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => {
        inFlight -= 1;
      });
      for (const wake of waiters) wake();
      // The client may give up first (its timeout, a truncated body): that is not our error.
      res.on('error', () => {});
      if (behaviour === 'ok') answer(res, 200, 'ok');
      else if (behaviour === 'hang') return;
      else if (behaviour === 'reset') req.socket.destroy();
      else if (typeof behaviour === 'number') answer(res, behaviour, `status ${behaviour}`);
      else if (behaviour.kind === 'status')
        answer(res, behaviour.status, behaviour.body ?? `status ${behaviour.status}`, behaviour.headers);
      else if (behaviour.kind === 'retry-after')
        answer(res, behaviour.status ?? 429, 'slow down', { 'retry-after': String(behaviour.seconds) });
      else if (behaviour.kind === 'slow-ok') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(res, 200, 'ok (slow)');
        }, behaviour.delayMs);
        timers.add(timer);
      } else answer(res, behaviour.status ?? 302, 'moved', { location: behaviour.location });
    });
  });
  // A client that resets mid-request must not crash the test process.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    setBehaviour,
    get maxInFlight() {
      return maxInFlight;
    },
    setSecrets(value) {
      secrets = typeof value === 'string' ? [value] : [...value];
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      if (predicate(requests)) return requests;
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(requests)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = requests.map((r) => ({
            index: r.index,
            id: r.headers['webhook-id'],
            body: r.body.slice(0, 200),
            behaviour: r.behaviour,
          }));
          reject(
            new Error(`Receiver ${port}: condition not met after ${timeoutMs} ms. Requests so far:\n${JSON.stringify(seen, null, 2)}`),
          );
        }, timeoutMs);
        waiters.add(check);
      });
      return requests;
    },
    events() {
      return requests.map((r) => {
        try {
          return JSON.parse(r.body);
        } catch {
          return null;
        }
      });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// GraphQL

/** Throws with the whole response unless the operation returned data without errors. */
export async function gqlData<T = any>(
  api: GqlClient,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<T> {
  const { body } = await api.gql<T>(query, variables, headers);
  if (body.errors || !body.data) throw new Error(`GraphQL operation failed: ${JSON.stringify(body)}\n${query}`);
  return body.data;
}

/** The selection of a WebhookAttempt that `WebhookAttemptView` describes. */
export const ATTEMPT_FIELDS = `id trigger url startedAt durationMs requestHeaders requestBody responseStatus responseHeaders
  responseBody responseBodyTruncated errorClass errorMessage`;

/**
 * The selection of a WebhookDelivery (with its first 20 attempts, oldest first) that
 * `WebhookDeliveryView` describes. No `first:` literals: the API's cost limit multiplies by them.
 */
export const DELIVERY_FIELDS = `id webhookId endpointId eventType payload status attemptCount nextAttemptAt lastAttemptAt
  failureReason createdAt completedAt notification { id } attempts { edges { node { ${ATTEMPT_FIELDS} } } }`;

export interface WebhookAttemptView {
  id: string;
  trigger: 'SCHEDULED' | 'MANUAL';
  url: string;
  startedAt: string;
  durationMs: number;
  requestHeaders: Record<string, string>;
  requestBody: string;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseBodyTruncated: boolean;
  errorClass: string | null;
  errorMessage: string | null;
}

export interface WebhookDeliveryView {
  id: string;
  webhookId: string;
  endpointId: string;
  eventType: string;
  payload: { type: string; timestamp: string; data: any };
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
  notification: { id: string } | null;
  /** The first 20, oldest first (flattened from the connection). */
  attempts: WebhookAttemptView[];
}

export interface DeliveryFilter {
  endpointId?: string;
  notificationId?: string;
  status?: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  eventType?: string;
}

function flatten(raw: any): WebhookDeliveryView {
  return { ...raw, attempts: raw.attempts.edges.map((e: { node: WebhookAttemptView }) => e.node) };
}

/** A delivery is finished when no attempt is due any more. */
export const isFinished = (d: Pick<WebhookDeliveryView, 'status'> | null | undefined): boolean =>
  d?.status === 'SUCCEEDED' || d?.status === 'FAILED';

export interface EndpointInput {
  url: string;
  eventTypes: readonly string[];
  description?: string;
}

/**
 * Creates an endpoint and returns its id and signing secret; throws (showing the response) when
 * the API refuses it.
 */
export async function createEndpoint(
  api: GqlClient,
  headers: Record<string, string>,
  input: EndpointInput,
): Promise<{ id: string; secret: string }> {
  const data = await gqlData(
    api,
    `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
       __typename ... on CreatedWebhookEndpoint { secret endpoint { id } } ... on ValidationError { message issues { path message } } } }`,
    { input },
    headers,
  );
  const result = data.createWebhookEndpoint;
  if (result.__typename !== 'CreatedWebhookEndpoint') throw new Error(`createWebhookEndpoint refused: ${JSON.stringify(result)}`);
  return { id: result.endpoint.id, secret: result.secret };
}

/** Sends one notification (`SendInput`) and returns its id; throws unless it was accepted. */
export async function sendNotification(api: GqlClient, headers: Record<string, string>, input: Record<string, unknown>): Promise<string> {
  const data = await gqlData(
    api,
    `mutation($input: SendInput!) { send(input: $input) { __typename ... on SendSuccess { notification { id } } ... on Error { code message } } }`,
    { input },
    headers,
  );
  if (data.send.__typename !== 'SendSuccess') throw new Error(`send refused: ${JSON.stringify(data.send)}`);
  return data.send.notification.id;
}

/** Sends a webhook.test event to an endpoint and returns the new delivery's id; throws when refused. */
export async function sendTestEvent(
  api: GqlClient,
  headers: Record<string, string>,
  endpointId: string,
  data?: Record<string, unknown>,
): Promise<string> {
  const result = await gqlData(
    api,
    `mutation($id: ID!, $data: JSON) { sendWebhookTestEvent(id: $id, data: $data) {
       __typename ... on SendWebhookTestEventSuccess { delivery { id } } ... on Error { code message } } }`,
    { id: endpointId, data },
    headers,
  );
  const r = result.sendWebhookTestEvent;
  if (r.__typename !== 'SendWebhookTestEventSuccess') throw new Error(`sendWebhookTestEvent refused: ${JSON.stringify(r)}`);
  return r.delivery.id;
}

/** One delivery with its attempts, or null when the caller cannot see it. */
export async function getDelivery(api: GqlClient, headers: Record<string, string>, id: string): Promise<WebhookDeliveryView | null> {
  const data = await gqlData(api, `query($id: ID!) { webhookDelivery(id: $id) { ${DELIVERY_FIELDS} } }`, { id }, headers);
  return data.webhookDelivery ? flatten(data.webhookDelivery) : null;
}

/** The newest 20 deliveries matching `filter` (the connection's default page), newest first. */
export async function listDeliveries(
  api: GqlClient,
  headers: Record<string, string>,
  filter: DeliveryFilter = {},
): Promise<WebhookDeliveryView[]> {
  const data = await gqlData(
    api,
    `query($filter: WebhookDeliveryFilter) { webhookDeliveries(filter: $filter) { edges { node { ${DELIVERY_FIELDS} } } } }`,
    { filter },
    headers,
  );
  return data.webhookDeliveries.edges.map((e: { node: unknown }) => flatten(e.node));
}

/**
 * Polls one delivery until `until` accepts it (default: finished) and returns it; on timeout the
 * error shows the delivery's last state, attempts included.
 *
 * @example const d = await waitForDelivery(api, headers, id, (d) => d.attemptCount >= 2);
 */
export async function waitForDelivery(
  api: GqlClient,
  headers: Record<string, string>,
  id: string,
  until: (delivery: WebhookDeliveryView) => boolean = isFinished,
  options: { timeoutMs?: number } = {},
): Promise<WebhookDeliveryView> {
  const delivery = await eventually(
    () => getDelivery(api, headers, id),
    (d) => d !== null && until(d),
    `delivery ${id}`,
    options,
  );
  return delivery as WebhookDeliveryView;
}

/**
 * Polls the deliveries matching `filter` until `until` accepts the list (newest first) and
 * returns it; on timeout the error shows the last list.
 *
 * @example const [d] = await waitForDeliveries(api, headers, { endpointId }, (l) => l.length === 1 && l.every(isFinished));
 */
export async function waitForDeliveries(
  api: GqlClient,
  headers: Record<string, string>,
  filter: DeliveryFilter,
  until: (deliveries: WebhookDeliveryView[]) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<WebhookDeliveryView[]> {
  return eventually(() => listDeliveries(api, headers, filter), until, `deliveries matching ${JSON.stringify(filter)}`, options);
}

// ---------------------------------------------------------------------------------------------
// API and worker

/** A target policy that lets webhooks reach loopback receivers (nothing else is added). */
export function loopbackTargets(): TargetPolicy {
  return { allow: parseAllowList('127.0.0.0/8') };
}

export interface WebhookTestApi {
  api: TestApi;
  tenant: Tenant;
  /** The worker started with the API (null when `worker: false`). */
  worker: WorkerRuntime | null;
  /** The loopback target policy given to the API and the worker. */
  targets: TargetPolicy;
  /**
   * Starts (another) worker for this API with the API's webhook settings plus `overrides`, e.g.
   * `{ webhooks: { ...settings, disableAfterExhausted: 2 } }`. The caller stops it.
   */
  startWorker(overrides?: Partial<Omit<WorkerRuntimeOptions, 'db' | 'log'>>): Promise<WorkerRuntime>;
  /** Stops the worker started with the API, then closes the API (dropping its database). */
  stop(): Promise<void>;
}

/**
 * A test API (own database and Redis prefix) whose endpoints may point at loopback, a tenant, and
 * the real workers in-process with the same webhook settings (read from `envOverrides`, e.g.
 * `WEBHOOK_RETRY_SCHEDULE: '0s,300ms'`, `WEBHOOK_RETRY_JITTER: '0'`, `WEBHOOK_TIMEOUT_MS: '1000'`).
 *
 * @example
 * const t = await webhookTestApi({ WEBHOOK_RETRY_SCHEDULE: '0s,300ms', WEBHOOK_RETRY_JITTER: '0' });
 * afterAll(() => t.stop());
 */
export async function webhookTestApi(
  envOverrides: Record<string, string> = {},
  options: { worker?: boolean | Partial<Omit<WorkerRuntimeOptions, 'db' | 'log'>> } = {},
): Promise<WebhookTestApi> {
  const targets = loopbackTargets();
  const api = await createTestApi(envOverrides, { webhookTargets: targets });
  const startWorker = (overrides: Partial<Omit<WorkerRuntimeOptions, 'db' | 'log'>> = {}) =>
    startTestWorker(api, { webhooks: { ...webhookSettings(api.env), targets }, ...overrides });
  try {
    const tenant = await createTenant(api);
    const worker = options.worker === false ? null : await startWorker(options.worker === true ? {} : options.worker);
    return {
      api,
      tenant,
      worker,
      targets,
      startWorker,
      async stop() {
        await worker?.stop();
        await api.close();
      },
    };
  } catch (error) {
    await api.close();
    throw error;
  }
}
