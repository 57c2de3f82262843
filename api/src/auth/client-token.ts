// Client tokens: short-lived JWTs that a tenant's backend mints (with its API key) for one end user,
// so that user's browser can read and change its own inbox and subscribe to its events.
//
// Each environment signs with its own secret (HS256 only: the algorithm is allow-listed, so "none"
// or an RSA/HMAC confusion cannot get through). The audience names the environment and the subject
// is the recipient's id, so a token is bound to both. Rotation keeps the previous secret valid until
// every token it signed has expired (rotation time + the longest TTL).
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '@pigeon/schema';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { isUuid } from '../uuid.ts';

export const CLIENT_TOKEN_ISSUER = 'pigeon';
export const CLIENT_TOKEN_ALGORITHM = 'HS256';
export const DEFAULT_CLIENT_TOKEN_TTL_SECONDS = 60 * 60;
export const MAX_CLIENT_TOKEN_TTL_SECONDS = 24 * 60 * 60;
export const MIN_CLIENT_TOKEN_TTL_SECONDS = 60;

/** The audience of tokens for one environment: a token for another environment never verifies here. */
export function clientTokenAudience(environmentId: string): string {
  return `pigeon:environment:${environmentId}`;
}

/** A fresh client-token signing secret for an environment (HS256 wants at least 256 bits). */
export function newSigningSecret(): string {
  return randomBytes(32).toString('base64url');
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export interface MintedClientToken {
  token: string;
  expiresAt: Date;
}

export async function mintClientToken(args: {
  secret: string;
  environmentId: string;
  recipientId: string;
  ttlSeconds: number;
  now?: Date;
}): Promise<MintedClientToken> {
  const issuedAt = Math.floor((args.now ?? new Date()).getTime() / 1000);
  const expiresAtSeconds = issuedAt + args.ttlSeconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: CLIENT_TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(CLIENT_TOKEN_ISSUER)
    .setAudience(clientTokenAudience(args.environmentId))
    .setSubject(args.recipientId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAtSeconds)
    .sign(key(args.secret));
  return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
}

/** What verification needs to know about an environment (also carries its rate budgets). */
export interface EnvironmentSigning {
  id: string;
  projectId: string;
  clientTokenSecret: string;
  previousClientTokenSecret: string | null;
  previousSecretExpiresAt: Date | null;
  apiKeyOpsPerMinute: number;
  clientTokenOpsPerMinute: number;
  introspection: boolean;
}

export const environmentSigningSelect = {
  id: true,
  projectId: true,
  clientTokenSecret: true,
  previousClientTokenSecret: true,
  previousSecretExpiresAt: true,
  apiKeyOpsPerMinute: true,
  clientTokenOpsPerMinute: true,
  introspection: true,
} as const;

export interface VerifiedClientToken {
  environment: EnvironmentSigning;
  recipientId: string;
  expiresAt: Date;
}

export class ClientTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientTokenError';
  }
}

const CACHE_TTL_MS = 10_000;
const MAX_ENVIRONMENTS_REMEMBERED = 10_000;

/** Sets a key, dropping the oldest entry when the map is full. */
function setBounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENVIRONMENTS_REMEMBERED) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
/** A failed verification re-reads the secrets at most this often per environment (rotation elsewhere). */
const REFRESH_AFTER_MS = 1_000;

/**
 * Verifies client tokens with each environment's secrets, cached briefly per process. Minting never
 * uses this cache (it reads the secret fresh), so after a rotation new tokens use the new secret at
 * once; a process whose cache still holds the old secret re-reads it when a token fails to verify.
 */
export class ClientTokenVerifier {
  readonly #prisma: PrismaClient;
  readonly #cache = new Map<string, { value: EnvironmentSigning | null; at: number }>();
  /** When a failed verification last forced a re-read, per environment (the throttle). */
  readonly #forcedAt = new Map<string, number>();

  constructor(prisma: PrismaClient) {
    this.#prisma = prisma;
  }

  /** Forget an environment's cached secrets (after rotating them in this process). */
  invalidate(environmentId: string): void {
    this.#cache.delete(environmentId);
  }

  async #environment(environmentId: string, fresh: boolean): Promise<EnvironmentSigning | null> {
    const cached = this.#cache.get(environmentId);
    if (cached && !fresh && Date.now() - cached.at < CACHE_TTL_MS) return cached.value;
    const value = await this.#prisma.environment.findUnique({ where: { id: environmentId }, select: environmentSigningSelect });
    // Bounded: forged tokens naming random environments cannot grow it without limit.
    setBounded(this.#cache, environmentId, { value, at: Date.now() });
    return value;
  }

  async verify(token: string, now: Date = new Date()): Promise<VerifiedClientToken> {
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(token);
    } catch {
      throw new ClientTokenError('The bearer token is not a valid API key or client token.');
    }
    const audience = typeof claims.aud === 'string' ? claims.aud : Array.isArray(claims.aud) ? claims.aud[0] : undefined;
    const environmentId = audience?.startsWith('pigeon:environment:') ? audience.slice('pigeon:environment:'.length) : '';
    if (!isUuid(environmentId)) throw new ClientTokenError('The client token does not name a Pigeon environment.');

    const before = this.#cache.get(environmentId);
    // Whether this call reads the database anyway (nothing cached, or too old): then a forced
    // re-read right after would read the same row again.
    const readNow = !before || Date.now() - before.at >= CACHE_TTL_MS;
    let environment = await this.#environment(environmentId, false);
    let result = environment ? await verifyWith(token, environment, now) : null;
    if (!result || result === 'bad-signature') {
      // Throttled on the last forced re-read, not on the cache's age: the first failure after a
      // rotation elsewhere always re-reads, and forged tokens cause at most one read a second.
      const forcedAt = this.#forcedAt.get(environmentId) ?? 0;
      if (!readNow && Date.now() - forcedAt >= REFRESH_AFTER_MS) {
        setBounded(this.#forcedAt, environmentId, Date.now());
        environment = await this.#environment(environmentId, true);
        result = environment ? await verifyWith(token, environment, now) : null;
      }
    }
    if (!environment || !result) throw new ClientTokenError('The client token is for an unknown environment.');
    if (result === 'bad-signature') throw new ClientTokenError('The client token signature is not valid for its environment.');
    if (typeof result === 'string') throw new ClientTokenError(result);
    return { environment, recipientId: result.recipientId, expiresAt: result.expiresAt };
  }
}

async function verifyWith(
  token: string,
  environment: EnvironmentSigning,
  now: Date,
): Promise<{ recipientId: string; expiresAt: Date } | 'bad-signature' | string> {
  const secrets = [environment.clientTokenSecret];
  if (environment.previousClientTokenSecret && environment.previousSecretExpiresAt && environment.previousSecretExpiresAt > now) {
    secrets.push(environment.previousClientTokenSecret);
  }
  for (const secret of secrets) {
    try {
      const { payload } = await jwtVerify(token, key(secret), {
        algorithms: [CLIENT_TOKEN_ALGORITHM],
        issuer: CLIENT_TOKEN_ISSUER,
        audience: clientTokenAudience(environment.id),
        requiredClaims: ['exp', 'iat', 'sub'],
        maxTokenAge: MAX_CLIENT_TOKEN_TTL_SECONDS + 60,
        currentDate: now,
      });
      if (!payload.sub || !isUuid(payload.sub) || typeof payload.exp !== 'number') return 'The client token has no valid subject.';
      return { recipientId: payload.sub.toLowerCase(), expiresAt: new Date(payload.exp * 1000) };
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      if (error instanceof joseErrors.JWTExpired) return 'The client token has expired; mint a new one.';
      if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The client token uses an algorithm Pigeon does not accept.';
      if (error instanceof joseErrors.JOSEError) return 'The client token is not valid.';
      throw error;
    }
  }
  return 'bad-signature';
}
