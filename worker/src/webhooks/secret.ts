// Standard Webhooks secrets and signatures. Secrets are "whsec_" + base64 of random bytes; every
// request is signed with the `standardwebhooks` package, once per valid secret (during a rotation's
// grace period both the new and the previous one), signatures separated by spaces.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export const SECRET_PREFIX = 'whsec_';
export const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The three Standard Webhooks headers for one request. `secrets` in order of preference (current
 * first). `at` is the attempt's time: receivers check it against their clock (replay protection).
 */
export function signWebhook(webhookId: string, body: string, secrets: readonly string[], at: Date): SignedHeaders {
  if (secrets.length === 0) throw new Error('signWebhook needs at least one secret');
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body));
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
