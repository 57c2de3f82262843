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
  const requestId = randomUUID();
  log.error('unexpected error', { requestId, error: e?.originalError ?? error });
  return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } });
}
