// Load-generation pieces shared by bench/send.ts and bench/embedded.ts: a keep-alive JSON POST, the
// open- and closed-loop drivers, and live inbox streams whose DELIVERED events are matched to the
// sends that caused them.
import http from 'node:http';
import { INBOX_EVENTS_SUBSCRIPTION, type InboxEventPayload } from './graphql.ts';
import type { Cleanup } from './platform.ts';
import { sleep } from './platform.ts';
import { type Subscription, subscribe } from './sse.ts';

/** One POST of a JSON body on `agent` (keep-alive); resolves with the status and the body text. */
export function postJson(
  agent: http.Agent,
  url: URL,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const body = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Open loop: call i is due at start + i / rate, whether or not earlier calls have finished, and is
 * given its due time so latency can be measured from it (a stall then delays every call it holds
 * up, instead of hiding them: no coordinated omission). Resolves when every call has finished.
 */
export async function openLoop(
  rate: number,
  seconds: number,
  fire: (dueAt: number) => Promise<void>,
): Promise<{ start: number; end: number }> {
  const total = Math.round(seconds * rate);
  const interval = 1000 / rate;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) inFlight.push(fire(start + i++ * interval));
    if (i < total) await sleep(Math.max(0, start + i * interval - performance.now()));
  }
  await Promise.all(inFlight);
  return { start, end: performance.now() };
}

/**
 * Closed loop: `concurrency` callers, each calling again as soon as its previous call finished, for
 * `seconds`. Returns the window; throughput is what completed inside it.
 */
export async function closedLoop(concurrency: number, seconds: number, fire: () => Promise<void>): Promise<{ start: number; end: number }> {
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await fire();
    }),
  );
  return { start, end };
}

/** CPU cores not accounted for by the named processes: other work on the machine (noise). */
export function othersCores(cores: Record<string, number>, known: readonly string[]): number {
  const accounted = known.reduce((a, k) => a + (Number.isFinite(cores[k]) ? (cores[k] as number) : 0), 0);
  return Math.max(0, (cores.machine ?? 0) - accounted);
}

export interface InboxWatch<T> {
  readonly streams: number;
  /** An acknowledged send to `subscriber`: its DELIVERED event will be reported with `meta`. */
  expect(notificationId: string, subscriber: number, meta: T): void;
  /** Acknowledged sends whose DELIVERED event has not arrived yet (matching `filter`). */
  pending(filter?: (meta: T) => boolean): number;
  /** Problems seen so far: all must be 0 in a correct run. */
  faults(): {
    duplicates: number;
    wrongStream: number;
    outOfOrder: number;
    streamErrors: number;
    streamsEnded: number;
    unknownEvents: number;
    samples: string[];
  };
}

/**
 * Opens one inbox stream per token (spread round-robin over `baseUrls`), waits for each one's
 * CONNECTED event, and matches DELIVERED events to expected sends by notification id, also when an
 * event arrives before its send's response. Checks each stream's sequence numbers.
 */
export async function watchInboxes<T>(options: {
  baseUrls: readonly string[];
  tokens: readonly string[];
  cleanup: Cleanup;
  openConcurrency?: number;
  onDelivered(meta: T, at: number): void;
}): Promise<InboxWatch<T>> {
  const n = options.tokens.length;
  const waiting = new Map<string, { subscriber: number; meta: T }>();
  const early = new Map<string, { at: number; subscriber: number }>();
  const seen = new Set<string>();
  const lastSeq: number[] = new Array(n).fill(-1);
  const connected: boolean[] = new Array(n).fill(false);
  const ended: (string | null)[] = new Array(n).fill(null);
  const faults = { duplicates: 0, wrongStream: 0, outOfOrder: 0, streamErrors: 0, samples: [] as string[] };

  const deliver = (expected: { subscriber: number; meta: T }, at: number, subscriber: number) => {
    if (expected.subscriber !== subscriber) faults.wrongStream++;
    options.onDelivered(expected.meta, at);
  };
  const onEvent = (index: number, result: { data?: any; errors?: unknown[] }, at: number) => {
    if (result.errors) {
      faults.streamErrors++;
      if (faults.samples.length < 5) faults.samples.push(JSON.stringify(result.errors).slice(0, 300));
      return;
    }
    const event = result.data?.inboxEvents as InboxEventPayload;
    if (event.type === 'CONNECTED') {
      connected[index] = true;
      lastSeq[index] = event.seq;
      return;
    }
    if (event.seq !== (lastSeq[index] as number) + 1) faults.outOfOrder++;
    lastSeq[index] = Math.max(lastSeq[index] as number, event.seq);
    if (event.type !== 'DELIVERED' || !event.notification) return;
    const id = event.notification.id;
    if (seen.has(id)) {
      faults.duplicates++;
      return;
    }
    seen.add(id);
    const expected = waiting.get(id);
    if (expected) {
      waiting.delete(id);
      deliver(expected, at, index);
    } else early.set(id, { at, subscriber: index });
  };

  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const streams: Subscription[] = [];
  options.cleanup.add(async () => {
    for (const s of streams) s.close();
    agent.destroy();
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.openConcurrency ?? 50, n) }, async () => {
      while (next < n) {
        const index = next++;
        const stream = subscribe({
          baseUrl: options.baseUrls[index % options.baseUrls.length] as string,
          token: options.tokens[index] as string,
          query: INBOX_EVENTS_SUBSCRIPTION,
          agent,
          onNext: (result, at) => onEvent(index, result, at),
          onEnd: (reason) => {
            ended[index] = reason ?? 'completed';
          },
        });
        streams[index] = stream;
        await stream.ready;
        const deadline = Date.now() + 30_000;
        while (!connected[index]) {
          if (ended[index] || Date.now() > deadline) throw new Error(`stream ${index} did not connect: ${ended[index] ?? 'timeout'}`);
          await sleep(2);
        }
      }
    }),
  );

  return {
    streams: streams.length,
    expect(notificationId, subscriber, meta) {
      const arrived = early.get(notificationId);
      if (arrived) {
        early.delete(notificationId);
        deliver({ subscriber, meta }, arrived.at, arrived.subscriber);
      } else waiting.set(notificationId, { subscriber, meta });
    },
    pending(filter) {
      if (!filter) return waiting.size;
      let count = 0;
      for (const w of waiting.values()) if (filter(w.meta)) count++;
      return count;
    },
    faults: () => ({
      duplicates: faults.duplicates,
      wrongStream: faults.wrongStream,
      outOfOrder: faults.outOfOrder,
      streamErrors: faults.streamErrors,
      streamsEnded: ended.filter(Boolean).length,
      unknownEvents: early.size,
      samples: faults.samples,
    }),
  };
}
