// A client that stops reading its stream must not make the API read its whole backlog into memory:
// the stream pauses its database reads while the connection is congested, and carries on, in
// order and complete, once the client reads again.
import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeInboxCursor } from '../src/inbox/cursor.ts';
import { createTenant, createTestApi, mintClientToken, type TestApi } from './harness.ts';

const EVENTS = 2_000;
const BODY = 'x'.repeat(10_000); // ≈ 20 MB of backlog: far more than socket buffers hold

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(async () => {
  api.inbox.hooks.onRead = undefined;
  await api?.app.stop();
  await api?.close();
});

it('stops reading while the client does not read, then delivers every event in order', async () => {
  const tenant = await createTenant(api);
  const base = await api.app.start();
  const { token, recipientId } = await mintClientToken(api, tenant.apiKey, 'slow-reader');
  // A long, already-delivered history (as replay sees it): notifications with their DELIVERED events.
  await api.db.prisma.$executeRaw`
    WITH n AS (
      INSERT INTO notifications (id, environment_id, recipient_id, title, body, status, request_hash, delivered_at, delivered_seq, updated_at)
      SELECT gen_random_uuid(), ${tenant.developmentId}::uuid, ${recipientId}::uuid, 'big ' || g, ${BODY}, 'DELIVERED', 'h', now(), g, now()
        FROM generate_series(1, ${EVENTS}) AS g
      RETURNING id, delivered_seq)
    INSERT INTO inbox_events (recipient_id, seq, environment_id, type, notification_id, unread_count, unseen_count)
    SELECT ${recipientId}::uuid, delivered_seq, ${tenant.developmentId}::uuid, 'DELIVERED', id, delivered_seq, delivered_seq FROM n`;
  await api.db.prisma.recipient.update({ where: { id: recipientId }, data: { lastSeq: EVENTS, unreadCount: EVENTS, unseenCount: EVENTS } });

  let read = 0;
  api.inbox.hooks.onRead = (owner, events) => {
    if (owner.recipientId === recipientId) read += events;
  };
  const body = JSON.stringify({
    query: 'subscription($after: String) { inboxEvents(after: $after) { seq notification { body } } }',
    variables: { after: encodeInboxCursor({ recipientId, seq: 0 }) },
  });
  const url = new URL(`${base}/graphql/stream`);
  const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
  response.pause(); // the client stops reading: socket buffers fill, then the server's response congests

  // Wait until the server stops reading (no new batch for a second).
  let last = -1;
  while (read !== last) {
    last = read;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  expect(read).toBeGreaterThan(0);
  expect(read).toBeLessThan(EVENTS);

  // The client reads again: every event arrives, once, in order.
  const seqs: number[] = [];
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\n').find((line) => line.startsWith('data: '));
        if (frame.startsWith('event: next') && data) {
          const seq = JSON.parse(data.slice(6)).data?.inboxEvents?.seq as number;
          seqs.push(seq);
          if (seq === EVENTS) {
            response.destroy();
            resolve();
          }
        }
        end = buffer.indexOf('\n\n');
      }
    });
    response.on('error', reject);
    response.resume();
  });
  expect(seqs).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  expect(read).toBe(EVENTS);
}, 60_000);
