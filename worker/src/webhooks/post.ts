// One webhook attempt: check the target (target.ts), POST the signed request to exactly the
// checked address, and describe what happened as data. It never throws and never takes longer
// than the request's timeout, whatever the receiver does (never answers, trickles its body, resets),
// because a worker slot stuck on one receiver delays every other customer's deliveries.
import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { type CheckedTarget, DEFAULT_LOOKUP_TIMEOUT_MS, resolveTarget, type TargetPolicy, TargetRefusedError } from './target.ts';

export interface WebhookRequest {
  url: string;
  /** Already signed by the caller. Added only when missing: content-type, user-agent; content-length is always set. */
  headers: Record<string, string>;
  body: string;
  /** Hard limit for the whole attempt: DNS, connect, TLS, sending, response headers and reading the kept body. */
  timeoutMs: number;
  /** How much of the response body to keep; reading stops there and the connection is closed. */
  maxResponseBytes: number;
}

export type AttemptErrorClass =
  | 'invalid_url'
  | 'blocked_address'
  | 'dns_failure'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'tls_error'
  | 'network_error';

export interface AttemptOutcome {
  /** A 2xx status and a complete attempt (a 200 whose body was cut by the timeout is not ok). */
  ok: boolean;
  /** null when no response arrived. */
  status: number | null;
  /** Lower-case names, repeated headers joined with ", ", at most MAX_STORED_HEADER_BYTES in all. */
  headers: Record<string, string> | null;
  /** The first maxResponseBytes bytes, decoded as UTF-8 (lossily). */
  body: string | null;
  bodyTruncated: boolean;
  /** Set when no (complete) response arrived; status and headers are kept when they did arrive. */
  errorClass: AttemptErrorClass | null;
  errorMessage: string | null;
  /** From Retry-After (delta-seconds or HTTP-date) on any response; null when absent or invalid. */
  retryAfterMs: number | null;
  durationMs: number;
  /** The address the request was actually sent to. */
  connectedAddress: string | null;
}

export const USER_AGENT = 'Pigeon-Webhooks/1';
export const MAX_STORED_HEADER_BYTES = 8 * 1024;

// Keep-alive pools, one per protocol for the whole process: most deliveries go to a few busy
// receivers, and a new TCP + TLS handshake per event would cost more than the request. Idle
// sockets are closed after 4 s, below the 5 s keep-alive timeout of common servers (Node, nginx
// behind many load balancers use 5 s or more), so we close an idle socket before the receiver
// does and do not send a request into a connection the other side is tearing down.
const POOL_OPTIONS = { keepAlive: true, timeout: 4000, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' } as const;

interface PinnedOptions extends https.RequestOptions {
  pinnedAddress?: string;
}

// The pools are keyed by the checked address as well as the host name: otherwise a socket opened
// to yesterday's address for hooks.example.com would be reused after DNS (and our check) moved on.
class PinnedHttpAgent extends http.Agent {
  override getName(options?: PinnedOptions): string {
    return `${super.getName(options)}|${options?.pinnedAddress ?? ''}`;
  }
}

class PinnedHttpsAgent extends https.Agent {
  override getName(options?: PinnedOptions): string {
    return `${super.getName(options)}|${options?.pinnedAddress ?? ''}`;
  }
}

const httpAgent = new PinnedHttpAgent(POOL_OPTIONS);
const httpsAgent = new PinnedHttpsAgent(POOL_OPTIONS);

/** Closes every pooled connection (worker shutdown; tests). Later attempts open new ones. */
export function closeWebhookConnections(): void {
  httpAgent.destroy();
  httpsAgent.destroy();
}

/**
 * Sends one webhook request and reports the outcome; never throws.
 *
 * @example
 * const outcome = await postWebhook(
 *   { url: endpoint.url, headers: signWebhook(id, body, secrets, now), body, timeoutMs: 15_000, maxResponseBytes: 4096 },
 *   { allow: parseAllowList(env.WEBHOOK_ALLOW_LIST) },
 * );
 * if (!outcome.ok) scheduleRetry(outcome.retryAfterMs);
 */
export async function postWebhook(request: WebhookRequest, policy: TargetPolicy): Promise<AttemptOutcome> {
  const started = performance.now();
  try {
    return await attempt(request, policy, started);
  } catch (error) {
    // Nothing above should throw; if something does, it is still an attempt that failed.
    return failure(started, 'network_error', messageOf(error));
  }
}

async function attempt(request: WebhookRequest, policy: TargetPolicy, started: number): Promise<AttemptOutcome> {
  // setTimeout cannot wait longer than 2^31 - 1 ms; NaN or a negative limit means no time at all.
  const timeoutMs = Number.isFinite(request.timeoutMs) ? Math.min(Math.max(0, request.timeoutMs), 2 ** 31 - 1) : 0;
  const deadline = started + timeoutMs;

  let target: CheckedTarget;
  let timer: NodeJS.Timeout | undefined;
  try {
    const lookupTimeoutMs = Math.min(policy.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS, timeoutMs);
    const resolving = resolveTarget(request.url, { ...policy, lookupTimeoutMs });
    // The lookup gives up at the same moment, so losing this race leaves no pending work behind;
    // the catch only keeps that late rejection from being reported as unhandled.
    resolving.catch(() => {});
    const expired = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), Math.max(0, deadline - performance.now()));
    });
    const result = await Promise.race([resolving, expired]);
    if (result === null) return failure(started, 'timeout', timeoutMessage(timeoutMs));
    target = result;
  } catch (error) {
    if (!(error instanceof TargetRefusedError)) throw error;
    // The lookup timeout is clamped to the attempt's, so a slow resolver is the attempt's timeout.
    if (error.errorClass === 'dns_failure' && performance.now() >= deadline) return failure(started, 'timeout', timeoutMessage(timeoutMs));
    return failure(started, error.errorClass, error.reason);
  } finally {
    clearTimeout(timer);
  }

  const remaining = deadline - performance.now();
  if (remaining <= 0) return failure(started, 'timeout', timeoutMessage(timeoutMs));
  return send(request, target, started, timeoutMs, remaining);
}

function send(
  request: WebhookRequest,
  target: CheckedTarget,
  started: number,
  timeoutMs: number,
  remainingMs: number,
): Promise<AttemptOutcome> {
  const maxBytes = Number.isFinite(request.maxResponseBytes) ? Math.max(0, Math.floor(request.maxResponseBytes)) : 0;
  const secure = target.url.protocol === 'https:';
  const body = Buffer.from(request.body, 'utf8');
  const headers = outgoingHeaders(request.headers, body.length);
  const options: PinnedOptions = {
    method: 'POST',
    // The name, not the address: it goes into the Host header, TLS SNI and the certificate check.
    host: target.url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: target.port,
    path: `${target.url.pathname}${target.url.search}`,
    headers,
    agent: secure ? httpsAgent : httpAgent,
    pinnedAddress: target.address,
    // Connects to the checked address instead of asking DNS again (IP literals skip lookup).
    lookup: pinnedLookup(target.address, target.family),
  };

  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    let timedOut = false;
    let req: http.ClientRequest | undefined;
    let res: http.IncomingMessage | undefined;
    let connectedAddress: string | null = null;
    let status: number | null = null;
    let responseHeaders: Record<string, string> | null = null;
    let retryAfterMs: number | null = null;
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;

    const finish = (errorClass: AttemptErrorClass | null, errorMessage: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        ok: errorClass === null && status !== null && status >= 200 && status <= 299,
        status,
        headers: responseHeaders,
        body: status === null ? null : Buffer.concat(chunks, kept).toString('utf8'),
        // A body cut by the timeout or a reset is incomplete too.
        bodyTruncated: truncated || (errorClass !== null && status !== null),
        errorClass,
        errorMessage,
        retryAfterMs,
        durationMs: elapsed(started),
        connectedAddress,
      });
    };

    const fail = (error: unknown) => {
      if (settled) return;
      if (timedOut) finish('timeout', timeoutMessage(timeoutMs));
      else finish(classify(error, secure), messageOf(error));
    };

    const timer = setTimeout(() => {
      timedOut = true;
      finish('timeout', timeoutMessage(timeoutMs));
      // Destroying the request also destroys its socket (and with it the response stream).
      req?.destroy();
      res?.destroy();
    }, remainingMs);

    try {
      // Invalid header names or values throw synchronously.
      req = (secure ? https : http).request(options);
      // Listeners stay attached after settling: a late 'error' without a listener would crash the process.
      req.on('error', fail);
      req.on('close', () => {
        if (res === undefined) fail(resetError('the connection closed without a response'));
      });
      req.on('socket', (socket) => {
        const record = () => {
          connectedAddress = socket.remoteAddress ?? target.address;
        };
        // A pooled socket is already connected; a new one reports its address on connect.
        if (socket.remoteAddress) record();
        else socket.once('connect', record);
      });
      req.on('response', (response) => {
        res = response;
        status = response.statusCode ?? null;
        responseHeaders = collectHeaders(response.rawHeaders);
        retryAfterMs = parseRetryAfter(responseHeaders['retry-after']);
        response.on('error', fail);
        // A connection that closes mid-body ends the response without 'end' (and usually an 'error' first).
        response.on('close', () => {
          if (!response.complete) fail(resetError('the connection closed before the response was complete'));
        });
        response.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = maxBytes - kept;
          if (chunk.length > room) {
            if (room > 0) chunks.push(chunk.subarray(0, room));
            kept += Math.max(room, 0);
            truncated = true;
            // Stop reading: the rest is not kept, and the socket cannot be reused mid-body anyway.
            finish(null, null);
            response.destroy();
            return;
          }
          chunks.push(chunk);
          kept += chunk.length;
        });
        response.on('end', () => finish(null, null));
      });
      req.end(body);
    } catch (error) {
      fail(error);
      req?.destroy();
    }
  });
}

function outgoingHeaders(given: Record<string, string>, length: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const present = new Set<string>();
  for (const [name, value] of Object.entries(given)) {
    const lower = name.toLowerCase();
    // We send exactly this body, so only we know its length.
    if (lower === 'content-length') continue;
    headers[name] = value;
    present.add(lower);
  }
  if (!present.has('content-type')) headers['content-type'] = 'application/json';
  if (!present.has('user-agent')) headers['user-agent'] = USER_AGENT;
  headers['content-length'] = String(length);
  return headers;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect that always answers with the checked address. Node 24 asks with
 * `{ all: true }` (for happy eyeballs, autoSelectFamily) and then expects an array; older callers
 * and `all: false` expect (address, family).
 */
function pinnedLookup(address: string, family: 4 | 6) {
  return (_hostname: string, options: LookupOptions | LookupCallback, callback?: LookupCallback): void => {
    const cb = typeof options === 'function' ? options : callback;
    const all = typeof options === 'object' && options !== null && options.all === true;
    if (cb === undefined) return;
    process.nextTick(() => (all ? cb(null, [{ address, family }]) : cb(null, address, family)));
  };
}

function collectHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  let size = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const previous = headers[name];
    const added = previous === undefined ? name.length + value.length : value.length + 2;
    // A receiver controls these bytes and they are stored with every attempt; the rest is dropped.
    if (size + added > MAX_STORED_HEADER_BYTES) continue;
    size += added;
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return headers;
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP-date (a past date is 0). */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, Number.MAX_SAFE_INTEGER);
  // Date.parse accepts plain numbers and ISO strings too; an HTTP-date always names a weekday
  // or month in letters, which also rules out "-5" or "1.5".
  if (!/[A-Za-z]{3}/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|ERR_OSSL_)/;

function classify(error: unknown, secure: boolean): AttemptErrorClass {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const c = typeof code === 'string' ? code : '';
  if (c === 'ETIMEDOUT') return 'timeout';
  if (c === 'ECONNREFUSED') return 'connection_refused';
  if (c === 'ECONNRESET' || c === 'EPIPE' || message === 'socket hang up') return 'connection_reset';
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return 'dns_failure';
  if (TLS_CODES.test(c)) return 'tls_error';
  // OpenSSL errors carry a `library`/`reason`; EPROTO on an https connection is a handshake failure.
  if (secure && (c === 'EPROTO' || (error as { library?: unknown } | null)?.library !== undefined)) return 'tls_error';
  return 'network_error';
}

function resetError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

function failure(started: number, errorClass: AttemptErrorClass, errorMessage: string): AttemptOutcome {
  return {
    ok: false,
    status: null,
    headers: null,
    body: null,
    bodyTruncated: false,
    errorClass,
    errorMessage,
    retryAfterMs: null,
    durationMs: elapsed(started),
    connectedAddress: null,
  };
}

function timeoutMessage(ms: number): string {
  return `no complete response within ${ms} ms`;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
