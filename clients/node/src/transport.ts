// One GraphQL request with the SDK's retry rules, over @urql/core's fetch exchange.
//
// What is retried:
// - refusals that happen before anything ran: RATE_LIMITED (the rate budget is charged before any
//   resolver runs; waiting what the server asked for) and connections that were never made
//   (ECONNREFUSED, DNS failure);
// - for operations that are safe to repeat (queries, `send` — it always carries an idempotency
//   key —, client tokens, updates): also timeouts, resets, HTTP 5xx, OVERLOADED, UNAVAILABLE and
//   masked internal errors. OVERLOADED is not a refusal before running: it means a resolver waited too
//   long for a database connection, possibly after an earlier statement of the same resolver ran.
// Everything else is thrown at once as a typed error (errors.ts).
import { Client, type CombinedError, fetchExchange, type OperationResult, type TypedDocumentNode } from '@urql/core';
import {
  BadRequestError,
  errorFromExtensions,
  NetworkError,
  type PigeonError,
  RateLimitedError,
  ServerError,
  UnauthenticatedError,
} from './errors.ts';

/** Whether an operation may run twice without harm (decides what the SDK retries). */
export type RetrySafety = 'idempotent' | 'once';

export interface TransportOptions {
  url: string;
  headers: () => Record<string, string>;
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
  maxRetries: number;
  maxRetryDelayMs: number;
}

/** Connection failures where the request never reached the server, so repeating it is always safe. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

interface Failure {
  error: PigeonError;
  /** Retrying is harmless whatever the operation (nothing ran). */
  refusedBeforeRunning: boolean;
  /** Worth retrying for an idempotent operation. */
  transient: boolean;
  retryAfterMs?: number;
}

export class Transport {
  readonly #client: Client;
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = options;
    const { timeoutMs } = options;
    this.#client = new Client({
      url: options.url,
      exchanges: [fetchExchange],
      requestPolicy: 'network-only',
      preferGetMethod: false,
      // urql sets its own abort signal on every request; the timeout is added here, beside it.
      fetch: (input, init) =>
        options.fetch(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
        }),
      fetchOptions: () => ({ headers: { ...options.headers(), 'user-agent': 'pigeon-node-sdk/1' } }),
    });
  }

  /**
   * Runs a query or mutation, retrying as the header says; returns `data` or throws a PigeonError.
   * `onRetry` hears of each failure that is followed by another attempt.
   */
  async request<Data, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
    safety: RetrySafety,
    onRetry?: (failure: PigeonError) => void,
  ): Promise<Data> {
    const isMutation = document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'mutation');
    for (let attempt = 0; ; attempt++) {
      const result = isMutation
        ? await this.#client.mutation(document, variables).toPromise()
        : await this.#client.query(document, variables).toPromise();
      const failure = classify(result);
      if (!failure) return result.data as Data;
      const retryable = failure.refusedBeforeRunning || (safety === 'idempotent' && failure.transient);
      if (!retryable || attempt >= this.#options.maxRetries) throw failure.error;
      const delay = failure.retryAfterMs ?? backoff(attempt);
      if (delay > this.#options.maxRetryDelayMs) throw failure.error;
      onRetry?.(failure.error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Exponential backoff with jitter: ~250 ms, 500 ms, 1 s, 2 s … capped at 8 s. */
function backoff(attempt: number): number {
  const base = Math.min(8_000, 250 * 2 ** attempt);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

function retryAfterHeader(response: Response | undefined): number | undefined {
  const value = response?.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function classify(result: OperationResult): Failure | undefined {
  const error: CombinedError | undefined = result.error;
  if (!error) return result.data ? undefined : unexpected(undefined, 'The server answered without data.');
  const response = error.response as Response | undefined;
  const status = response?.status;
  const headerRetryAfter = retryAfterHeader(response);
  const first = error.graphQLErrors[0];
  if (first) {
    const typed = errorFromExtensions(first.message, (first.extensions ?? {}) as Record<string, unknown>, status, headerRetryAfter);
    if (typed instanceof RateLimitedError) {
      return { error: typed, refusedBeforeRunning: true, transient: true, retryAfterMs: typed.retryAfter * 1000 };
    }
    if (typed instanceof ServerError) {
      return {
        error: typed,
        refusedBeforeRunning: false,
        transient: true,
        ...(typed.retryAfter !== undefined ? { retryAfterMs: typed.retryAfter * 1000 } : {}),
      };
    }
    return { error: typed, refusedBeforeRunning: false, transient: false };
  }
  if (status !== undefined) return unexpected(status, error.networkError?.message ?? `HTTP ${status}`, headerRetryAfter);
  const cause = error.networkError;
  const code = networkCode(cause);
  const timedOut = cause?.name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT';
  const message = timedOut
    ? 'The request to Pigeon timed out.'
    : `Could not reach Pigeon${code ? ` (${code})` : ''}: ${cause?.message ?? 'network error'}.`;
  return { error: new NetworkError(message, cause), refusedBeforeRunning: code !== undefined && NEVER_SENT.has(code), transient: true };
}

/** An HTTP answer that is not a GraphQL result (e.g. a proxy's 502 page). */
function unexpected(status: number | undefined, message: string, retryAfter?: number): Failure {
  if (status === 401) return { error: new UnauthenticatedError(message, {}, status), refusedBeforeRunning: false, transient: false };
  if (status === 429) {
    const error = new RateLimitedError(message, retryAfter ?? 1, {}, status);
    return { error, refusedBeforeRunning: true, transient: true, retryAfterMs: error.retryAfter * 1000 };
  }
  if (status === undefined || status >= 500) {
    const error = new ServerError(status === undefined ? 'UNEXPECTED_RESPONSE' : `HTTP_${status}`, message, status, retryAfter);
    return {
      error,
      // A proxy's 5xx does not say whether the request ran behind it: only idempotent
      // operations are repeated.
      refusedBeforeRunning: false,
      transient: true,
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  }
  return { error: new BadRequestError(`HTTP_${status}`, message, {}, status), refusedBeforeRunning: false, transient: false };
}

function networkCode(error: Error | undefined): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
