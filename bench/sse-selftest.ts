// Checks the benches' light SSE reader (bench/lib/sse.ts): first the parser on hand-made streams
// cut at every possible byte, then against a real API process next to the reference graphql-sse
// client — both subscribe to the same inbox, a worker delivers a few notifications (one with
// multi-byte text), and both must see the same events in the same order.
// Run: npx node bench/sse-selftest.ts   (about 10 s; exits non-zero on any mismatch)
import assert from 'node:assert/strict';
import http from 'node:http';
import { createClient } from 'graphql-sse';
import {
  createTenant,
  graphqlClient,
  INBOX_EVENTS_SUBSCRIPTION,
  type InboxEventPayload,
  mintClientTokens,
  SEND_MUTATION,
} from './lib/graphql.ts';
import { createCleanup, sleep, uniqueName } from './lib/platform.ts';
import { type SseFrame, SseParser, subscribe } from './lib/sse.ts';
import { createStack } from './lib/stack.ts';

function parseInPieces(stream: string, cut: number): SseFrame[] {
  const parser = new SseParser();
  return [...parser.feed(stream.slice(0, cut)), ...parser.feed(stream.slice(cut))];
}

function checkParser(): void {
  const stream =
    ':\n\n' + // keep-alive comment
    'event: next\ndata: {"a":1}\n\n' +
    'event: next\r\ndata: {"b":"é ✓ 🐦"}\r\n\r\n' +
    'event:next\rdata:line one\rdata: line two\r\r' +
    'data: no event name\n\n' +
    'event: complete\ndata:\n\n' +
    'event: complete\n\n';
  const expected: SseFrame[] = [
    { event: 'next', data: '{"a":1}' },
    { event: 'next', data: '{"b":"é ✓ 🐦"}' },
    { event: 'next', data: 'line one\nline two' },
    { event: 'message', data: 'no event name' },
    { event: 'complete', data: '' },
    { event: 'complete', data: '' },
  ];
  for (let cut = 0; cut <= stream.length; cut++) assert.deepEqual(parseInPieces(stream, cut), expected, `cut at ${cut}`);
  // One character at a time.
  const parser = new SseParser();
  const frames = [...stream].flatMap((ch) => parser.feed(ch));
  assert.deepEqual(frames, expected);
  console.log('parser: ok (every split point, CR / LF / CRLF, comments, multi-line data)');
}

async function checkAgainstReferenceClient(): Promise<void> {
  const cleanup = createCleanup();
  try {
    const stack = await createStack(cleanup);
    const { baseUrl } = await stack.startApi('api');
    stack.startWorker('worker');
    const client = graphqlClient(baseUrl);
    cleanup.add(async () => client.close());
    const tenant = await createTenant(client, uniqueName('selftest'));
    const [minted] = await mintClientTokens(client, tenant.apiKey, ['selftest-recipient']);
    assert.ok(minted);

    const ours: InboxEventPayload[] = [];
    const agent = new http.Agent({ keepAlive: false });
    const sub = subscribe({
      baseUrl,
      token: minted.token,
      query: INBOX_EVENTS_SUBSCRIPTION,
      agent,
      onNext: (r) => {
        assert.equal(r.errors, undefined, JSON.stringify(r.errors));
        ours.push(r.data.inboxEvents);
      },
    });
    cleanup.add(async () => sub.close());
    await sub.ready;

    const reference: InboxEventPayload[] = [];
    const sse = createClient({ url: `${baseUrl}/graphql/stream`, headers: { authorization: `Bearer ${minted.token}` }, retryAttempts: 0 });
    const unsubscribe = sse.subscribe<{ inboxEvents: InboxEventPayload }>(
      { query: INBOX_EVENTS_SUBSCRIPTION, variables: {} },
      {
        next: (r) => {
          if (r.data) reference.push(r.data.inboxEvents);
        },
        error: (e) => console.error('graphql-sse client error', e),
        complete: () => {},
      },
    );
    cleanup.add(async () => {
      unsubscribe();
      sse.dispose();
    });

    const deadline = Date.now() + 10_000;
    while ((ours.length < 1 || reference.length < 1) && Date.now() < deadline) await sleep(20);
    // The long body spans many TCP reads; multi-byte characters land on chunk borders somewhere.
    const sends = [
      { title: 'plain', body: 'body' },
      { title: 'multi-byte: é ✓ 🐦 — “quotes”', body: '🐦'.repeat(4_000) },
      { title: 'long', body: `é${'x'.repeat(9_990)}✓` },
      { title: 'last', body: 'body' },
    ];
    const titles = sends.map((s) => s.title);
    for (const input of sends) {
      const r = await client.request(
        SEND_MUTATION,
        { input: { to: 'selftest-recipient', ...input } },
        { authorization: `Bearer ${tenant.apiKey}` },
      );
      assert.equal(r.data?.send?.__typename, 'SendSuccess', JSON.stringify(r));
    }
    while ((ours.length < 1 + titles.length || reference.length < 1 + titles.length) && Date.now() < deadline) await sleep(20);
    await sleep(300); // anything extra (a duplicate) would arrive now

    assert.equal(ours[0]?.type, 'CONNECTED');
    // The worker delivers concurrently, so delivery order may differ from send order; the
    // sequence numbers must still be contiguous.
    assert.deepEqual(
      ours
        .slice(1)
        .map((e) => [e.type, e.notification?.title])
        .sort(),
      titles.map((t) => ['DELIVERED', t]).sort(),
    );
    assert.deepEqual(
      ours.map((e) => e.seq),
      ours.map((_, i) => (ours[0]?.seq ?? 0) + i),
    );
    // The reference client may have connected a moment later: compare from its CONNECTED on.
    assert.equal(reference[0]?.type, 'CONNECTED');
    assert.deepEqual(
      reference.slice(1).map((e) => e.cursor),
      ours.slice(1).map((e) => e.cursor),
    );
    assert.deepEqual(reference.slice(1), ours.slice(1));
    const long = ours.find((e) => e.notification?.title === 'long')?.notification as { body?: string } | undefined;
    assert.equal(long?.body, sends[2]?.body);
    console.log(`reader vs graphql-sse client: ok (${ours.length} events each, identical payloads)`);
    sub.close();
    agent.destroy();
  } finally {
    await cleanup.run();
  }
}

checkParser();
await checkAgainstReferenceClient();
