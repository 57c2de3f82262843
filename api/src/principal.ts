// Who is calling. Resolved once per request from the Authorization header or the session cookie;
// every environment id a resolver uses comes from here (or, for dashboard sessions, from an
// argument checked against membership by the `environment` auth scope).
import { timingSafeEqual } from 'node:crypto';
import type { PrismaClient, Role } from '@pigeon/schema';
import { type ApiKeyResolver, LAST_USED_RESOLUTION_MS } from './auth/api-keys.ts';
import { ClientTokenError, type ClientTokenVerifier } from './auth/client-token.ts';
import { looksLikeApiKey, sha256 } from './auth/secrets.ts';
import { unauthenticated } from './errors.ts';

export type Principal =
  | { kind: 'apiKey'; apiKeyId: string; environmentId: string; projectId: string; opsPerMinute: number; introspection: boolean }
  | {
      kind: 'clientToken';
      environmentId: string;
      recipientId: string;
      expiresAt: Date;
      opsPerMinute: number;
      introspection: boolean;
    }
  | { kind: 'session'; sessionId: string; userId: string };

export const SESSION_COOKIE = 'pigeon_session';
/** Readable by the dashboard's own scripts; its value must come back in the X-CSRF-Token header. */
export const CSRF_COOKIE = 'pigeon_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export const roleRank: Record<Role, number> = { MEMBER: 1, ADMIN: 2, OWNER: 3 };

export function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      // A malformed cookie is ignored rather than failing the whole request.
    }
  }
  return cookies;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface ResolvedPrincipal {
  principal: Principal | null;
  /** A valid session cookie arrived without the matching CSRF header: the cookie was ignored. */
  csrfRejected: boolean;
}

export async function resolvePrincipal(
  prisma: PrismaClient,
  clientTokens: ClientTokenVerifier,
  apiKeys: ApiKeyResolver,
  request: Request,
): Promise<ResolvedPrincipal> {
  const authorization = request.headers.get('authorization');
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <API key or client token>".');
    const token = match[1] as string;
    if (looksLikeApiKey(token)) {
      const key = await apiKeys.resolve(token);
      if (!key) throw unauthenticated('The API key is unknown or has been revoked.');
      return { principal: { kind: 'apiKey', ...key }, csrfRejected: false };
    }
    try {
      const verified = await clientTokens.verify(token);
      return {
        principal: {
          kind: 'clientToken',
          environmentId: verified.environment.id,
          recipientId: verified.recipientId,
          expiresAt: verified.expiresAt,
          opsPerMinute: verified.environment.clientTokenOpsPerMinute,
          introspection: verified.environment.introspection,
        },
        csrfRejected: false,
      };
    } catch (error) {
      if (error instanceof ClientTokenError) throw unauthenticated(error.message);
      throw error;
    }
  }

  const sessionToken = parseCookies(request.headers.get('cookie')).get(SESSION_COOKIE);
  if (!sessionToken) return { principal: null, csrfRejected: false };
  const session = await prisma.session.findUnique({
    where: { tokenHash: sha256(sessionToken) },
    select: { id: true, userId: true, csrfToken: true, expiresAt: true, lastUsedAt: true },
  });
  if (!session || session.expiresAt.getTime() <= Date.now()) return { principal: null, csrfRejected: false };
  if (Date.now() - session.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    prisma.session.update({ where: { id: session.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  const csrf = request.headers.get(CSRF_HEADER);
  if (!csrf || !safeEqual(csrf, session.csrfToken)) return { principal: null, csrfRejected: true };
  return { principal: { kind: 'session', sessionId: session.id, userId: session.userId }, csrfRejected: false };
}
