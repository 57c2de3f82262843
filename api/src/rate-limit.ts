// Fixed-window counters in Redis. Redis holds nothing that cannot be lost: an emptied Redis only
// resets the windows.
import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets (when refused). */
  retryAfter: number;
}

export async function hit(redis: Redis, key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
  const results = await redis.multi().incr(key).expire(key, windowSeconds, 'NX').ttl(key).exec();
  const count = Number(results?.[0]?.[1] ?? 0);
  const ttl = Number(results?.[2]?.[1] ?? windowSeconds);
  return { allowed: count <= limit, retryAfter: Math.max(1, ttl) };
}

export async function reset(redis: Redis, key: string): Promise<void> {
  await redis.del(key);
}
