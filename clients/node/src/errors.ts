// Typed errors: one class per error code the API answers with. Domain failures arrive as union
// members (`... on Error { code message }`); failures decided before a resolver runs arrive as
// GraphQL errors with `extensions.code`. Both become instances of the classes below, so callers
// write `catch (e) { if (e instanceof RateLimitedError) ... }` instead of comparing strings.

/**
 * One problem with one input field, as the API reports it (`path` is dotted, e.g. "input.to").
 *
 * @example
 * ```ts
 * const issues: readonly FieldIssue[] = error.issues; // [{ path: 'input.actionUrl', message: 'Must be an http(s) URL …' }]
 * ```
 */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Every error the SDK throws. `code` is the API's stable code (or `NETWORK_ERROR` /
 * `UNEXPECTED_RESPONSE` for failures before an answer); `message` is the server's own words.
 *
 * @example
 * ```ts
 * try { await pigeon.send({ to: 'user-1', title: 'Hi', body: 'Hello' }); }
 * catch (e) { if (e instanceof PigeonError) console.error(e.code, e.message, e.details); }
 * ```
 */
export class PigeonError extends Error {
  override name = 'PigeonError';
  readonly code: string;
  /** Everything else the server said (`extensions`, or the error member's extra fields). */
  readonly details: Readonly<Record<string, unknown>>;
  /** The HTTP status of the answer, when there was one. */
  readonly status: number | undefined;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
    this.status = status;
  }
}

/**
 * The input was refused; `issues` names each field and what is wrong with it.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ValidationError) for (const i of e.issues) console.log(i.path, i.message); }
 * ```
 */
export class ValidationError extends PigeonError {
  override name = 'ValidationError';
  readonly issues: readonly FieldIssue[];
  constructor(message: string, issues: FieldIssue[], details: Record<string, unknown> = {}, status?: number) {
    super('VALIDATION', message, { ...details, issues }, status);
    this.issues = issues;
  }
}

/**
 * The thing named does not exist in this environment (or belongs to another).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NotFoundError) return null; }
 * ```
 */
export class NotFoundError extends PigeonError {
  override name = 'NotFoundError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
  }
}

/**
 * The idempotency key was already used for a *different* notification payload.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof IdempotencyConflictError) console.log('first sent as', e.notificationId); }
 * ```
 */
export class IdempotencyConflictError extends PigeonError {
  override name = 'IdempotencyConflictError';
  readonly idempotencyKey: string;
  readonly notificationId: string;
  constructor(message: string, idempotencyKey: string, notificationId: string) {
    super('IDEMPOTENCY_CONFLICT', message, { idempotencyKey, notificationId });
    this.idempotencyKey = idempotencyKey;
    this.notificationId = notificationId;
  }
}

/**
 * `send({ template })` named a template key this environment does not have.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof TemplateNotFoundError) console.log('missing template', e.key); }
 * ```
 */
export class TemplateNotFoundError extends PigeonError {
  override name = 'TemplateNotFoundError';
  readonly key: string;
  constructor(message: string, key: string) {
    super('TEMPLATE_NOT_FOUND', message, { key });
    this.key = key;
  }
}

/**
 * The change conflicts with the current state (e.g. redelivering a delivery that is in flight).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ConflictError) setTimeout(retry, 1000); }
 * ```
 */
export class ConflictError extends PigeonError {
  override name = 'ConflictError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFLICT', message, details);
  }
}

/**
 * The API key (or token) is missing, malformed, revoked or expired.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof UnauthenticatedError) alert('Check PIGEON_API_KEY'); }
 * ```
 */
export class UnauthenticatedError extends PigeonError {
  override name = 'UnauthenticatedError';
  constructor(message: string, details: Record<string, unknown> = {}, status?: number) {
    super('UNAUTHENTICATED', message, details, status);
  }
}

/**
 * The credential is valid but may not do this (see the principals table in the docs).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ForbiddenError) console.error(e.message); }
 * ```
 */
export class ForbiddenError extends PigeonError {
  override name = 'ForbiddenError';
  constructor(message: string, details: Record<string, unknown> = {}, status?: number) {
    super('FORBIDDEN', message, details, status);
  }
}

/**
 * The rate budget is spent. The SDK already waited and retried (when `retryAfter` fitted within
 * `maxRetryDelayMs`); this is thrown when it gave up.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RateLimitedError) await sleep(e.retryAfter * 1000); }
 * ```
 */
export class RateLimitedError extends PigeonError {
  override name = 'RateLimitedError';
  /** Seconds until the budget allows another operation. */
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number, details: Record<string, unknown> = {}, status?: number) {
    super('RATE_LIMITED', message, { ...details, retryAfter }, status);
    this.retryAfter = retryAfter;
  }
}

/**
 * The server is temporarily unable to answer (HTTP 5xx, `OVERLOADED`, `UNAVAILABLE` while its database
 * is down, a masked internal error).
 * Retried automatically for operations that are safe to repeat.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof ServerError) console.warn('Pigeon unavailable', e.status); }
 * ```
 */
export class ServerError extends PigeonError {
  override name = 'ServerError';
  /** Seconds the server asked us to wait, when it said. */
  readonly retryAfter: number | undefined;
  constructor(code: string, message: string, status: number | undefined, retryAfter?: number, details: Record<string, unknown> = {}) {
    super(code, message, details, status);
    this.retryAfter = retryAfter;
  }
}

/**
 * The request itself was refused before it ran: malformed GraphQL, a document over the depth,
 * alias or cost limits, an oversized body (`code` says which, e.g. `BAD_USER_INPUT`,
 * `GRAPHQL_VALIDATION_FAILED`, `PAYLOAD_TOO_LARGE`). Never retried: the same request fails again.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof BadRequestError) console.error(e.code, e.message); }
 * ```
 */
export class BadRequestError extends PigeonError {
  override name = 'BadRequestError';
}

/**
 * No answer: DNS failure, refused or reset connection, or the request timed out.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof NetworkError) console.warn('is Pigeon running?', e.cause); }
 * ```
 */
export class NetworkError extends PigeonError {
  override name = 'NetworkError';
  constructor(message: string, cause: unknown) {
    super('NETWORK_ERROR', message, {}, undefined, { cause });
  }
}

/** A union error member as selected by the SDK's `SdkErrorFields` fragment. */
export interface ErrorMember {
  __typename: string;
  code: string;
  message: string;
  issues?: FieldIssue[];
  idempotencyKey?: string;
  notificationId?: string;
  key?: string;
}

/** Builds the typed error for a union error member (`... on Error`). */
export function errorFromMember(member: ErrorMember): PigeonError {
  switch (member.__typename) {
    case 'ValidationError':
      return new ValidationError(member.message, member.issues ?? []);
    case 'NotFoundError':
      return new NotFoundError(member.message);
    case 'IdempotencyConflictError':
      return new IdempotencyConflictError(member.message, member.idempotencyKey ?? '', member.notificationId ?? '');
    case 'TemplateNotFoundError':
      return new TemplateNotFoundError(member.message, member.key ?? '');
    case 'ConflictError':
      return new ConflictError(member.message);
    default:
      return new PigeonError(member.code, member.message, { typename: member.__typename });
  }
}

/** Builds the typed error for a GraphQL error's `extensions.code`. */
export function errorFromExtensions(
  message: string,
  extensions: Record<string, unknown>,
  status: number | undefined,
  retryAfterHeader: number | undefined,
): PigeonError {
  const code = typeof extensions.code === 'string' ? extensions.code : 'INTERNAL_SERVER_ERROR';
  const { code: _code, http: _http, ...details } = extensions;
  const retryAfter = typeof extensions.retryAfter === 'number' ? extensions.retryAfter : retryAfterHeader;
  switch (code) {
    case 'UNAUTHENTICATED':
      return new UnauthenticatedError(message, details, status);
    case 'FORBIDDEN':
      return new ForbiddenError(message, details, status);
    case 'RATE_LIMITED':
      return new RateLimitedError(message, retryAfter ?? 1, details, status);
    case 'VALIDATION': {
      // Fields without a union result (e.g. createClientToken) report their issues in extensions.
      const { issues, ...rest } = details;
      return new ValidationError(message, Array.isArray(issues) ? issues.filter(isFieldIssue) : [], rest, status);
    }
    case 'OVERLOADED':
    case 'UNAVAILABLE':
    case 'INTERNAL_SERVER_ERROR':
      return new ServerError(code, message, status, retryAfter, details);
    default:
      return status !== undefined && status >= 500
        ? new ServerError(code, message, status, retryAfter, details)
        : new BadRequestError(code, message, details, status);
  }
}

function isFieldIssue(value: unknown): value is FieldIssue {
  const issue = value as Partial<FieldIssue> | null;
  return typeof issue?.path === 'string' && typeof issue.message === 'string';
}
