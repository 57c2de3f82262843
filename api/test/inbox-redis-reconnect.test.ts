// After the API's Redis subscriber connection drops and comes back, wake-ups published meanwhile are
// gone; the hub then rechecks every watched recipient against PostgreSQL, so open streams still get
// what they missed. Here the only way an event can reach the stream is that recheck: the worker's
// wake-ups are dropped on purpose and the periodic recheck is 10 minutes away.
import type { WorkerRuntime } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, mintClientToken, startTestWorker, TEST_REDIS_URL, type TestApi } from './harness.ts';
import { type InboxStream, subscribeInbox } from './sse-client.ts';

let api: TestApi;
let worker: WorkerRuntime;
let admin: Redis;
let stream: InboxStream | null = null;

beforeAll(async () => {
  api = await createTestApi({ INBOX_RECHECK_INTERVAL_MS: '600000' });
  worker = await startTestWorker(api, { wrapWakeUps: () => ({ publish: async () => {} }) });
  admin = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await stream?.close();
  await api?.app.stop();
  await worker?.stop();
  await admin?.quit();
  await api?.close();
});

async function subscriberIds(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${api.env.REDIS_PREFIX}:inbox-subscriber `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

it('rechecks open streams from PostgreSQL when the subscriber connection comes back', async () => {
  const tenant = await createTenant(api);
  const base = await api.app.start();
  const { token } = await mintClientToken(api, tenant.apiKey, 'ada');
  stream = subscribeInbox(base, token);
  await stream.waitForEvents(1);

  const sent = await api.gql(
    `mutation { send(input: { to: "ada", title: "while nobody listened", body: "x" }) { ... on SendSuccess { notification { id } } } }`,
    {},
    bearer(tenant.apiKey),
  );
  const id = sent.body.data.send.notification.id as string;
  // Delivered (the database says so), but its wake-up was dropped: the stream has not heard of it.
  await expect.poll(async () => (await api.db.prisma.notification.findUniqueOrThrow({ where: { id } })).status).toBe('DELIVERED');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(stream.events.map((e) => e.type)).toEqual(['CONNECTED']);

  const [subscriber] = await subscriberIds();
  expect(subscriber).toBeDefined();
  await admin.client('KILL', 'ID', subscriber as string);

  const events = await stream.waitForEvents(2, 10_000);
  expect(events.map((e) => [e.seq, e.type, e.notification?.id ?? null])).toEqual([
    [0, 'CONNECTED', null],
    [1, 'DELIVERED', id],
  ]);
  // It really was a new connection that did it.
  expect(await subscriberIds()).not.toContain(subscriber);
});
