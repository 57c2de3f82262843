// The retry schedule: how long to wait before each scheduled attempt. The default follows the
// best-known provider's: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over
// about 27.5 h), each wait with ±20 % jitter so that a recovering endpoint is not hit by a thundering herd.

export const DEFAULT_RETRY_SCHEDULE = '0s,5s,5m,30m,2h,5h,10h,10h';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "0s,5s,5m,30m,2h" (units ms, s, m, h, d) into waits in milliseconds; throws on bad input. */
export function parseSchedule(spec: string): number[] {
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('the retry schedule needs at least one entry');
  if (parts.length > 50) throw new Error('the retry schedule may have at most 50 entries');
  return parts.map((part) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    if (!match) throw new Error(`"${part}" is not a duration like 500ms, 5s, 5m, 2h or 1d`);
    return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
  });
}

export interface RetryPolicy {
  /** Wait before scheduled attempt i (index 0: the first attempt, normally 0). */
  schedule: readonly number[];
  /** Fraction of each wait added or removed at random (0.2 = ±20 %). */
  jitter: number;
  /** Upper bound for a receiver's Retry-After. */
  maxRetryAfterMs: number;
  random?: () => number;
}

/**
 * The wait before the next scheduled attempt after `scheduledAttempts` attempts, or null when the
 * schedule is exhausted. A Retry-After from the receiver (429, 503) is honoured as a lower bound,
 * clamped to `maxRetryAfterMs` so a receiver cannot park a delivery for days.
 */
export function nextRetryDelay(policy: RetryPolicy, scheduledAttempts: number, retryAfterMs: number | null): number | null {
  if (scheduledAttempts >= policy.schedule.length) return null;
  const base = policy.schedule[scheduledAttempts] as number;
  const random = policy.random ?? Math.random;
  const jittered = base * (1 + policy.jitter * (2 * random() - 1));
  const asked = retryAfterMs === null ? 0 : Math.min(Math.max(retryAfterMs, 0), policy.maxRetryAfterMs);
  return Math.max(Math.round(jittered), asked);
}
