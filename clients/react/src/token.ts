// Client tokens: fetched through the app's `getToken` (its backend mints them with an API key),
// cached, refreshed ahead of expiry, and refetched at once after the API says UNAUTHENTICATED.

/** What `getToken` may return: the token alone, or with its expiry (ISO string, epoch ms, or Date). */
export type TokenResult = string | { token: string; expiresAt?: string | number | Date | null };

/** The app's function that obtains a client token for the signed-in user from its backend. */
export type GetToken = () => Promise<TokenResult>;

export interface Token {
  value: string;
  /** Epoch ms; from the JWT's `exp` when getToken did not say. */
  expiresAt: number;
  /** `aud` and `sub` of the JWT: which environment and recipient the token is for. */
  audience: string;
  subject: string;
}

/** Reads a JWT's claims without verifying it (the server verifies; the client only needs exp/aud/sub). */
export function readClaims(token: string): { exp?: number; aud?: string; sub?: string } {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const base64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const claims = JSON.parse(atob(base64)) as Record<string, unknown>;
    return {
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
      ...(typeof claims.aud === 'string' ? { aud: claims.aud } : {}),
      ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
    };
  } catch {
    return {};
  }
}

function toToken(result: TokenResult): Token {
  const value = typeof result === 'string' ? result : result?.token;
  if (typeof value !== 'string' || value.length === 0) {
    throw new Error('getToken() must resolve to a client token string or { token, expiresAt }.');
  }
  const claims = readClaims(value);
  const given = typeof result === 'string' ? undefined : result.expiresAt;
  const expiresAt =
    given instanceof Date
      ? given.getTime()
      : typeof given === 'number'
        ? given
        : typeof given === 'string'
          ? Date.parse(given)
          : claims.exp !== undefined
            ? claims.exp * 1000
            : Date.now() + 5 * 60_000;
  return {
    value,
    expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + 60_000,
    audience: claims.aud ?? '',
    subject: claims.sub ?? '',
  };
}

/** Refresh this long before expiry: a fifth of the lifetime, between 5 s and 60 s. */
function refreshLead(lifetimeMs: number): number {
  return Math.min(60_000, Math.max(5_000, lifetimeMs / 5));
}

export class TokenManager {
  readonly #getToken: () => GetToken;
  #current: Token | null = null;
  #pending: Promise<Token> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #retryDelay = 0;
  /** Called with each new token (the provider restarts nothing; streams pick it up on reconnect). */
  onToken: ((token: Token) => void) | null = null;

  /** `getToken` is read through a function so the provider can swap the app's callback without a restart. */
  constructor(getToken: () => GetToken) {
    this.#getToken = getToken;
  }

  /** A token valid for at least a few more seconds (fetching one when needed; concurrent callers share it). */
  async get(): Promise<Token> {
    const current = this.#current;
    if (current && current.expiresAt - Date.now() > 5_000) return current;
    return this.refresh();
  }

  /** Fetches a new token now (after UNAUTHENTICATED, or ahead of expiry). */
  refresh(): Promise<Token> {
    if (this.#pending) return this.#pending;
    const pending = (async () => {
      try {
        const token = toToken(await this.#getToken()());
        this.#current = token;
        this.#retryDelay = 0;
        this.#schedule(token);
        this.onToken?.(token);
        return token;
      } finally {
        this.#pending = null;
      }
    })();
    this.#pending = pending;
    return pending;
  }

  /** Forgets a token the server refused, so the next `get()` fetches a new one. */
  invalidate(refused: string): void {
    if (this.#current?.value === refused) this.#current = null;
  }

  #schedule(token: Token): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#stopped) return;
    const lifetime = token.expiresAt - Date.now();
    const delay = Math.max(1_000, lifetime - refreshLead(lifetime));
    // Timers over 2^31-1 ms fire at once; tokens live at most 24 h, so this only guards odd input.
    this.#timer = setTimeout(() => void this.refresh().catch(() => this.#retryLater()), Math.min(delay, 2_147_483_647));
  }

  /** A scheduled refresh failed (the backend is down?): try again in 2 s, 4 s … up to a minute. */
  #retryLater(): void {
    if (this.#stopped) return;
    this.#retryDelay = Math.min(60_000, this.#retryDelay ? this.#retryDelay * 2 : 2_000);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh().catch(() => this.#retryLater()), this.#retryDelay);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  start(): void {
    this.#stopped = false;
    if (this.#current) this.#schedule(this.#current);
  }
}
