// Load and bookkeeping for the fault tests: senders through the Node SDK that record every answer,
// inbox followers (graphql-sse subscribers that resubscribe with their last cursor, forever, and
// note every sequence they receive), a webhook receiver on loopback that records every request by
// its webhook-id, the scenario that sets them all up for a fresh tenant and starts the load, and
// the final count against PostgreSQL (the ledger) printed as one block.
//
//   const scenario = await startScenario(platform, { bases: () => [api.base], recipientPrefix: 'worker-kill',
//     recipientCount: 8, ratePerSecond: 60 }, defer);   // tenant, template, receiver, followers, load
//   ... break things ...
//   await scenario.load.stop();
//   const counts = await settleAndCount(scenario, settleMs);
//   printReport('worker kill -9', actions, counts);
//   expect(invariantViolations(counts)).toEqual([]);
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pigeon, PigeonError, verifyWebhook } from '@pigeon/node';
import { createClient, type ExecutionResult } from 'graphql-sse';
import type { Tenant } from '../../api/test/harness.ts';
import { type Platform, query } from './platform.ts';
import { sleep } from './services.ts';

// ---------------------------------------------------------------------------------------------
// Tenant setup

/** The template the load uses: renders with `{ name }`, fails (FAILED with a reason) without it. */
export const TEMPLATE_KEY = 'fault-greeting';

export async function createTemplate(base: string, apiKey: string): Promise<void> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      query: `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Error { message } } }`,
      variables: { input: { key: TEMPLATE_KEY, title: 'Hello {{ name }}', body: 'You have {{ count }} new messages.' } },
    }),
  });
  const body = (await res.json()) as { data?: { createTemplate?: { __typename: string } } };
  if (body.data?.createTemplate?.__typename !== 'CreateTemplateSuccess') throw new Error(`createTemplate failed: ${JSON.stringify(body)}`);
}

/** Every notification.* event a delivery can report: what the receiver subscribes to. */
export const WEBHOOK_EVENTS = ['notification.accepted', 'notification.delivered', 'notification.failed'] as const;

export async function createWebhookEndpoint(base: string, apiKey: string, url: string): Promise<{ id: string; secret: string }> {
  const pigeon = new Pigeon({ apiKey, baseUrl: base, maxRetries: 0 });
  const { endpoint, secret } = await pigeon.webhooks.create({ url, eventTypes: [...WEBHOOK_EVENTS], description: 'fault test receiver' });
  return { id: endpoint.id, secret };
}

export async function mintToken(base: string, apiKey: string, recipient: string): Promise<string> {
  const pigeon = new Pigeon({ apiKey, baseUrl: base, maxRetries: 2 });
  return (await pigeon.createClientToken(recipient, { ttlSeconds: 6 * 3600 })).token;
}

// ---------------------------------------------------------------------------------------------
// Sends

export type SendKind = 'inline' | 'template' | 'template-fail';

export interface Attempt {
  via: string;
  startedAt: number;
  endedAt: number;
  /** ok: a success answer; error: an error answer; refused: no connection; no-answer: sent, no reply. */
  outcome: 'ok' | 'error' | 'refused' | 'no-answer';
  id?: string;
  duplicate?: boolean;
  code?: string;
  status?: number;
  message?: string;
}

export interface SendRecord {
  key: string;
  to: string;
  kind: SendKind;
  attempts: Attempt[];
}

/** Every send and every answer it got, in order. */
export class SendLedger {
  readonly records: SendRecord[] = [];

  /** The success answers (one per acknowledged key: the first). */
  acknowledged(): Map<string, Attempt> {
    const acks = new Map<string, Attempt>();
    for (const r of this.records) {
      const ok = r.attempts.find((a) => a.outcome === 'ok');
      if (ok) acks.set(r.key, ok);
    }
    return acks;
  }

  attempts(): Attempt[] {
    return this.records.flatMap((r) => r.attempts);
  }
}

function classifyFailure(error: unknown): Pick<Attempt, 'outcome' | 'code' | 'status' | 'message'> {
  if (error instanceof PigeonError) {
    if (error.code === 'NETWORK_ERROR') {
      return { outcome: /ECONNREFUSED/.test(error.message) ? 'refused' : 'no-answer', code: error.code, message: error.message };
    }
    return { outcome: 'error', code: error.code, status: error.status, message: error.message };
  }
  return { outcome: 'error', code: 'THROWN', message: error instanceof Error ? error.message : String(error) };
}

export interface LoadOptions {
  apiKey: string;
  /** Where to send; each send goes to the next base in turn. */
  bases: () => readonly string[];
  recipients: readonly string[];
  /** Senders running at once. */
  concurrency?: number;
  /** Target sends per second, all senders together. */
  ratePerSecond: number;
  /**
   * Retries of a send that got no success answer (refused, no answer, 5xx), with the same
   * idempotency key, through the next base. Default 0: every send is tried once.
   */
  retries?: number;
  /** Share of sends that use the template with data (DELIVERED) and without (FAILED). */
  mix?: { template: number; templateFail: number };
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export interface Load {
  /** Stops starting sends and waits for those in flight. */
  stop(): Promise<void>;
  readonly startedAt: number;
}

export function startLoad(ledger: SendLedger, options: LoadOptions): Load {
  const { concurrency = 8, retries = 0, mix = { template: 0.1, templateFail: 0.05 }, timeoutMs = 10_000 } = options;
  const clients = new Map<string, Pigeon>();
  const client = (base: string) => {
    let c = clients.get(base);
    if (!c) {
      c = new Pigeon({ apiKey: options.apiKey, baseUrl: base, maxRetries: 0, timeoutMs });
      clients.set(base, c);
    }
    return c;
  };
  let stopping = false;
  let counter = 0;
  let turn = 0;
  const startedAt = Date.now();
  const intervalMs = (concurrency * 1000) / options.ratePerSecond;
  const runId = startedAt.toString(36);

  const sendOnce = async (record: SendRecord, base: string, input: Parameters<Pigeon['send']>[0]) => {
    const startedAt = Date.now();
    try {
      const result = await client(base).send(input);
      record.attempts.push({
        via: base,
        startedAt,
        endedAt: Date.now(),
        outcome: 'ok',
        id: result.notification.id,
        duplicate: result.duplicate,
      });
      return true;
    } catch (error) {
      record.attempts.push({ via: base, startedAt, endedAt: Date.now(), ...classifyFailure(error) });
      return false;
    }
  };

  const sender = async () => {
    while (!stopping) {
      const began = Date.now();
      const n = counter++;
      const to = options.recipients[n % options.recipients.length] as string;
      const roll = (n * 7919) % 1000;
      const kind: SendKind =
        roll < mix.templateFail * 1000 ? 'template-fail' : roll < (mix.templateFail + mix.template) * 1000 ? 'template' : 'inline';
      const key = `fault-${runId}-${n}`;
      const input =
        kind === 'inline'
          ? { to, title: `Fault test #${n}`, body: `Notification ${n} for ${to}.`, idempotencyKey: key }
          : { to, template: TEMPLATE_KEY, data: kind === 'template' ? { name: to, count: n } : { count: n }, idempotencyKey: key };
      const record: SendRecord = { key, to, kind, attempts: [] };
      ledger.records.push(record);
      let index = turn++;
      for (let attempt = 0; attempt <= retries; attempt++, index++) {
        // A retry goes to the next process after the one that failed.
        const bases = options.bases();
        const base = bases[index % bases.length] as string;
        if (await sendOnce(record, base, input)) break;
        const last = record.attempts.at(-1) as Attempt;
        // An error answer other than a server failure is final (the request was judged).
        if (last.outcome === 'error' && !(last.status !== undefined && last.status >= 500) && last.code !== 'INTERNAL_SERVER_ERROR') break;
        if (attempt < retries) await sleep(100);
      }
      const wait = began + intervalMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
  };
  const running = Array.from({ length: concurrency }, () => sender());
  return {
    startedAt,
    async stop() {
      stopping = true;
      await Promise.all(running);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Inbox followers

interface EventData {
  cursor: string;
  seq: number;
  type: string;
}

const INBOX_EVENTS = /* GraphQL */ `
  subscription($after: String) { inboxEvents(after: $after) { cursor seq type } }
`;

/**
 * One recipient's live inbox as a client sees it: subscribes, and after any failure resubscribes
 * with the last cursor it received (what the React SDK does), moving to the next API process when
 * one fails. Records how often each sequence number arrived and every jump ahead.
 */
export class InboxFollower {
  readonly recipient: string;
  /** seq → how many times it arrived (CONNECTED excluded). */
  readonly received = new Map<number, number>();
  lastSeq = 0;
  cursor: string | undefined;
  /** Live jumps ahead (an event whose seq is more than one past the last). */
  jumps = 0;
  /** Events that were not newer than the last one (repeats or reordering). */
  stale = 0;
  resyncs = 0;
  subscriptions = 0;
  /** Subscriptions that ended or failed (each followed by a resubscription). */
  interruptions = 0;
  /** Resubscriptions that landed on another API process than the stream before. */
  moves = 0;
  /** Error payloads and transport errors seen (the last few). */
  readonly problems: string[] = [];
  problemCount = 0;
  private readonly token: string;
  private readonly bases: () => readonly string[];
  private baseIndex: number;
  private lastBase: string | null = null;
  private failuresInARow = 0;
  private stopped = false;
  private dispose: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(recipient: string, token: string, bases: () => readonly string[], preferredBase = 0) {
    this.recipient = recipient;
    this.token = token;
    this.bases = bases;
    this.baseIndex = preferredBase;
  }

  /** Subscribes and resolves on the first event (CONNECTED, or a replayed one). */
  async start(timeoutMs = 20_000): Promise<void> {
    this.subscribe();
    const deadline = Date.now() + timeoutMs;
    while (this.subscriptions === 0 || (this.cursor === undefined && Date.now() < deadline)) await sleep(20);
    if (this.cursor === undefined) throw new Error(`${this.recipient}: no first event after ${timeoutMs} ms: ${this.problems.join('; ')}`);
  }

  private problem(text: string): void {
    this.problemCount += 1;
    this.problems.push(text.slice(0, 300));
    if (this.problems.length > 5) this.problems.shift();
  }

  private subscribe(): void {
    if (this.stopped) return;
    const bases = this.bases();
    const base = bases[this.baseIndex % bases.length] as string;
    if (this.lastBase !== null && base !== this.lastBase) this.moves += 1;
    this.lastBase = base;
    this.subscriptions += 1;
    const client = createClient({
      url: `${base}/graphql/stream`,
      headers: { authorization: `Bearer ${this.token}` },
      retryAttempts: 0,
    });
    let ended = false;
    const end = (why: string | null) => {
      if (ended) return;
      ended = true;
      client.dispose();
      if (this.dispose === cancel) this.dispose = null;
      if (this.stopped) return;
      if (why) this.problem(why);
      this.interruptions += 1;
      this.failuresInARow += 1;
      // Move on to the next process after a failure; capped backoff, forever.
      this.baseIndex += 1;
      const delay = Math.min(2_000, 100 * 2 ** Math.min(this.failuresInARow - 1, 5));
      this.timer = setTimeout(() => this.subscribe(), delay);
    };
    const unsubscribe = client.subscribe<{ inboxEvents: EventData }>(
      { query: INBOX_EVENTS, variables: this.cursor === undefined ? {} : { after: this.cursor } },
      {
        next: (result: ExecutionResult<{ inboxEvents: EventData }>) => {
          const event = result.data?.inboxEvents;
          if (!event || result.errors) {
            end(`error payload: ${JSON.stringify(result.errors ?? result)}`);
            return;
          }
          this.failuresInARow = 0;
          this.onEvent(event);
        },
        complete: () => end(this.stopped ? null : 'the server completed the stream'),
        error: (error: unknown) => end(`transport: ${error instanceof Error ? error.message : JSON.stringify(error)}`),
      },
    );
    const cancel = () => {
      ended = true;
      unsubscribe();
      client.dispose();
    };
    this.dispose = cancel;
  }

  private onEvent(event: EventData): void {
    if (event.type === 'CONNECTED') {
      // Only the first subscription starts without a cursor; its CONNECTED names the start.
      this.lastSeq = event.seq;
      this.cursor = event.cursor;
      return;
    }
    if (event.type === 'RESYNC') {
      this.resyncs += 1;
      this.problem(`RESYNC at ${event.seq}`);
      this.cursor = event.cursor;
      return;
    }
    this.received.set(event.seq, (this.received.get(event.seq) ?? 0) + 1);
    if (event.seq <= this.lastSeq) {
      this.stale += 1;
      return;
    }
    if (event.seq > this.lastSeq + 1) this.jumps += 1;
    this.lastSeq = event.seq;
    this.cursor = event.cursor;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.dispose?.();
    this.dispose = null;
  }
}

/** Mints a token per recipient and starts a follower for each, spread over `bases`. */
export async function startFollowers(
  tokenBase: string,
  apiKey: string,
  recipients: readonly string[],
  bases: () => readonly string[],
): Promise<InboxFollower[]> {
  const followers: InboxFollower[] = [];
  for (const [i, recipient] of recipients.entries()) {
    const token = await mintToken(tokenBase, apiKey, recipient);
    followers.push(new InboxFollower(recipient, token, bases, i));
  }
  await Promise.all(followers.map((f) => f.start()));
  return followers;
}

// ---------------------------------------------------------------------------------------------
// Webhook receiver

interface ReceivedWebhook {
  count: number;
  type: string;
  notificationId: string | null;
  /** Every body received under this id was byte-identical. */
  sameBody: boolean;
  firstBody: string;
}

export interface WebhookReceiver {
  readonly url: string;
  /** webhook-id → what arrived under it. */
  readonly byId: Map<string, ReceivedWebhook>;
  readonly requests: number;
  readonly badSignatures: number;
  /** Requests answered 503 on purpose (first attempt of about one id in `failFirstOneIn`). */
  readonly refusedOnPurpose: number;
  setSecret(secret: string): void;
  close(): Promise<void>;
}

/**
 * A Standard Webhooks receiver on 127.0.0.1 that verifies every request and records it by its
 * webhook-id. The first request of about one id in `failFirstOneIn` is answered 503, so retries
 * (with the same id) are part of every run.
 */
export async function startWebhookReceiver({ failFirstOneIn = 20 }: { failFirstOneIn?: number } = {}): Promise<WebhookReceiver> {
  const byId = new Map<string, ReceivedWebhook>();
  let secret = '';
  let requests = 0;
  let badSignatures = 0;
  let refusedOnPurpose = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      let type = '?';
      let notificationId: string | null = null;
      try {
        const event = verifyWebhook(body, req.headers as Record<string, string>, secret) as { type: string; data: { id?: string } };
        type = event.type;
        notificationId = event.data?.id ?? null;
      } catch {
        badSignatures += 1;
      }
      const seen = byId.get(id);
      if (seen) {
        seen.count += 1;
        if (seen.firstBody !== body) seen.sameBody = false;
      } else byId.set(id, { count: 1, type, notificationId, sameBody: true, firstBody: body });
      const refuse = !seen && failFirstOneIn > 0 && parseInt(id.replace(/-/g, '').slice(-6), 16) % failFirstOneIn === 0;
      res.on('error', () => {});
      if (refuse) {
        refusedOnPurpose += 1;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('try again');
      } else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    byId,
    get requests() {
      return requests;
    },
    get badSignatures() {
      return badSignatures;
    },
    get refusedOnPurpose() {
      return refusedOnPurpose;
    },
    setSecret(value) {
      secret = value;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The scenario

export interface ScenarioOptions extends Omit<LoadOptions, 'apiKey' | 'bases' | 'recipients'> {
  /**
   * The API processes the load and the followers use: each send goes to the next base in turn (a
   * retry to the one after), follower i starts on the i-th. The tenant, its template, the webhook
   * endpoint and the followers' tokens are created through the first.
   */
  bases: () => readonly string[];
  /** Recipients `<prefix>-0` … `<prefix>-<count - 1>`, each with a live follower. */
  recipientPrefix: string;
  recipientCount: number;
}

/** A running scenario; it is what `settleAndCount` observes (one webhook endpoint: the receiver's). */
export interface Scenario extends Observed {
  tenant: Tenant;
  receiver: WebhookReceiver;
  recipients: string[];
  followers: InboxFollower[];
  ledger: SendLedger;
  load: Load;
}

/**
 * The setup every load-carrying fault test shares: a tenant with the load's template, a webhook
 * receiver with one endpoint pointing at it, a live follower per recipient, and the load, started.
 * Each is `defer`red for clean-up: the load is stopped first, then the followers, then the receiver.
 */
export async function startScenario(platform: Platform, options: ScenarioOptions, defer: (step: () => unknown) => void): Promise<Scenario> {
  const { bases, recipientPrefix, recipientCount, ...loadOptions } = options;
  const first = bases()[0];
  if (!first) throw new Error('no API base');
  const tenant = await platform.createTenant(first);
  await createTemplate(first, tenant.apiKey);
  const receiver = await startWebhookReceiver();
  defer(() => receiver.close());
  const endpoint = await createWebhookEndpoint(first, tenant.apiKey, receiver.url);
  receiver.setSecret(endpoint.secret);
  const recipients = Array.from({ length: recipientCount }, (_, i) => `${recipientPrefix}-${i}`);
  const followers = await startFollowers(first, tenant.apiKey, recipients, bases);
  defer(() => {
    for (const f of followers) f.stop();
  });

  const ledger = new SendLedger();
  const load = startLoad(ledger, { ...loadOptions, apiKey: tenant.apiKey, bases, recipients });
  defer(() => load.stop());
  return { platform, tenant, receiver, endpoints: 1, recipients, followers, ledger, load };
}

// ---------------------------------------------------------------------------------------------
// Settling and counting

export interface Counts {
  sends: {
    sent: number;
    attempts: number;
    acknowledged: number;
    /** Success answers that said duplicate: true (a retry of a send that had been stored). */
    duplicateAnswers: number;
    errorsAnswered: number;
    errorCodes: Record<string, number>;
    refused: number;
    noAnswer: number;
    /** Sends that never got a success answer although a notification was stored for them. */
    storedWithoutAck: number;
    /** Time to a success answer: p50, p99, max (ms). */
    latencyMs: { p50: number; p99: number; max: number };
  };
  notifications: {
    persisted: number;
    delivered: number;
    failed: number;
    failedWithoutReason: number;
    stillAccepted: number;
    failureReasons: Record<string, number>;
  };
  /** Acknowledged sends not stored, or stored but never DELIVERED/FAILED. */
  lost: number;
  lostKeys: string[];
  duplicated: {
    /** Idempotency keys with more than one notification row. */
    notificationsPerKey: number;
    /** Keys whose success answers named different notifications. */
    answersWithTwoIds: number;
    /** Inbox events (sequence numbers) a follower received more than once. */
    inboxEvents: number;
    /** Webhook-ids received more than once (allowed), and the extra requests they took. */
    webhookIdsRepeated: number;
    webhookRepeatRequests: number;
    /** One event (type + notification) received under two different webhook-ids (not allowed). */
    webhookEventsUnderTwoIds: number;
    /** A repeat of a webhook-id whose body differed (not allowed). */
    webhookRepeatsWithOtherBody: number;
  };
  inbox: {
    recipients: number;
    events: number;
    /** Sequence numbers missing from inbox_events (1..last_seq). */
    databaseHoles: number;
    /** DELIVERED notifications without their inbox event. */
    deliveredWithoutEvent: number;
    eventsReceived: number;
    /** Sequence numbers (1..last_seq) a follower never received. */
    streamHoles: number;
    liveJumps: number;
    staleEvents: number;
    resyncs: number;
    resubscriptions: number;
    movedToOtherProcess: number;
    streamProblems: number;
    behind: number;
  };
  webhooks: {
    deliveries: number;
    byType: Record<string, number>;
    /** Deliveries a notification's events call for that have no row (accepted for every stored one, delivered/failed by status). */
    missingRows: number;
    succeeded: number;
    pending: number;
    failed: number;
    requests: number;
    neverReceived: number;
    unknownIds: number;
    badSignatures: number;
    refusedOnPurpose: number;
  };
  settledAfterMs: number;
}

export interface Observed {
  platform: Platform;
  ledger: SendLedger;
  followers: readonly InboxFollower[];
  receiver: WebhookReceiver | null;
  /** Endpoints subscribed to WEBHOOK_EVENTS (the receiver's). */
  endpoints: number;
}

/**
 * Waits until the platform has finished everything it accepted — no ACCEPTED notification, no
 * PENDING webhook delivery, every follower caught up with its recipient's last sequence, every
 * SUCCEEDED delivery seen by the receiver — then counts. Never throws on timeout: the counts show
 * what was left.
 */
export async function settleAndCount(
  observed: Observed,
  timeoutMs: number,
  { progressEveryMs = 0 }: { progressEveryMs?: number } = {},
): Promise<Counts> {
  const { platform } = observed;
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    const [state] = await query<{ accepted: number; pending: number }>(
      platform.sql,
      `SELECT (SELECT count(*)::int FROM notifications WHERE status = 'ACCEPTED') AS accepted,
              (SELECT count(*)::int FROM webhook_deliveries WHERE status = 'PENDING') AS pending`,
    );
    const seqs = await recipientSeqs(platform);
    const behind = observed.followers.filter((f) => f.lastSeq < (seqs.get(f.recipient) ?? 0)).length;
    let unseen = 0;
    if (observed.receiver && state?.pending === 0) {
      const ids = await query<{ id: string }>(platform.sql, `SELECT id::text FROM webhook_deliveries WHERE status = 'SUCCEEDED'`);
      unseen = ids.filter((r) => !observed.receiver?.byId.has(r.id)).length;
    }
    if (progressEveryMs > 0 && Date.now() - lastProgress >= progressEveryMs) {
      lastProgress = Date.now();
      console.log(
        `settling ${((Date.now() - started) / 1000).toFixed(0)} s: ACCEPTED ${state?.accepted}, webhook deliveries PENDING ${state?.pending}, followers behind ${behind}`,
      );
    }
    if (state?.accepted === 0 && state.pending === 0 && behind === 0 && unseen === 0) break;
    if (Date.now() - started > timeoutMs) break;
    await sleep(250);
  }
  const settledAfterMs = Date.now() - started;
  return { ...(await count(observed)), settledAfterMs };
}

async function recipientSeqs(platform: Platform): Promise<Map<string, number>> {
  const rows = await query<{ external_id: string; last_seq: number }>(platform.sql, `SELECT external_id, last_seq FROM recipients`);
  return new Map(rows.map((r) => [r.external_id, r.last_seq]));
}

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

const tally = (values: Iterable<string>) => {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
};

async function count(observed: Observed): Promise<Omit<Counts, 'settledAfterMs'>> {
  const { platform, ledger, followers, receiver } = observed;
  const sql = platform.sql;
  const attempts = ledger.attempts();
  const acks = ledger.acknowledged();

  const rows = await query<{ id: string; key: string | null; status: string; failure_reason: string | null; delivered_seq: number | null }>(
    sql,
    `SELECT id::text, idempotency_key AS key, status::text, failure_reason, delivered_seq FROM notifications`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const keysStored = new Set(rows.map((r) => r.key));
  const lostKeys: string[] = [];
  for (const [key, ack] of acks) {
    const row = byId.get(ack.id as string);
    if (!row || row.key !== key || (row.status !== 'DELIVERED' && row.status !== 'FAILED')) lostKeys.push(key);
  }
  const answersWithTwoIds = ledger.records.filter(
    (r) => new Set(r.attempts.filter((a) => a.outcome === 'ok').map((a) => a.id)).size > 1,
  ).length;
  const [perKey] = await query<{ n: number }>(
    sql,
    `SELECT count(*)::int AS n FROM (SELECT idempotency_key FROM notifications GROUP BY environment_id, idempotency_key HAVING count(*) > 1) d`,
  );
  const failed = rows.filter((r) => r.status === 'FAILED');
  const reasons = tally(failed.map((r) => (r.failure_reason ?? '(none)').replace(/\d+/g, 'N').slice(0, 80)));

  // Inbox: the database's sequences, then what the followers saw of them.
  const seqRows = await query<{ external_id: string; last_seq: number; events: number; distinct_seqs: number; max_seq: number | null }>(
    sql,
    `SELECT r.external_id, r.last_seq, count(e.seq)::int AS events, count(DISTINCT e.seq)::int AS distinct_seqs, max(e.seq) AS max_seq
       FROM recipients r LEFT JOIN inbox_events e ON e.recipient_id = r.id GROUP BY r.id`,
  );
  let databaseHoles = 0;
  for (const r of seqRows) databaseHoles += r.last_seq - r.distinct_seqs + (r.max_seq !== null && r.max_seq > r.last_seq ? 1 : 0);
  const [withoutEvent] = await query<{ n: number }>(
    sql,
    `SELECT count(*)::int AS n FROM notifications n WHERE n.status = 'DELIVERED'
        AND NOT EXISTS (SELECT 1 FROM inbox_events e WHERE e.notification_id = n.id AND e.type = 'DELIVERED')`,
  );
  const lastSeq = new Map(seqRows.map((r) => [r.external_id, r.last_seq]));
  let streamHoles = 0;
  let repeatedSeqs = 0;
  let eventsReceived = 0;
  let behind = 0;
  for (const f of followers) {
    const last = lastSeq.get(f.recipient) ?? 0;
    if (f.lastSeq < last) behind += 1;
    for (let seq = 1; seq <= last; seq++) if (!f.received.has(seq)) streamHoles += 1;
    for (const times of f.received.values()) {
      eventsReceived += times;
      if (times > 1) repeatedSeqs += 1;
    }
  }

  // Webhooks: the ledger's rows against what the receiver got.
  const deliveries = await query<{ id: string; event_type: string; status: string; notification_id: string | null }>(
    sql,
    `SELECT id::text, event_type, status::text, notification_id::text FROM webhook_deliveries`,
  );
  const rowIds = new Set(deliveries.map((d) => d.id));
  const rowsFor = new Map<string, number>();
  for (const d of deliveries)
    rowsFor.set(`${d.event_type}/${d.notification_id}`, (rowsFor.get(`${d.event_type}/${d.notification_id}`) ?? 0) + 1);
  let missingRows = 0;
  const endpoints = receiver ? observed.endpoints : 0;
  if (endpoints > 0) {
    for (const n of rows) {
      const expected = ['notification.accepted'];
      if (n.status === 'DELIVERED') expected.push('notification.delivered');
      if (n.status === 'FAILED') expected.push('notification.failed');
      for (const type of expected) missingRows += Math.max(0, endpoints - (rowsFor.get(`${type}/${n.id}`) ?? 0));
    }
  }
  let neverReceived = 0;
  let unknownIds = 0;
  let repeatedIds = 0;
  let repeatRequests = 0;
  let otherBody = 0;
  const idsPerEvent = new Map<string, Set<string>>();
  if (receiver) {
    for (const d of deliveries) if (!receiver.byId.has(d.id)) neverReceived += 1;
    for (const [id, w] of receiver.byId) {
      if (!rowIds.has(id)) unknownIds += 1;
      if (w.count > 1) {
        repeatedIds += 1;
        repeatRequests += w.count - 1;
      }
      if (!w.sameBody) otherBody += 1;
      const event = `${w.type}/${w.notificationId}`;
      const set = idsPerEvent.get(event) ?? new Set<string>();
      set.add(id);
      idsPerEvent.set(event, set);
    }
  }
  const underTwoIds = [...idsPerEvent.values()].filter((s) => s.size > 1).length;

  const errorAttempts = attempts.filter((a) => a.outcome === 'error');
  return {
    sends: {
      sent: ledger.records.length,
      attempts: attempts.length,
      acknowledged: acks.size,
      duplicateAnswers: attempts.filter((a) => a.outcome === 'ok' && a.duplicate).length,
      errorsAnswered: errorAttempts.length,
      errorCodes: tally(errorAttempts.map((a) => `${a.code}${a.status ? `/${a.status}` : ''}`)),
      refused: attempts.filter((a) => a.outcome === 'refused').length,
      noAnswer: attempts.filter((a) => a.outcome === 'no-answer').length,
      storedWithoutAck: ledger.records.filter((r) => !acks.has(r.key) && keysStored.has(r.key)).length,
      latencyMs: percentiles(attempts.filter((a) => a.outcome === 'ok').map((a) => a.endedAt - a.startedAt)),
    },
    notifications: {
      persisted: rows.length,
      delivered: rows.filter((r) => r.status === 'DELIVERED').length,
      failed: failed.length,
      failedWithoutReason: failed.filter((r) => !r.failure_reason).length,
      stillAccepted: rows.filter((r) => r.status === 'ACCEPTED').length,
      failureReasons: reasons,
    },
    lost: lostKeys.length,
    lostKeys: lostKeys.slice(0, 10),
    duplicated: {
      notificationsPerKey: perKey?.n ?? 0,
      answersWithTwoIds,
      inboxEvents: repeatedSeqs,
      webhookIdsRepeated: repeatedIds,
      webhookRepeatRequests: repeatRequests,
      webhookEventsUnderTwoIds: underTwoIds,
      webhookRepeatsWithOtherBody: otherBody,
    },
    inbox: {
      recipients: seqRows.length,
      events: seqRows.reduce((s, r) => s + r.events, 0),
      databaseHoles,
      deliveredWithoutEvent: withoutEvent?.n ?? 0,
      eventsReceived,
      streamHoles,
      liveJumps: followers.reduce((s, f) => s + f.jumps, 0),
      staleEvents: followers.reduce((s, f) => s + f.stale, 0),
      resyncs: followers.reduce((s, f) => s + f.resyncs, 0),
      resubscriptions: followers.reduce((s, f) => s + f.subscriptions - 1, 0),
      movedToOtherProcess: followers.reduce((s, f) => s + f.moves, 0),
      streamProblems: followers.reduce((s, f) => s + f.problemCount, 0),
      behind,
    },
    webhooks: {
      deliveries: deliveries.length,
      byType: tally(deliveries.map((d) => d.event_type)),
      missingRows,
      succeeded: deliveries.filter((d) => d.status === 'SUCCEEDED').length,
      pending: deliveries.filter((d) => d.status === 'PENDING').length,
      failed: deliveries.filter((d) => d.status === 'FAILED').length,
      requests: receiver?.requests ?? 0,
      neverReceived,
      unknownIds,
      badSignatures: receiver?.badSignatures ?? 0,
      refusedOnPurpose: receiver?.refusedOnPurpose ?? 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The report

const fmt = (record: Record<string, number>) =>
  Object.entries(record)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

/** Prints what a fault test did and what it counted, as one block that can be quoted. */
export function printReport(title: string, actions: readonly string[], counts: Counts, extra: readonly string[] = []): void {
  const { sends: s, notifications: n, duplicated: d, inbox: i, webhooks: w } = counts;
  const lines = [
    `=== fault test: ${title} ===`,
    ...actions.map((a) => `did        : ${a}`),
    `sends      : sent ${s.sent}, attempts ${s.attempts}, acknowledged ${s.acknowledged} (of them duplicate: true ${s.duplicateAnswers}), ` +
      `errors answered ${s.errorsAnswered} [${fmt(s.errorCodes)}], refused connections ${s.refused}, no answer ${s.noAnswer}, ` +
      `stored without a success answer ${s.storedWithoutAck}; success answers in p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, max ${s.latencyMs.max} ms`,
    `outcome    : persisted ${n.persisted}, delivered ${n.delivered}, failed ${n.failed} (without reason ${n.failedWithoutReason}), ` +
      `still ACCEPTED ${n.stillAccepted}, LOST ${counts.lost}${counts.lost ? ` ${JSON.stringify(counts.lostKeys)}` : ''}`,
    `reasons    : ${fmt(n.failureReasons)}`,
    `duplicated : notifications per idempotency key > 1: ${d.notificationsPerKey}; keys answered with two ids: ${d.answersWithTwoIds}; ` +
      `inbox events received twice: ${d.inboxEvents}; webhook-ids received more than once: ${d.webhookIdsRepeated} ` +
      `(${d.webhookRepeatRequests} extra requests, all with the same id and body: ${d.webhookRepeatsWithOtherBody === 0 ? 'yes' : 'NO'}); ` +
      `one event under two webhook-ids: ${d.webhookEventsUnderTwoIds}`,
    `inbox      : recipients ${i.recipients}, events ${i.events}, database sequence holes ${i.databaseHoles}, ` +
      `delivered without event ${i.deliveredWithoutEvent}; streams received ${i.eventsReceived}, stream holes ${i.streamHoles}, ` +
      `live jumps ${i.liveJumps}, stale ${i.staleEvents}, resyncs ${i.resyncs}, resubscriptions ${i.resubscriptions} ` +
      `(moved to another process ${i.movedToOtherProcess}), stream errors seen ${i.streamProblems}, followers behind ${i.behind}`,
    `webhooks   : deliveries ${w.deliveries} [${fmt(w.byType)}], missing rows ${w.missingRows}, succeeded ${w.succeeded}, ` +
      `pending ${w.pending}, failed ${w.failed}; requests received ${w.requests} (503 on purpose ${w.refusedOnPurpose}), ` +
      `ids never received ${w.neverReceived}, unknown ids ${w.unknownIds}, bad signatures ${w.badSignatures}`,
    ...extra.map((e) => `measured   : ${e}`),
    `settled    : ${(counts.settledAfterMs / 1000).toFixed(1)} s after the load stopped`,
  ];
  console.log(lines.join('\n'));
}

/** The invariants every load-carrying fault test asserts (each test adds its own). */
export function invariantViolations(counts: Counts, { webhooks = true }: { webhooks?: boolean } = {}): string[] {
  const { sends: s, notifications: n, duplicated: d, inbox: i, webhooks: w } = counts;
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  check(s.acknowledged > 0, 'no send was acknowledged');
  check(counts.lost === 0, `${counts.lost} acknowledged sends lost: ${JSON.stringify(counts.lostKeys)}`);
  check(n.stillAccepted === 0, `${n.stillAccepted} notifications still ACCEPTED`);
  check(n.failedWithoutReason === 0, `${n.failedWithoutReason} FAILED without a reason`);
  check(d.notificationsPerKey === 0, `${d.notificationsPerKey} idempotency keys with several notifications`);
  check(d.answersWithTwoIds === 0, `${d.answersWithTwoIds} keys answered with different notification ids`);
  check(i.databaseHoles === 0, `${i.databaseHoles} holes in inbox sequences`);
  check(i.deliveredWithoutEvent === 0, `${i.deliveredWithoutEvent} DELIVERED notifications without an inbox event`);
  check(i.streamHoles === 0, `${i.streamHoles} sequence numbers never reached a follower`);
  check(d.inboxEvents === 0, `${d.inboxEvents} inbox events reached a follower twice`);
  check(i.liveJumps === 0, `${i.liveJumps} jumps ahead in a live stream`);
  check(i.resyncs === 0, `${i.resyncs} RESYNC events`);
  check(i.behind === 0, `${i.behind} followers never caught up`);
  if (webhooks) {
    check(w.missingRows === 0, `${w.missingRows} webhook deliveries missing from the ledger`);
    check(w.pending === 0 && w.failed === 0, `webhook deliveries not succeeded: ${w.pending} pending, ${w.failed} failed`);
    check(w.neverReceived === 0, `${w.neverReceived} webhook deliveries never received`);
    check(w.unknownIds === 0, `${w.unknownIds} webhook-ids received that match no delivery`);
    check(w.badSignatures === 0, `${w.badSignatures} webhooks with a bad signature`);
    check(d.webhookEventsUnderTwoIds === 0, `${d.webhookEventsUnderTwoIds} events received under two webhook-ids`);
    check(d.webhookRepeatsWithOtherBody === 0, `${d.webhookRepeatsWithOtherBody} webhook repeats with another body`);
  }
  return problems;
}

/** Accept-to-final latency of every notification (p50, p99, max), from the database's timestamps. */
export async function processingLatency(platform: Platform): Promise<string> {
  const [row] = await query<{ p50: number | null; p99: number | null; max: number | null; slow: number }>(
    platform.sql,
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max,
            count(*) FILTER (WHERE ms > 20000)::int AS slow
       FROM (SELECT extract(epoch FROM (COALESCE(delivered_at, updated_at) - created_at)) * 1000 AS ms
               FROM notifications WHERE status IN ('DELIVERED', 'FAILED')) t`,
  );
  const [hook] = await query<{ p50: number | null; p99: number | null; max: number | null }>(
    platform.sql,
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
       FROM (SELECT extract(epoch FROM (completed_at - created_at)) * 1000 AS ms FROM webhook_deliveries WHERE completed_at IS NOT NULL) t`,
  );
  const s = (v: number | null | undefined) => (v == null ? '-' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);
  return (
    `accepted → DELIVERED/FAILED: p50 ${s(row?.p50)}, p99 ${s(row?.p99)}, max ${s(row?.max)} (over 20 s: ${row?.slow ?? 0}); ` +
    `webhook delivery created → succeeded: p50 ${s(hook?.p50)}, p99 ${s(hook?.p99)}, max ${s(hook?.max)}`
  );
}
