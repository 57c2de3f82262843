// The catalog of webhook event types: what endpoints may subscribe to. The notification.* payloads
// are built in SQL (pigeon_notification_webhook_data) in the transaction of the change they report.

export const WEBHOOK_EVENT_TYPES = {
  'notification.accepted': 'A notification was accepted by `send` (stored and queued, not rendered yet).',
  'notification.delivered': "A notification was rendered and put in the recipient's inbox.",
  'notification.failed': 'A notification will never be delivered (e.g. its template failed to render); see data.failureReason.',
  'notification.seen': 'The recipient saw a notification (in a list or the bell), one event per notification.',
  'notification.read': 'The recipient read a notification (also sent for each notification of a "mark all read").',
  'notification.unread': 'The recipient marked a notification unread again.',
  'notification.archived': 'The recipient archived a notification.',
  'notification.unarchived': 'The recipient took a notification out of the archive.',
  'endpoint.disabled': 'Another endpoint of this environment was disabled (410 Gone, or failing continuously).',
} as const satisfies Record<string, string>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENT_TYPES;

/** Sent by "send test event" whatever the endpoint subscribes to. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

export function isWebhookEventType(value: string): value is WebhookEventType {
  return Object.hasOwn(WEBHOOK_EVENT_TYPES, value);
}

/** The webhook event an inbox change reports. */
export const INBOX_ACTION_EVENTS = {
  READ: 'notification.read',
  UNREAD: 'notification.unread',
  SEEN: 'notification.seen',
  ARCHIVED: 'notification.archived',
  UNARCHIVED: 'notification.unarchived',
  ALL_READ: 'notification.read',
  ALL_SEEN: 'notification.seen',
} as const satisfies Record<string, WebhookEventType>;
