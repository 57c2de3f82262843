/**
 * Pigeon's Node SDK: send notifications, mint client tokens for browsers, manage webhook
 * endpoints, and verify the webhooks Pigeon sends. Typed from the API's schema by codegen.
 *
 * @example
 * ```ts
 * import { Pigeon } from '@pigeon/node';
 * const pigeon = new Pigeon({ apiKey: process.env.PIGEON_API_KEY!, baseUrl: 'http://localhost:4000' });
 * await pigeon.send({ to: 'user-42', title: 'Welcome', body: 'Glad you are here.' });
 * ```
 *
 * @packageDocumentation
 */
export {
  type ClientToken,
  type CreateWebhookEndpointInput,
  type Notification,
  PIGEON_DEFAULT_BASE_URL,
  Pigeon,
  type PigeonOptions,
  PigeonWebhooks,
  type SendInput,
  type SendResult,
  type UpdateWebhookEndpointInput,
  type WebhookDelivery,
  type WebhookDeliveryFilter,
  type WebhookEndpoint,
} from './client.ts';
export {
  BadRequestError,
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  IdempotencyConflictError,
  NetworkError,
  NotFoundError,
  PigeonError,
  RateLimitedError,
  ServerError,
  TemplateNotFoundError,
  UnauthenticatedError,
  ValidationError,
} from './errors.ts';
export {
  type NotificationWebhookEventType,
  verifyWebhook,
  WEBHOOK_TOLERANCE_SECONDS,
  type WebhookEvent,
  type WebhookHeaders,
  type WebhookNotificationData,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from './verify.ts';
