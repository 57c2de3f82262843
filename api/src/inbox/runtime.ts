// Builds the live-inbox parts of an API process: the hub (its own subscriber connection) and the
// publisher of this process's inbox changes.
import type { PrismaClient } from '@pigeon/schema';
import { type Logger, redisWakeUpPublisher, type WakeUpPublisher } from '@pigeon/worker';
import { Redis } from 'ioredis';
import type { InboxRuntime } from '../context.ts';
import { InboxHub } from './live.ts';
import type { InboxStreamHooks } from './stream.ts';

export interface InboxRuntimeOptions {
  prisma: PrismaClient;
  /** Used for publishing (any ordinary connection). */
  redis: Redis;
  redisUrl: string;
  prefix: string;
  log: Logger;
  recheckIntervalMs: number;
  hooks?: InboxStreamHooks;
  wrapWakeUps?: (publisher: WakeUpPublisher) => WakeUpPublisher;
}

export async function createInboxRuntime(options: InboxRuntimeOptions): Promise<{ inbox: InboxRuntime; close(): Promise<void> }> {
  // A connection in subscriber mode can do nothing else; its commands wait out a reconnect.
  const subscriber = new Redis(options.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    // Named, so operators (and tests) can find this process's subscriber in CLIENT LIST.
    connectionName: `${options.prefix}:inbox-subscriber`,
  });
  subscriber.on('error', (error) => options.log.debug('redis subscriber error', { error }));
  await subscriber.connect();
  const hub = new InboxHub({
    prisma: options.prisma,
    subscriber,
    publisher: options.redis,
    prefix: options.prefix,
    log: options.log,
    recheckIntervalMs: options.recheckIntervalMs,
  });
  const wakeUps = redisWakeUpPublisher(options.redis, options.prefix);
  return {
    inbox: { hub, wakeUps: options.wrapWakeUps?.(wakeUps) ?? wakeUps, hooks: options.hooks ?? {} },
    async close() {
      await hub.close();
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
