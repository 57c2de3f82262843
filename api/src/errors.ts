// Expected failures are data: each class here becomes a GraphQL object type implementing `Error`
// (see schema/errors.ts) and appears in the union results of the fields that can produce it.
// Failures decided before a resolver runs are GraphQL errors with extensions.code instead.
import { GraphQLError } from 'graphql';
import { isUuid } from './uuid.ts';

export class PigeonError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

export class ValidationError extends PigeonError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[], message?: string) {
    super('VALIDATION', message ?? issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
    this.issues = issues;
  }
}

export class NotFoundError extends PigeonError {
  constructor(what: string, id: string, message?: string) {
    super('NOT_FOUND', message ?? `${what} "${id}" was not found.`);
  }
}

export function assertUuid(what: string, id: string): string {
  if (!isUuid(id)) throw new NotFoundError(what, id);
  return id;
}

export class TemplateNotFoundError extends PigeonError {
  readonly key: string;
  constructor(key: string) {
    super('TEMPLATE_NOT_FOUND', `No template with key "${key}" exists in this environment.`);
    this.key = key;
  }
}

export class IdempotencyConflictError extends PigeonError {
  readonly idempotencyKey: string;
  readonly notificationId: string;
  constructor(idempotencyKey: string, notificationId: string) {
    super(
      'IDEMPOTENCY_CONFLICT',
      `Idempotency key "${idempotencyKey}" was already used for notification ${notificationId} with a different payload.`,
    );
    this.idempotencyKey = idempotencyKey;
    this.notificationId = notificationId;
  }
}

/** Template sources that do not render with the given data (a preview's answer). */
export class TemplateRenderError extends PigeonError {
  readonly field: string;
  readonly kind: string;
  readonly line: number | null;
  readonly column: number | null;
  constructor(problem: { field: string; kind: string; message: string; line?: number | undefined; column?: number | undefined }) {
    super('TEMPLATE_RENDER_ERROR', problem.message);
    this.field = problem.field;
    this.kind = problem.kind;
    this.line = problem.line ?? null;
    this.column = problem.column ?? null;
  }
}

export class ConflictError extends PigeonError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class InvalidCredentialsError extends PigeonError {
  constructor() {
    super('INVALID_CREDENTIALS', 'Email or password is incorrect.');
  }
}

export class EmailTakenError extends PigeonError {
  constructor() {
    super('EMAIL_TAKEN', 'An account with this email already exists.');
  }
}

export class WeakPasswordError extends PigeonError {
  constructor(reason: string) {
    super('WEAK_PASSWORD', reason);
  }
}

export function unauthenticated(message = 'Authentication required.') {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function forbidden(message = 'Not allowed for this principal.') {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

export function rateLimited(retryAfterSeconds: number, message = 'Too many requests.') {
  return new GraphQLError(`${message} Retry after ${retryAfterSeconds} s.`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  });
}
