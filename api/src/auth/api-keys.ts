// API-key principals, cached briefly per process. Every backend request authenticates with a key,
// and its lookup (a joined read through Prisma) was the largest single piece of send's database
// work in the profile (docs/benchmarks.md). A key's answer is kept for CACHE_TTL_MS:
//   - a revocation or an environment change made through this process applies here at once
//     (the mutations call forget*), and on other API processes within CACHE_TTL_MS;
//   - unknown and revoked keys are cached too (a revoked key never comes back), so a client
//     retrying with a bad key costs no database read per request either.
import type { PrismaClient } from '@pigeon/schema';
import { sha256 } from './secrets.ts';

/** Refresh `last_used_at` at most this often per key (and per session): a write per request would double send's cost. */
export const LAST_USED_RESOLUTION_MS = 60_000;
/** How long another process may go on accepting a key revoked elsewhere. */
export const API_KEY_CACHE_TTL_MS = 1_000;
const MAX_KEYS_REMEMBERED = 10_000;

export interface ApiKeyPrincipal {
  apiKeyId: string;
  environmentId: string;
  projectId: string;
  opsPerMinute: number;
  introspection: boolean;
}

interface Entry {
  /** Null: no such key, or revoked. */
  key: ApiKeyPrincipal | null;
  readAt: number;
  /** When this process last wrote (or read) the key's last_used_at. */
  usedAt: number;
  /** The read in flight, shared by concurrent requests with the same key. */
  pending?: Promise<ApiKeyPrincipal | null>;
}

interface KeyRow {
  id: string;
  environmentId: string;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  projectId: string;
  opsPerMinute: number;
  introspection: boolean;
}

export class ApiKeyResolver {
  readonly #prisma: PrismaClient;
  readonly #ttlMs: number;
  /** By key hash. */
  readonly #entries = new Map<string, Entry>();

  constructor(prisma: PrismaClient, options: { ttlMs?: number } = {}) {
    this.#prisma = prisma;
    this.#ttlMs = options.ttlMs ?? API_KEY_CACHE_TTL_MS;
  }

  /** The principal a secret key stands for, or null when the key is unknown or revoked. */
  async resolve(secret: string): Promise<ApiKeyPrincipal | null> {
    const hash = sha256(secret);
    const now = Date.now();
    const cached = this.#entries.get(hash);
    if (cached?.pending) return cached.pending;
    if (cached && now - cached.readAt < this.#ttlMs) {
      if (cached.key) this.#touch(cached, now);
      return cached.key;
    }
    const entry: Entry = { key: null, readAt: now, usedAt: cached?.usedAt ?? 0 };
    const pending = this.#read(hash).then(
      (row) => {
        entry.key =
          row && !row.revokedAt
            ? {
                apiKeyId: row.id,
                environmentId: row.environmentId,
                projectId: row.projectId,
                opsPerMinute: row.opsPerMinute,
                introspection: row.introspection,
              }
            : null;
        entry.readAt = Date.now();
        entry.usedAt = Math.max(entry.usedAt, row?.lastUsedAt?.getTime() ?? 0);
        entry.pending = undefined;
        if (entry.key) this.#touch(entry, entry.readAt);
        return entry.key;
      },
      (error: unknown) => {
        // A failed read is not remembered: the next request tries the database again.
        if (this.#entries.get(hash) === entry) this.#entries.delete(hash);
        throw error;
      },
    );
    entry.pending = pending;
    this.#entries.delete(hash);
    this.#entries.set(hash, entry);
    if (this.#entries.size > MAX_KEYS_REMEMBERED) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return pending;
  }

  /** Drops a key's cached answer (after revoking it in this process). */
  forgetKey(apiKeyId: string): void {
    this.#forget((key) => key.apiKeyId === apiKeyId);
  }

  /** Drops the cached answers of an environment's keys (after changing its budget or introspection policy). */
  forgetEnvironment(environmentId: string): void {
    this.#forget((key) => key.environmentId === environmentId);
  }

  /** Reads still in flight are dropped too: one may have started before the change committed. */
  #forget(matches: (key: ApiKeyPrincipal) => boolean): void {
    for (const [hash, entry] of this.#entries) if (entry.pending || (entry.key && matches(entry.key))) this.#entries.delete(hash);
  }

  /** Fire and forget: bookkeeping must not slow down or fail the request it describes. */
  #touch(entry: Entry, now: number): void {
    if (!entry.key || now - entry.usedAt <= LAST_USED_RESOLUTION_MS) return;
    entry.usedAt = now;
    this.#prisma.apiKey.update({ where: { id: entry.key.apiKeyId }, data: { lastUsedAt: new Date(now) } }).catch(() => {});
  }

  async #read(hash: string): Promise<KeyRow | undefined> {
    // One joined read (a Prisma include would be two round trips).
    const [row] = await this.#prisma.$queryRaw<KeyRow[]>`
      /* prepared */ SELECT k.id::text AS id, k.environment_id::text AS "environmentId", k.revoked_at AS "revokedAt",
             k.last_used_at AS "lastUsedAt", e.project_id::text AS "projectId", e.api_key_ops_per_minute AS "opsPerMinute",
             e.introspection
        FROM api_keys AS k JOIN environments AS e ON e.id = k.environment_id
       WHERE k.key_hash = ${hash}`;
    return row;
  }
}
