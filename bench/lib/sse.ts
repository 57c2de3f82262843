// A light GraphQL-over-SSE subscriber for load generation: one plain node:http POST per
// subscription (graphql-sse "distinct connections" mode, what Yoga serves at /graphql/stream) and a
// small text/event-stream parser. Thousands of these cost the load generator far less CPU and
// memory than as many graphql-sse client instances (no retry machinery, no fetch/streams layers).
// `npx node bench/sse-selftest.ts` checks it against the graphql-sse client on a real server.
import http from 'node:http';

export interface SseFrame {
  event: string;
  data: string;
}

/**
 * Incremental text/event-stream parser (the WHATWG rules for the fields used here): lines end in
 * LF, CR or CRLF (also when a CRLF is split across chunks), `event` and `data` fields (a single
 * space after the colon is dropped, several data lines join with LF), `:` comments ignored, a blank
 * line dispatches. One deviation: a frame with an `event` but no `data` line is dispatched too
 * (with data ''), so a bare `event: complete` is never lost.
 */
export class SseParser {
  #rest = '';
  #event = '';
  #data: string[] = [];
  #skipLf = false;

  feed(text: string): SseFrame[] {
    const frames: SseFrame[] = [];
    let buffer = this.#rest + text;
    if (this.#skipLf && buffer.charCodeAt(0) === 10) buffer = buffer.slice(1);
    this.#skipLf = false;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(buffer.slice(start, i), frames);
      if (c === 13) {
        if (i + 1 === buffer.length) this.#skipLf = true;
        else if (buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#rest = buffer.slice(start);
    return frames;
  }

  #line(line: string, frames: SseFrame[]): void {
    if (line === '') {
      if (this.#data.length > 0 || this.#event !== '') frames.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}

export interface ExecutionResult<T = any> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface SubscribeOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:4000 */
  baseUrl: string;
  path?: string;
  token: string;
  query: string;
  variables?: Record<string, unknown>;
  agent: http.Agent;
  /** Each `next` payload with the time its bytes arrived (performance.now()). */
  onNext(result: ExecutionResult, receivedAt: number): void;
  /** The stream ended: `complete` from the server (reason null), or an error / disconnect. */
  onEnd?(reason: string | null): void;
}

export interface Subscription {
  /** Resolves when the server has answered 200 text/event-stream; rejects otherwise. */
  ready: Promise<void>;
  readonly ended: boolean;
  close(): void;
}

export function subscribe(options: SubscribeOptions): Subscription {
  const url = new URL(options.path ?? '/graphql/stream', options.baseUrl);
  const body = JSON.stringify({ query: options.query, variables: options.variables ?? {} });
  let ended = false;
  let closedByUs = false;
  const end = (reason: string | null) => {
    if (ended) return;
    ended = true;
    options.onEnd?.(reason);
  };
  let resolveReady: () => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const req = http.request(url, {
    method: 'POST',
    agent: options.agent,
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${options.token}`,
      'content-length': Buffer.byteLength(body),
    },
  });
  req.on('response', (res) => {
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        const error = new Error(`subscribe answered ${res.statusCode} ${type}: ${text.slice(0, 300)}`);
        rejectReady(error);
        end(error.message);
      });
      return;
    }
    resolveReady();
    const parser = new SseParser();
    res.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across chunks stay whole
    res.on('data', (chunk: string) => {
      const receivedAt = performance.now();
      for (const frame of parser.feed(chunk)) {
        if (frame.event === 'next') options.onNext(JSON.parse(frame.data) as ExecutionResult, receivedAt);
        else if (frame.event === 'complete') {
          end(null);
          req.destroy();
        }
      }
    });
    res.on('end', () => end(closedByUs ? null : 'server closed the stream'));
    res.on('error', (error) => end(closedByUs ? null : error.message));
  });
  req.on('error', (error) => {
    rejectReady(error);
    end(closedByUs ? null : error.message);
  });
  req.end(body);
  return {
    ready,
    get ended() {
      return ended;
    },
    close() {
      closedByUs = true;
      req.destroy();
      end(null);
    },
  };
}
