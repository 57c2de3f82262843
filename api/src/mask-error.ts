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
