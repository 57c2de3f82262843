// How streams end on the server's side: stopping an API process completes its live inbox streams
// (clients see a clean `complete` and resubscribe elsewhere with their cursor) instead of cutting
// them off at the stop deadline; a stream that fails unexpectedly ends with a masked error and the
// process goes on serving.
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

it('ends a stream whose server side fails unexpectedly with a masked error, and the process keeps serving', async () => {
  const fresh = await createTestApi();
  try {
    const tenant = await createTenant(fresh);
    const base = await fresh.app.start();
    const { token } = await mintClientToken(fresh, tenant.apiKey, 'ada');
    fresh.inbox.hooks.afterAttach = async () => {
      throw new Error('boom inside the stream');
    };
    const broken = subscribeInbox(base, token);
    expect(await broken.ended).toEqual({ kind: 'complete' });
    expect(broken.results).toMatchObject([{ data: null, errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }]);
    expect(JSON.stringify(broken.results)).not.toContain('boom');

    fresh.inbox.hooks.afterAttach = undefined;
    const healthy = subscribeInbox(base, token);
    expect((await healthy.waitForEvents(1))[0]?.type).toBe('CONNECTED');
    await healthy.close();
  } finally {
    await fresh.app.stop();
    await fresh.close();
  }
});
