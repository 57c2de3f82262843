// What clients see of an error: expected ones unchanged, unexpected ones as "Unexpected error."
// with a request id (the log has the rest, under the same id).
import { randomUUID } from 'node:crypto';
import type { Logger } from '@pigeon/worker';
import { GraphQLError } from 'graphql';

export function maskError(error: unknown, message: string, log: Logger): Error {
  // Duck-typed on purpose: graphql may be loaded twice (ESM and CJS builds), so instanceof lies.
  const e = error as {
    name?: string;
    originalError?: { name?: string; message?: string };
    extensions?: { code?: unknown };
  };
  if (e?.name === 'GraphQLError') {
    // Errors of the request itself (syntax, validation, limits), variable coercion (wrapping a
    // GraphQLError), GraphQL errors raised on purpose and our own coded ones pass unchanged.
    // Anything else — a database error in the context factory included — is masked.
    if (!e.originalError || e.originalError.name === 'GraphQLError' || typeof e.extensions?.code === 'string') {
      return error as Error;
    }
    // Pothos rejects malformed connection arguments (cursors, page sizes) with this class.
    if (e.originalError.name === 'PothosValidationError') {
      return new GraphQLError(e.originalError.message ?? 'Invalid arguments.', { extensions: { code: 'BAD_USER_INPUT' } });
    }
  }
  const cause = e?.originalError ?? error;
  if (isOverload(cause)) {
    log.warn('overloaded: no database connection in time', { error: cause });
    return new GraphQLError('The service is overloaded; retry shortly.', {
      extensions: { code: 'OVERLOADED', retryAfter: 1, http: { status: 503, headers: { 'retry-after': '1' } } },
    });
  }
  if (isDatabaseUnreachable(cause)) {
    log.warn('unavailable: the database cannot be reached', { error: cause });
    return new GraphQLError('The database is unavailable; retry shortly.', {
      extensions: { code: 'UNAVAILABLE', retryAfter: 1, http: { status: 503, headers: { 'retry-after': '1' } } },
    });
  }
  const requestId = randomUUID();
  log.error('unexpected error', { requestId, error: e?.originalError ?? error });
  return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } });
}

/**
 * Waiting too long for a database connection (the pool's timeout, or Prisma's for starting a
 * transaction) means too much work, not a broken request: the caller may retry.
 */
function isOverload(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === 'P2024' || e.code === 'P2028') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (
    /timeout exceeded when trying to connect|Unable to start a transaction in the given time|Timed out fetching a new connection/i.test(
      message,
    )
  ) {
    return true;
  }
  return e.cause !== undefined && e.cause !== error && isOverload(e.cause);
}

/** Node socket errors and PostgreSQL's connection-exception (08) and shutdown (57P0x) states. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // Prisma's "can't reach database server" and "server closed the connection".
  'P1001',
  'P1017',
]);
/** Driver adapter error kinds (Prisma 7) for the same conditions. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'DatabaseDoesNotExist']);
const UNREACHABLE_MESSAGE =
  /Connection terminated|connect ECONNREFUSED|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)|Client has encountered a connection error|Connection ended unexpectedly/i;

/**
 * PostgreSQL is down or restarting, so the caller may retry later. Like OVERLOADED it does not say
 * that nothing ran (a connection lost during a commit is ambiguous): only idempotent operations are
 * safe to repeat blindly (send with its idempotency key is). Follows `cause`, Prisma's `meta.driverAdapterError`
 * and the adapter's own `cause`.
 */
export function isDatabaseUnreachable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 6) return false;
  const e = error as {
    code?: unknown;
    originalCode?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  for (const code of [e.code, e.originalCode]) if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  if (typeof e.kind === 'string' && UNREACHABLE_KINDS.has(e.kind)) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  return [e.cause, e.meta?.driverAdapterError].some((next) => next !== error && isDatabaseUnreachable(next, depth + 1));
}
