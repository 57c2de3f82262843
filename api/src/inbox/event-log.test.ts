// The hand-written read of inbox events must return exactly what Prisma's own read returns, field
// for field and type for type — including fields added to the model later.
import type { WorkerRuntime } from '@pigeon/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, mintClientToken, startTestWorker, type TestApi } from '../../test/harness.ts';
import { readInboxEvents } from './event-log.ts';

let api: TestApi;
let worker: WorkerRuntime;
beforeAll(async () => {
  api = await createTestApi();
  worker = await startTestWorker(api);
});
afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

it('reads events with their notifications exactly as Prisma reads them', async () => {
  const tenant = await createTenant(api);
  const { token, recipientId } = await mintClientToken(api, tenant.apiKey, 'ada');
  for (const title of ['one', 'two', 'three']) {
    await api.gql(
      `mutation($i: SendInput!) { send(input: $i) { __typename } }`,
      { i: { to: 'ada', title, body: 'x', data: { n: title }, category: 'c', idempotencyKey: title } },
      bearer(tenant.apiKey),
    );
  }
  await expect.poll(() => api.db.prisma.inboxEvent.count({ where: { recipientId } })).toBe(3);
  const first = await api.db.prisma.notification.findFirstOrThrow({ where: { recipientId }, orderBy: { id: 'asc' } });
  await api.gql(`mutation($ids: [ID!]!) { markRead(ids: $ids) { __typename } }`, { ids: [first.id] }, bearer(token));
  await api.gql(`mutation { markAllSeen { __typename } }`, {}, bearer(token));

  const ours = await readInboxEvents(api.db.prisma, recipientId, 0, 100);
  const prismas = await api.db.prisma.inboxEvent.findMany({
    where: { recipientId },
    orderBy: { seq: 'asc' },
    include: { notification: true },
  });
  expect(ours.map((e) => e.type)).toEqual(['DELIVERED', 'DELIVERED', 'DELIVERED', 'READ', 'ALL_SEEN']);
  expect(ours).toStrictEqual(prismas);
  expect(ours[0]?.notification?.createdAt).toBeInstanceOf(Date);
  expect(await readInboxEvents(api.db.prisma, recipientId, 3, 1)).toEqual(prismas.slice(3, 4));
});
