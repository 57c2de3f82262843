// Stopping an API process completes its live inbox streams: clients see a clean `complete` (and
// resubscribe elsewhere with their cursor) instead of a connection cut off at the stop deadline.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, createTestApi, mintClientToken, type TestApi } from './harness.ts';
import { subscribeInbox } from './sse-client.ts';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(async () => {
  await api?.app.stop();
  await api?.close();
});

it('completes open streams when the server stops, and stop() returns with them closed', async () => {
  const tenant = await createTenant(api);
  const base = await api.app.start();
  const streams = await Promise.all(
    ['ada', 'grace', 'ada'].map(async (who) => {
      const { token } = await mintClientToken(api, tenant.apiKey, who);
      const stream = subscribeInbox(base, token);
      await stream.waitForEvents(1);
      return stream;
    }),
  );
  expect(streams.map((s) => s.events[0]?.type)).toEqual(['CONNECTED', 'CONNECTED', 'CONNECTED']);
  expect(api.inbox.hub.size).toBe(3);

  await api.app.stop();
  const ends = await Promise.all(streams.map((s) => s.ended));
  expect(ends).toEqual([{ kind: 'complete' }, { kind: 'complete' }, { kind: 'complete' }]);
  expect(api.inbox.hub.size).toBe(0);
});
