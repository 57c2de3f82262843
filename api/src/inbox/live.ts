// The live side of inbox streams in one API process: Redis subscriptions through
// @graphql-yoga/redis-event-target (one Redis channel per recipient with listeners, released when the
// last listener leaves), plus the two things that make an at-most-once pub/sub safe to build on:
//   - after the subscriber connection comes back from a disconnect, and
//   - periodically while streams are idle,
// it asks Postgres for every watched recipient's last sequence (one query per 5,000) and wakes the streams
// that are behind. Wake-ups carry no data a stream trusts: a woken stream reads Postgres.

import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { PrismaClient } from '@pigeon/schema';
import { type InboxWakeUp, inboxChannel, type Logger } from '@pigeon/worker';
import type { Redis } from 'ioredis';

/** Called with the newest sequence known for the recipient (a hint: the stream re-reads Postgres). */
export type WakeListener = (seq: number) => void;

export interface InboxHubOptions {
  prisma: PrismaClient;
  /** Dedicated to subscriptions (a connection in subscriber mode can do nothing else). */
  subscriber: Redis;
  publisher: Redis;
  prefix: string;
  log: Logger;
  /** How often watched recipients are checked against Postgres while no wake-up arrives. */
  recheckIntervalMs: number;
  /** How long attach() waits for Redis to confirm a new channel subscription before going on. */
  subscribeTimeoutMs?: number;
}

interface Watch {
  environmentId: string;
  recipientId: string;
  listener: WakeListener;
  end: () => void;
}

export class InboxHub {
  readonly #options: InboxHubOptions;
  readonly #target: ReturnType<typeof createRedisEventTarget>;
  /** Redis's confirmation of each channel subscription, so attach() knows when live events flow. */
  readonly #confirmed = new Map<string, Promise<unknown>>();
  readonly #watches = new Set<Watch>();
  readonly #timer: NodeJS.Timeout;
  #rechecking: Promise<void> | null = null;
  #again = false;
  #closed = false;
  #ending = false;
  #disconnected = false;

  constructor(options: InboxHubOptions) {
    this.#options = options;
    const { subscriber, log } = options;
    const confirmed = this.#confirmed;
    // The event target does not handle its subscribe/unsubscribe promises; this adapter does, and
    // remembers each confirmation.
    const adapter = {
      on: (event: string, listener: (channel: string, message: string) => void) => {
        subscriber.on(event, listener);
        return adapter;
      },
      subscribe: (channel: string) => {
        const confirmation = subscriber.subscribe(channel).catch((error: unknown) => {
          log.warn('redis subscribe failed; the stream relies on rechecks', { error });
        });
        confirmed.set(channel, confirmation);
        return confirmation;
      },
      unsubscribe: (channel: string) => {
        confirmed.delete(channel);
        return subscriber.unsubscribe(channel).catch((error: unknown) => {
          if (!this.#closed) log.debug('redis unsubscribe failed', { error });
        });
      },
    };
    this.#target = createRedisEventTarget({
      publishClient: options.publisher,
      subscribeClient: adapter as unknown as Redis,
      // Parsing runs inside ioredis's message event: a malformed message must not throw there.
      serializer: {
        stringify: JSON.stringify,
        parse: (text: string) => {
          try {
            return JSON.parse(text);
          } catch {
            return null;
          }
        },
      },
    });

    subscriber.on('close', () => {
      this.#disconnected = true;
      // Confirmations from before the drop say nothing about the new connection.
      this.#confirmed.clear();
    });
    subscriber.on('ready', () => {
      // Messages published while the connection was down are gone: catch up from Postgres. ioredis
      // emits 'ready' before it re-sends SUBSCRIBE; a PING queues behind that, so once it answers
      // the channels are live again and the recheck cannot miss a publish in between.
      if (!this.#disconnected) return;
      this.#disconnected = false;
      log.info('redis subscriber reconnected; rechecking inbox streams', { streams: this.#watches.size });
      subscriber
        .ping()
        .catch(() => {})
        .then(() => this.recheck());
    });
    this.#timer = setInterval(() => void this.recheck(), options.recheckIntervalMs);
    this.#timer.unref();
  }

  /** Live streams attached in this process. */
  get size(): number {
    return this.#watches.size;
  }

  /**
   * Starts delivering wake-ups for one recipient to `listener`, and resolves once Redis has confirmed
   * the channel subscription (or after a timeout, when Redis is unreachable: rechecks cover that).
   * Returns the function that detaches it. `end` is called when the process shuts down: the
   * stream should complete so its client resubscribes (with its cursor) to another process.
   */
  async attach(environmentId: string, recipientId: string, listener: WakeListener, end: () => void): Promise<() => void> {
    const channel = inboxChannel(this.#options.prefix, environmentId, recipientId);
    const watch: Watch = { environmentId, recipientId, listener, end };
    const onEvent = (event: Event) => {
      const seq = (event as CustomEvent<Partial<InboxWakeUp> | null>).detail?.seq;
      listener(typeof seq === 'number' ? seq : Number.MAX_SAFE_INTEGER);
    };
    this.#target.addEventListener(channel, onEvent);
    this.#watches.add(watch);
    let detached = false;
    const detach = () => {
      if (detached) return;
      detached = true;
      this.#watches.delete(watch);
      this.#target.removeEventListener(channel, onEvent);
    };
    const confirmation = this.#confirmed.get(channel);
    if (confirmation) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        confirmation,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#options.subscribeTimeoutMs ?? 2_000);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.#ending) end();
    return detach;
  }

  /**
   * Shutdown: completes every live stream (and any that starts from now on), so open SSE responses
   * finish and the HTTP server can close without cutting them off.
   */
  endStreams(): void {
    this.#ending = true;
    for (const w of [...this.#watches]) w.end();
  }

  /** One query for every watched recipient; wakes each stream with its recipient's last sequence. */
  recheck(): Promise<void> {
    if (this.#rechecking) {
      // The one running may have read before what this caller needs to see: run once more after it.
      this.#again = true;
      return this.#rechecking;
    }
    if (this.#watches.size === 0 || this.#closed) return Promise.resolve();
    const watches = [...this.#watches];
    const ids = [...new Set(watches.map((w) => w.recipientId))];
    this.#rechecking = (async () => {
      try {
        for (let i = 0; i < ids.length; i += 5_000) {
          const slice = ids.slice(i, i + 5_000);
          const rows = await this.#options.prisma.$queryRaw<{ id: string; last_seq: number }[]>`
            SELECT id::text AS id, last_seq FROM recipients WHERE id = ANY(${slice}::uuid[])`;
          const lastSeq = new Map(rows.map((r) => [r.id, r.last_seq]));
          for (const w of watches) {
            const seq = lastSeq.get(w.recipientId);
            if (seq !== undefined) w.listener(seq);
          }
        }
      } catch (error) {
        this.#options.log.warn('inbox recheck failed', { error });
      } finally {
        this.#rechecking = null;
        if (this.#again) {
          this.#again = false;
          void this.recheck();
        }
      }
    })();
    return this.#rechecking;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#rechecking;
  }
}
