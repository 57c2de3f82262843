// The demo's one webhook endpoint in Pigeon, found by its description so that a restart on another
// port moves it instead of leaving endpoints behind that point at nothing.
import type { Pigeon, WebhookEndpoint } from '@pigeon/node';
import type { WebhookLog } from './webhook-log.ts';

export const RECEIVER_DESCRIPTION = 'Pigeon demo receiver (demo/)';

/** Creates the endpoint, or brings an earlier run's up to date, and hands its secrets to the receiver. */
export async function ensureReceiverEndpoint(
  pigeon: Pigeon,
  url: string,
  receiver: WebhookLog,
): Promise<{ endpoint: WebhookEndpoint; created: boolean }> {
  const eventTypes = (await pigeon.webhooks.eventTypes()).map((t) => t.name).filter((name) => name.startsWith('notification.'));
  const existing = (await pigeon.webhooks.list()).find((e) => e.description === RECEIVER_DESCRIPTION);
  if (!existing) {
    const { endpoint, secret } = await pigeon.webhooks.create({ url, eventTypes, description: RECEIVER_DESCRIPTION });
    receiver.useSecrets([secret]);
    return { endpoint, created: true };
  }
  // Loaded before the URL moves here, so the requests that then arrive can be verified.
  const { secret, previousSecret } = await pigeon.webhooks.revealSecret(existing.id);
  receiver.useSecrets([secret, previousSecret]);
  let endpoint = existing;
  if (existing.url !== url || eventTypes.some((t) => !existing.eventTypes.includes(t))) {
    endpoint = await pigeon.webhooks.update(existing.id, { url, eventTypes });
  }
  // Left disabled while the demo was not running (5 days of failures, or by hand).
  if (!endpoint.enabled) endpoint = await pigeon.webhooks.enable(existing.id);
  return { endpoint, created: false };
}
