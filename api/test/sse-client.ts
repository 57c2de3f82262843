// Test helper: one GraphQL subscription over real HTTP/SSE through the official graphql-sse client
// ("distinct connections" mode, no retries, so every failure reaches the test as it happened), with
// everything that arrives recorded in order.
//
//   const stream = subscribeInbox(server.url, token, { after: cursor });
//   await stream.waitForEvents(3);            // CONNECTED/RESYNC/... events, in arrival order
//   stream.events.map((e) => e.seq);
//   await stream.close();                     // aborts the HTTP request (the server notices later)
//
// `results` keeps every `next` payload (including ones that carry only `errors`), `end` says how the
// stream ended: `complete` (the server closed it), `aborted` (close() was called) or `error` (a
// transport error: for a non-2xx answer, `status` and the parsed JSON `body` of the response are
// filled in).
import { createClient, type ExecutionResult, NetworkError } from 'graphql-sse';

export type StreamEnd = { kind: 'complete' } | { kind: 'aborted' } | { kind: 'error'; error: unknown; status?: number; body?: unknown };

export interface TestStream<T = Record<string, unknown>> {
  /** Every `next` payload, in arrival order. */
  readonly results: ExecutionResult<T, unknown>[];
  /** How the stream ended; null while it is open. */
  readonly end: StreamEnd | null;
  /** Resolves when the stream ends (never rejects). */
  readonly ended: Promise<StreamEnd>;
  /** Waits until `predicate(results)` holds; fails with what arrived so far after `timeoutMs`. */
  waitFor(predicate: (results: ExecutionResult<T, unknown>[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /**
   * Closes the stream from the client side (aborts the request). Resolves at once with how it ended;
   * the server releases its side asynchronously (poll for that if it matters).
   */
  close(): Promise<StreamEnd>;
}

export interface OpenStreamOptions {
  /** Sent as "Authorization: Bearer <token>" when given. */
  token?: string;
  /** Extra request headers (e.g. a raw Authorization header). */
  headers?: Record<string, string>;
  query: string;
  variables?: Record<string, unknown>;
}

/** The graphql-sse endpoint of a Pigeon API whose base URL is `base`. */
export function streamUrl(base: string): string {
  return `${base}/graphql/stream`;
}

/** Opens one subscription with its own graphql-sse client and records what arrives. */
export function openStream<T = Record<string, unknown>>(base: string, options: OpenStreamOptions): TestStream<T> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const client = createClient({ url: streamUrl(base), headers, retryAttempts: 0 });
  const results: ExecutionResult<T, unknown>[] = [];
  let end: StreamEnd | null = null;
  let closing = false;
  const changed = new Set<() => void>();
  const notify = () => {
    for (const listener of changed) listener();
  };
  let finish: (value: StreamEnd) => void = () => {};
  const ended = new Promise<StreamEnd>((resolve) => {
    finish = (value) => {
      if (end) return;
      end = value;
      resolve(value);
      notify();
    };
  });

  const dispose = client.subscribe<T>(
    { query: options.query, variables: options.variables ?? {} },
    {
      next(value) {
        results.push(value);
        notify();
      },
      complete() {
        finish(closing ? { kind: 'aborted' } : { kind: 'complete' });
      },
      error(error) {
        if (error instanceof NetworkError && error.response) {
          const response = error.response as Response;
          void response
            .text()
            .then((text) => {
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // not JSON: keep the text
              }
              finish({ kind: 'error', error, status: response.status, body });
            })
            .catch(() => finish({ kind: 'error', error, status: response.status }));
          return;
        }
        finish({ kind: 'error', error });
      },
    },
  );

  return {
    results,
    get end() {
      return end;
    },
    ended,
    waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      if (predicate(results)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(results)) {
            cleanup();
            resolve();
          } else if (end) {
            cleanup();
            reject(new Error(`stream ended (${JSON.stringify(end)}) before ${what}; got ${JSON.stringify(results)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(results)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          changed.delete(check);
        };
        changed.add(check);
      });
    },
    async close() {
      closing = true;
      dispose();
      client.dispose();
      // An aborted distinct-connection subscription ends silently (no complete, no error).
      if (!end) finish({ kind: 'aborted' });
      return ended;
    },
  };
}

/** What `INBOX_EVENTS_SUBSCRIPTION` selects of each InboxEvent. */
export interface InboxEventData {
  cursor: string;
  seq: number;
  type: string;
  unreadCount: number;
  unseenCount: number;
  upToSeq: number | null;
  reason: string | null;
  notification: { id: string; title: string | null } | null;
}

export const INBOX_EVENTS_SUBSCRIPTION = /* GraphQL */ `
  subscription InboxEvents($after: String) {
    inboxEvents(after: $after) {
      cursor
      seq
      type
      unreadCount
      unseenCount
      upToSeq
      reason
      notification { id title }
    }
  }
`;

export interface InboxStream extends TestStream<{ inboxEvents: InboxEventData }> {
  /** The inbox events received so far (payloads with data), in order. */
  readonly events: InboxEventData[];
  /** Waits until at least `count` events have arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<InboxEventData[]>;
}

/** Subscribes to `inboxEvents(after)` with a client token. */
export function subscribeInbox(
  base: string,
  token: string | undefined,
  { after, headers }: { after?: string | null; headers?: Record<string, string> } = {},
): InboxStream {
  const stream = openStream<{ inboxEvents: InboxEventData }>(base, {
    token,
    headers,
    query: INBOX_EVENTS_SUBSCRIPTION,
    variables: after === undefined ? {} : { after },
  });
  const events = () => stream.results.flatMap((r) => (r.data?.inboxEvents ? [r.data.inboxEvents] : []));
  // defineProperty, not Object.assign: `events` must stay a live getter.
  Object.defineProperty(stream, 'events', { get: events, enumerable: true });
  Object.defineProperty(stream, 'waitForEvents', {
    value: async (count: number, timeoutMs?: number) => {
      await stream.waitFor((r) => r.filter((x) => x.data?.inboxEvents).length >= count, timeoutMs, `${count} inbox events`);
      return events();
    },
  });
  return stream as InboxStream;
}
