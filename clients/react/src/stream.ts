// The live stream: `inboxEvents(after:)` over graphql-sse, kept open forever.
//
// graphql-sse's own retry resubscribes with the variables it started with, which would replay from
// the first cursor (or, without one, skip what happened while disconnected). So its retries are off
// (`retryAttempts: 0`) and this loop resubscribes itself, each time with the latest cursor, with
// capped, jittered backoff. A stream refused or ended for an expired token fetches a new token and
// resumes at once.
import { stringifyDocument } from '@urql/core';
import { createClient } from 'graphql-sse';
import { InboxEventsDocument } from './documents.ts';
import type { PigeonInboxEventsSubscription } from './gql/graphql.ts';
import type { TokenManager } from './token.ts';

export type InboxEventData = PigeonInboxEventsSubscription['inboxEvents'];

/** The live connection as the UI shows it. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface StreamHandlers {
  /** The cursor to resume after (null: start from now). */
  cursor(): string | null;
  /** Applies one event; 'gap' makes the stream resubscribe from the last applied cursor. */
  onEvent(event: InboxEventData): 'ok' | 'gap';
  onState(state: ConnectionState): void;
}

type Outcome = 'complete' | 'gap' | 'auth' | 'error' | 'stopped';

const MAX_BACKOFF_MS = 30_000;

/** 0.5 s, 1 s, 2 s … capped at 30 s, each between half and all of it (so tabs don't retry in step). */
export function backoffMs(failures: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class LiveStream {
  readonly #url: string;
  readonly #tokens: TokenManager;
  readonly #handlers: StreamHandlers;
  readonly #query = stringifyDocument(InboxEventsDocument);
  #running = false;
  #cancelCurrent: (() => void) | null = null;
  #wake: (() => void) | null = null;
  #state: ConnectionState | null = null;

  constructor(baseUrl: string, tokens: TokenManager, handlers: StreamHandlers) {
    this.#url = `${baseUrl}/graphql/stream`;
    this.#tokens = tokens;
    this.#handlers = handlers;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    if (typeof window !== 'undefined') window.addEventListener('online', this.#onOnline);
    void this.#loop();
  }

  stop(): void {
    this.#running = false;
    if (typeof window !== 'undefined') window.removeEventListener('online', this.#onOnline);
    this.#cancelCurrent?.();
    this.#wake?.();
  }

  /** Skips the current backoff wait (tab became visible, network came back). */
  reconnectNow(): void {
    this.#wake?.();
  }

  readonly #onOnline = (): void => this.reconnectNow();

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#handlers.onState(state);
  }

  async #loop(): Promise<void> {
    let failures = 0;
    let authRetries = 0;
    let everLive = false;
    while (this.#running) {
      const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
      this.#setState(offline ? 'offline' : everLive ? 'reconnecting' : 'connecting');
      const started = Date.now();
      const { outcome, live } = await this.#once();
      everLive ||= live;
      if (!this.#running || outcome === 'stopped') break;
      // A connection that stayed up a while resets the backoff; one that drops at once does not.
      if (live && Date.now() - started > 10_000) failures = 0;
      if (outcome === 'gap') continue;
      if (outcome === 'auth') {
        // Resume at once with a fresh token; a token the server keeps refusing backs off like an error.
        if (authRetries++ < 2) continue;
      } else {
        authRetries = 0;
      }
      failures += 1;
      this.#setState(typeof navigator !== 'undefined' && navigator.onLine === false ? 'offline' : 'reconnecting');
      await this.#sleep(outcome === 'complete' && live ? 250 : backoffMs(failures));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  #once(): Promise<{ outcome: Outcome; live: boolean }> {
    return new Promise((resolve) => {
      let settled = false;
      let live = false;
      let tokenUsed: string | null = null;
      let dispose: (() => void) | null = null;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        this.#cancelCurrent = null;
        if (outcome === 'auth' && tokenUsed) this.#tokens.invalidate(tokenUsed);
        dispose?.();
        resolve({ outcome, live });
      };
      this.#cancelCurrent = () => finish('stopped');
      const client = createClient({
        url: this.#url,
        retryAttempts: 0,
        headers: async () => {
          const token = await this.#tokens.get();
          tokenUsed = token.value;
          return { authorization: `Bearer ${token.value}` };
        },
        on: {
          connected: () => {
            live = true;
            this.#setState('live');
          },
        },
      });
      dispose = client.subscribe<PigeonInboxEventsSubscription>(
        { query: this.#query, variables: { after: this.#handlers.cursor() } },
        {
          next: (result) => {
            if (settled) return;
            const error = result.errors?.[0];
            if (error) {
              finish(error.extensions?.code === 'UNAUTHENTICATED' ? 'auth' : 'error');
              return;
            }
            const event = result.data?.inboxEvents;
            if (event && this.#handlers.onEvent(event) === 'gap') finish('gap');
          },
          error: (error: unknown) => {
            const status = (error as { response?: { status?: number } } | null)?.response?.status;
            finish(status === 401 ? 'auth' : 'error');
          },
          complete: () => finish('complete'),
        },
      );
      if (settled) dispose();
    });
  }
}
