// The pub/sub channel map. Redis pub/sub is only the live wake-up path (at-most-once); Postgres is
// the truth, so a message carries just enough to know whom to wake and up to which sequence.
import type { Redis } from 'ioredis';

export interface InboxWakeUp {
  environmentId: string;
  recipientId: string;
  seq: number;
}

/** One channel per recipient, scoped by environment and by the deployment's Redis prefix. */
export function inboxChannel(prefix: string, environmentId: string, recipientId: string): string {
  return `${prefix}:inbox:${environmentId}:${recipientId}`;
}

/** Publishes inbox wake-ups after commit. Both the worker (deliveries) and the API (inbox changes) use one. */
export interface WakeUpPublisher {
  publish(wakeUp: InboxWakeUp): Promise<void>;
}

export function redisWakeUpPublisher(redis: Redis, prefix: string): WakeUpPublisher {
  return {
    async publish(wakeUp) {
      await redis.publish(inboxChannel(prefix, wakeUp.environmentId, wakeUp.recipientId), JSON.stringify(wakeUp));
    },
  };
}
