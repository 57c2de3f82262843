// One live stream per browser, not per tab. Browsers allow six HTTP/1.1 connections per origin, so
// ten open tabs each holding an SSE stream would starve the page of connections. The tabs of one
// user elect a leader with the Web Locks API (the lock is released when its tab closes or crashes,
// and the next waiting tab takes it); the leader holds the stream and relays every event to the
// other tabs over a BroadcastChannel. Without these APIs (old browsers, tests in Node) every
// instance is its own leader.
import type { ConnectionState, InboxEventData } from './stream.ts';

export type TabMessage =
  | { kind: 'event'; event: InboxEventData }
  | { kind: 'state'; state: ConnectionState }
  /** A new tab asks the leader for its connection state. */
  | { kind: 'hello' };

export interface TabHandlers {
  /** This tab now holds the lock: start the stream. */
  lead(): void;
  /** An event relayed by the leader tab. */
  relayed(event: InboxEventData): void;
  /** The leader's connection state (followers show it as their own). */
  leaderState(state: ConnectionState): void;
  /** A follower asked for the state: answer with `announce`. */
  greeted(): void;
}

export class TabCoordinator {
  readonly #key: string;
  readonly #handlers: TabHandlers;
  #channel: BroadcastChannel | null = null;
  #abort: AbortController | null = null;
  #release: (() => void) | null = null;
  #leader = false;

  constructor(key: string, handlers: TabHandlers) {
    this.#key = key;
    this.#handlers = handlers;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  static supported(): boolean {
    return typeof navigator !== 'undefined' && !!navigator.locks && typeof BroadcastChannel !== 'undefined';
  }

  start(): void {
    if (!TabCoordinator.supported()) {
      this.#leader = true;
      this.#handlers.lead();
      return;
    }
    const channel = new BroadcastChannel(this.#key);
    this.#channel = channel;
    channel.onmessage = (message: MessageEvent<TabMessage>) => {
      const data = message.data;
      if (data.kind === 'event' && !this.#leader) this.#handlers.relayed(data.event);
      else if (data.kind === 'state' && !this.#leader) this.#handlers.leaderState(data.state);
      else if (data.kind === 'hello' && this.#leader) this.#handlers.greeted();
    };
    const abort = new AbortController();
    this.#abort = abort;
    navigator.locks
      .request(this.#key, { signal: abort.signal }, () => {
        if (abort.signal.aborted) return undefined;
        this.#leader = true;
        this.#handlers.lead();
        // Held until stop(): the promise the lock waits on.
        return new Promise<void>((resolve) => {
          this.#release = resolve;
        });
      })
      .catch(() => {
        // Aborted while waiting (the provider unmounted): nothing to do.
      });
    channel.postMessage({ kind: 'hello' } satisfies TabMessage);
  }

  /** Leader only: sends an event or the connection state to the other tabs. */
  broadcast(message: TabMessage): void {
    if (this.#leader) this.#channel?.postMessage(message);
  }

  stop(): void {
    this.#abort?.abort();
    this.#abort = null;
    this.#release?.();
    this.#release = null;
    this.#leader = false;
    this.#channel?.close();
    this.#channel = null;
  }
}
