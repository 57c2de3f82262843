// Fixed-window counters in Redis. Redis holds nothing that cannot be lost: an emptied Redis only
// resets the windows.
import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets (when refused). */
  retryAfter: number;
}

export async function hit(redis: Redis, key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
  // SET NX EX starts the window on the first hit (EXPIRE's NX flag would need Redis 7).
  const results = await redis.multi().set(key, 0, 'EX', windowSeconds, 'NX').incr(key).ttl(key).exec();
  const count = Number(results?.[1]?.[1] ?? 0);
  const ttl = Number(results?.[2]?.[1] ?? windowSeconds);
  return { allowed: count <= limit, retryAfter: Math.max(1, ttl) };
}

export async function reset(redis: Redis, key: string): Promise<void> {
  await redis.del(key);
}
