// Secrets that people hold (API keys, session cookies) are random, shown once, and stored only as
// a SHA-256 hash: unguessable input needs no slow hash, and a leaked table yields nothing usable.
import { createHash, randomBytes } from 'node:crypto';

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export type EnvironmentKindName = 'DEVELOPMENT' | 'PRODUCTION';

const keyPrefix: Record<EnvironmentKindName, string> = { DEVELOPMENT: 'sk_dev_', PRODUCTION: 'sk_prod_' };

export interface NewApiKey {
  /** The whole key, returned to its creator once. */
  secret: string;
  /** What lists show: the environment marker plus the first characters of the random part. */
  prefix: string;
  hash: string;
}

export function generateApiKey(kind: EnvironmentKindName): NewApiKey {
  const secret = `${keyPrefix[kind]}${randomToken(32)}`;
  return { secret, prefix: secret.slice(0, keyPrefix[kind].length + 6), hash: sha256(secret) };
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('sk_dev_') || token.startsWith('sk_prod_');
}
