// The `Error` interface and one object type per expected failure. Fields list the classes they can
// return in `errors: { types: [...] }`; the errors plugin turns a thrown instance into the union
// member, and anything else stays a (masked) GraphQL error.
import { builder } from '../builder.ts';
import {
  ConflictError,
  EmailTakenError,
  IdempotencyConflictError,
  InvalidCredentialsError,
  NotFoundError,
  type PigeonError,
  TemplateNotFoundError,
  TemplateRenderError,
  ValidationError,
  WeakPasswordError,
} from '../errors.ts';

export const ErrorInterface = builder.interfaceRef<PigeonError>('Error').implement({
  description: 'An expected failure, returned as data. `code` is stable; `message` is for people.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

const FieldIssueRef = builder.objectRef<{ path: string; message: string }>('FieldIssue').implement({
  description: 'One problem with one input field; `path` is dotted, e.g. "input.recipient.email".',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

/** Error types with nothing beyond `message` and `code`: named after their class. */
for (const ErrorClass of [NotFoundError, ConflictError, InvalidCredentialsError, EmailTakenError, WeakPasswordError]) {
  builder.objectType(ErrorClass, {
    name: ErrorClass.name,
    interfaces: [ErrorInterface],
    isTypeOf: (value) => value instanceof ErrorClass,
    fields: () => ({}),
  });
}

builder.objectType(TemplateNotFoundError, {
  name: 'TemplateNotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof TemplateNotFoundError,
  fields: (t) => ({ key: t.exposeString('key') }),
});

builder.objectType(TemplateRenderError, {
  name: 'TemplateRenderError',
  description: 'The templates do not render with this data: where and why (line and column are 1-based).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof TemplateRenderError,
  fields: (t) => ({
    field: t.exposeString('field', { description: 'title, body, actionUrl or data.' }),
    kind: t.exposeString('kind', {
      description:
        'syntax, forbidden, undefined, runtime, timeout, memory, loop-limit, output-too-large, source-too-large, data-too-large or invalid-url.',
    }),
    line: t.exposeInt('line', { nullable: true }),
    column: t.exposeInt('column', { nullable: true }),
  }),
});

builder.objectType(IdempotencyConflictError, {
  name: 'IdempotencyConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof IdempotencyConflictError,
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey'),
    notificationId: t.exposeID('notificationId'),
  }),
});
