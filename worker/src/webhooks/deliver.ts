// One webhook delivery attempt, from job to evidence:
//   1. take a slot of the endpoint's concurrency limit (a Redis semaphore) — when the endpoint is
//      saturated the job steps aside (delayed) instead of holding a worker slot, so a slow or
//      failing endpoint never delays deliveries to healthy ones;
//   2. claim the delivery in PostgreSQL (a lease): only a PENDING, due, unleased delivery is
//      attempted, so duplicate jobs (reconciler, stalled-job retries, manual redelivery) never
//      attempt one delivery twice at once;
//   3. sign (Standard Webhooks, webhook-id = delivery id, stable across retries) and POST through the
//      SSRF guard;
//   4. record the attempt and the delivery's next state in one statement, then enqueue the next
//      attempt. A worker killed during 3 records nothing: the lease runs out and the attempt is
//      made again with the same webhook-id (at most one extra attempt per crash), and the attempt
//      counter does not move, so crashes never exhaust a delivery.
import type { PrismaClient } from '@pigeon/schema';
import { DelayedError, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { enqueueWebhooks, type WebhookJobData, type WebhookJobRequest } from '../jobs.ts';
import type { Logger } from '../log.ts';
import { ENQUEUE_TIMEOUT_MS, withTimeout } from '../timeout.ts';
import { type AttemptOutcome, postWebhook, USER_AGENT } from './post.ts';
import { nextRetryDelay, type RetryPolicy } from './schedule.ts';
import { signWebhook } from './secret.ts';
import type { TargetPolicy } from './target.ts';

export interface WebhookSettings {
  /** Hard limit for one attempt (connect, send, response headers and the capped body). */
  timeoutMs: number;
  /** How much of a response body is read and kept in the attempt log. */
  maxResponseBytes: number;
  /** Attempts in flight per endpoint, across all workers. */
  endpointConcurrency: number;
  retry: RetryPolicy;
  /** Disable an endpoint whose every attempt has failed for this long (0: never). */
  disableAfterFailingMs: number;
  /** Disable an endpoint after this many consecutive deliveries exhausted their schedule (0: never). */
  disableAfterExhausted: number;
  targets: TargetPolicy;
}

export interface WebhookDeps {
  prisma: PrismaClient;
  queue: Queue<WebhookJobData>;
  /** For the per-endpoint semaphores. */
  redis: Redis;
  prefix: string;
  settings: WebhookSettings;
  log: Logger;
}

export type DeliveryResult =
  | { outcome: 'succeeded' | 'retrying' | 'failed'; status: number | null; errorClass: string | null }
  | { outcome: 'skipped'; reason: 'not-due-or-taken' | 'endpoint-disabled' };

interface ClaimedDelivery {
  id: string;
  environment_id: string;
  endpoint_id: string;
  body: string;
  scheduled_attempts: number;
  next_trigger: 'SCHEDULED' | 'MANUAL';
  was_completed: boolean;
  url: string;
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
}

/** The lease outlives the longest possible attempt, so a live worker never loses its claim. */
const leaseSeconds = (settings: WebhookSettings) => Math.ceil(settings.timeoutMs / 1000) + 10;

/** Request headers as stored in the attempt log (and sent). */
function requestHeaders(signed: Record<string, string>): Record<string, string> {
  return { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signed };
}

function describe(outcome: AttemptOutcome): string {
  if (outcome.status !== null && outcome.errorClass === null) return `HTTP ${outcome.status}`;
  return outcome.errorMessage ? `${outcome.errorClass}: ${outcome.errorMessage}` : (outcome.errorClass ?? 'unknown error');
}

/**
 * How long a job waits after finding its endpoint saturated, growing with each time it was turned
 * away (BullMQ counts every start), so that a large backlog for a slow endpoint is not cycled
 * through the queue every few hundred milliseconds; random so that it does not wake in lockstep.
 */
export function throttleDelayMs(timesStarted: number, random: () => number = Math.random): number {
  const base = Math.min(200 * 1.5 ** Math.max(0, timesStarted - 1), 5_000);
  return Math.round(base * (0.5 + random()));
}

/** How long an endpoint slot outlives its holder's last refresh. */
const SLOT_LOCK_MS = 5_000;
const SLOT_REFRESH_MS = 1_500;

/** Processes one webhook job. Throws only for infrastructure errors (BullMQ retries those). */
export async function processWebhookJob(deps: WebhookDeps, job: Job<WebhookJobData>, token: string | undefined): Promise<DeliveryResult> {
  const { settings } = deps;
  const semaphore = new Semaphore(deps.redis, `${deps.prefix}:webhook-endpoint:${job.data.endpointId}`, settings.endpointConcurrency, {
    // A short lock, refreshed while the attempt runs: a SIGKILLed worker's slot frees within
    // seconds. (It used to outlive the attempt without refresh — timeout + 15 s — and with
    // frequent kills dead workers held every slot of an endpoint: docs/faults.md.) Attempts
    // shorter than the refresh interval cost no extra Redis call.
    lockTimeout: SLOT_LOCK_MS,
    refreshInterval: SLOT_REFRESH_MS,
    acquireAttemptsLimit: 1,
    // A refresh that failed (Redis away) lets the slot go early: the endpoint may see one request
    // more than its limit for a moment. The delivery's database lease, not this slot, prevents
    // duplicate attempts.
    onLockLost: (error) => deps.log.debug('webhook endpoint slot lost', { error }),
  });
  if (!(await semaphore.tryAcquire())) {
    // The endpoint has its limit in flight: step aside without using a worker slot.
    if (!token) throw new Error('webhook job without a lock token');
    await job.moveToDelayed(Date.now() + throttleDelayMs(job.attemptsStarted), token);
    throw new DelayedError();
  }
  try {
    return await attemptDelivery(deps, job.data);
  } finally {
    await semaphore.release().catch((error) => deps.log.debug('semaphore release failed', { error }));
  }
}

export async function attemptDelivery(deps: WebhookDeps, data: WebhookJobData): Promise<DeliveryResult> {
  const { prisma, settings } = deps;
  const [claimed] = await prisma.$queryRaw<ClaimedDelivery[]>`
    /* prepared */ UPDATE webhook_deliveries AS d SET lease_until = now() + make_interval(secs => ${leaseSeconds(settings)})
      FROM webhook_endpoints AS e
     WHERE d.id = ${data.deliveryId}::uuid AND d.environment_id = ${data.environmentId}::uuid AND e.id = d.endpoint_id
       AND d.status = 'PENDING' AND d.next_attempt_at <= now() + interval '1 second'
       AND (d.lease_until IS NULL OR d.lease_until < now())
    RETURNING d.id::text AS id, d.environment_id::text AS environment_id, d.endpoint_id::text AS endpoint_id,
              d.payload::text AS body, d.scheduled_attempts, d.next_trigger::text AS next_trigger,
              d.completed_at IS NOT NULL AS was_completed, e.url, e.enabled, e.secret,
              CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret`;
  if (!claimed) return { outcome: 'skipped', reason: 'not-due-or-taken' };

  if (!claimed.enabled) {
    // Deliveries created before the endpoint was disabled stop here; "recover" resends them
    // after the endpoint is enabled again.
    await prisma.$executeRaw`
      UPDATE webhook_deliveries SET status = 'FAILED', failure_reason = 'The endpoint is disabled.',
             completed_at = now(), next_attempt_at = NULL, lease_until = NULL, next_trigger = 'SCHEDULED', updated_at = now()
       WHERE id = ${claimed.id}::uuid`;
    return { outcome: 'skipped', reason: 'endpoint-disabled' };
  }

  const startedAt = new Date();
  const secrets = claimed.previous_secret ? [claimed.secret, claimed.previous_secret] : [claimed.secret];
  const headers = requestHeaders({ ...signWebhook(claimed.id, claimed.body, secrets, startedAt) });
  const outcome = await postWebhook(
    { url: claimed.url, headers, body: claimed.body, timeoutMs: settings.timeoutMs, maxResponseBytes: settings.maxResponseBytes },
    settings.targets,
  );
  return recordAttempt(deps, claimed, headers, startedAt, outcome);
}

async function recordAttempt(
  deps: WebhookDeps,
  claimed: ClaimedDelivery,
  headers: Record<string, string>,
  startedAt: Date,
  outcome: AttemptOutcome,
): Promise<DeliveryResult> {
  const { prisma, settings } = deps;
  const manual = claimed.next_trigger === 'MANUAL';
  const gone = outcome.status === 410;
  let status: 'SUCCEEDED' | 'PENDING' | 'FAILED';
  let delayMs = 0;
  let reason: string | null = null;
  // Scheduled attempts advance the schedule; a manual one does not.
  const advance = manual ? 0 : 1;
  if (outcome.ok) {
    status = 'SUCCEEDED';
  } else if (gone) {
    status = 'FAILED';
    reason = 'The endpoint answered 410 Gone and was disabled.';
  } else if (manual && claimed.was_completed) {
    // A manual redelivery of a finished delivery is one attempt, not a new schedule.
    status = 'FAILED';
    reason = `Manual redelivery failed: ${describe(outcome)}.`;
  } else {
    const retryAfter = outcome.status === 429 || outcome.status === 503 ? outcome.retryAfterMs : null;
    const delay = nextRetryDelay(settings.retry, claimed.scheduled_attempts + advance, retryAfter);
    if (delay === null) {
      status = 'FAILED';
      reason = `Gave up after ${claimed.scheduled_attempts + advance} scheduled attempts; the last one: ${describe(outcome)}.`;
    } else {
      status = 'PENDING';
      delayMs = delay;
    }
  }
  const exhausted = status === 'FAILED' && !gone && !manual;
  const [row] = await prisma.$queryRaw<
    { attempt_count: number; failing_ms: number | null; consecutive_exhausted: number; enabled: boolean }[]
  >`
    /* prepared */ WITH attempt AS (
      INSERT INTO webhook_attempts (id, delivery_id, environment_id, trigger, url, started_at, duration_ms, request_headers,
        request_body, response_status, response_headers, response_body, response_body_truncated, error_class, error_message)
      VALUES (pigeon_uuid_v7(), ${claimed.id}::uuid, ${claimed.environment_id}::uuid, ${claimed.next_trigger}::"WebhookAttemptTrigger",
        ${claimed.url}, ${startedAt}, ${Math.round(outcome.durationMs)}, ${JSON.stringify(headers)}::jsonb, ${claimed.body},
        ${outcome.status}::int, ${outcome.headers === null ? null : JSON.stringify(outcome.headers)}::jsonb, ${outcome.body},
        ${outcome.bodyTruncated}, ${outcome.errorClass}, ${outcome.errorMessage})
    ), delivery AS (
      UPDATE webhook_deliveries
         SET status = ${status}::"WebhookDeliveryStatus", attempt_count = attempt_count + 1,
             scheduled_attempts = scheduled_attempts + ${advance}::int,
             next_attempt_at = CASE WHEN ${status} = 'PENDING' THEN now() + make_interval(secs => ${delayMs / 1000}) END,
             next_trigger = 'SCHEDULED', lease_until = NULL, last_attempt_at = ${startedAt}, failure_reason = ${reason},
             completed_at = CASE WHEN ${status} = 'PENDING' THEN completed_at ELSE now() END, updated_at = now()
       WHERE id = ${claimed.id}::uuid
      RETURNING attempt_count
    ), endpoint AS (
      -- The endpoint's failure clocks, written only when they change: most attempts change
      -- nothing, and an unconditional write would serialize an endpoint's concurrent attempts on
      -- its row lock (and cost WAL).
      UPDATE webhook_endpoints AS e
         SET failing_since = CASE WHEN ${outcome.ok} THEN NULL ELSE COALESCE(e.failing_since, ${startedAt}) END,
             consecutive_exhausted = CASE WHEN ${outcome.ok} THEN 0 WHEN ${exhausted} THEN e.consecutive_exhausted + 1
                                          ELSE e.consecutive_exhausted END
       WHERE e.id = ${claimed.endpoint_id}::uuid
         AND CASE WHEN ${outcome.ok} THEN e.failing_since IS NOT NULL OR e.consecutive_exhausted <> 0
                  ELSE e.failing_since IS NULL OR ${exhausted} END
      RETURNING e.id, e.consecutive_exhausted, e.failing_since
    )
    SELECT delivery.attempt_count, current.enabled,
           CASE WHEN endpoint.id IS NULL THEN current.consecutive_exhausted ELSE endpoint.consecutive_exhausted END
             AS consecutive_exhausted,
           (extract(epoch FROM now() - CASE WHEN endpoint.id IS NULL THEN current.failing_since ELSE endpoint.failing_since END)
             * 1000)::float8 AS failing_ms
      FROM delivery
      JOIN webhook_endpoints AS current ON current.id = ${claimed.endpoint_id}::uuid
      LEFT JOIN endpoint ON true`;

  if (row) {
    let disableReason: string | null = null;
    if (gone) disableReason = 'The endpoint answered 410 Gone.';
    else if (settings.disableAfterFailingMs > 0 && row.failing_ms !== null && row.failing_ms >= settings.disableAfterFailingMs)
      disableReason = `Every attempt failed for ${formatDuration(row.failing_ms)}.`;
    else if (settings.disableAfterExhausted > 0 && row.consecutive_exhausted >= settings.disableAfterExhausted)
      disableReason = `${row.consecutive_exhausted} deliveries in a row exhausted their retries.`;
    if (disableReason && row.enabled) await disableEndpoint(deps, claimed.endpoint_id, disableReason);
    if (status === 'PENDING') {
      await enqueueOrLeave(deps, [
        {
          deliveryId: claimed.id,
          environmentId: claimed.environment_id,
          endpointId: claimed.endpoint_id,
          attemptCount: row.attempt_count,
          delayMs,
          retry: true,
        },
      ]);
    }
  }
  const result = status === 'SUCCEEDED' ? 'succeeded' : status === 'PENDING' ? 'retrying' : 'failed';
  return { outcome: result, status: outcome.status, errorClass: outcome.errorClass };
}

function formatDuration(ms: number): string {
  if (ms >= 86_400_000) return `${(ms / 86_400_000).toFixed(1)} days`;
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} hours`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} minutes`;
  return `${Math.round(ms / 1000)} seconds`;
}

/**
 * Disables an endpoint (if enabled), records the endpoint.disabled event and notifies the
 * environment's other endpoints that subscribe to it.
 */
export async function disableEndpoint(
  deps: Pick<WebhookDeps, 'prisma' | 'queue' | 'log'>,
  endpointId: string,
  reason: string,
): Promise<void> {
  const rows = await deps.prisma.$queryRaw<{ delivery_id: string; environment_id: string; endpoint_id: string }[]>`
    SELECT delivery_id::text, environment_id::text, endpoint_id::text FROM pigeon_disable_webhook_endpoint(${endpointId}::uuid, ${reason})`;
  deps.log.warn('webhook endpoint disabled', { endpointId, reason });
  await enqueueOrLeave(
    deps,
    rows.map((r) => ({ deliveryId: r.delivery_id, environmentId: r.environment_id, endpointId: r.endpoint_id, attemptCount: 0 })),
  );
}

/** Enqueues after commit; when Redis is unavailable the reconciler enqueues the rows later. */
export async function enqueueOrLeave(deps: Pick<WebhookDeps, 'queue' | 'log'>, jobs: readonly WebhookJobRequest[]): Promise<void> {
  if (jobs.length === 0) return;
  try {
    // A Redis that is down makes BullMQ wait forever: give it a moment, then leave it to the reconciler.
    await withTimeout(enqueueWebhooks(deps.queue, jobs), ENQUEUE_TIMEOUT_MS);
  } catch (error) {
    deps.log.warn('webhook enqueue failed; the reconciler will pick the deliveries up', { count: jobs.length, error });
  }
}
