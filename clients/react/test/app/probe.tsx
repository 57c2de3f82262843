// A page without the SDK, for the kit's own test: it fetches a token from the page server, reads
// `inbox { unreadCount }` from the API on the other origin and, with `?stream=1`, follows
// `inboxEvents` over graphql-sse (one stream, no retries) until the stop button is pressed.
import { createClient } from 'graphql-sse';
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { fetchToken, pageConfig } from './config.ts';

const { baseUrl, user, params } = pageConfig();
const token = fetchToken(user).then((t) => t.token);

function Probe() {
  const [unread, setUnread] = useState<number | null>(null);
  const [events, setEvents] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [streaming, setStreaming] = useState(params.get('stream') === '1');

  useEffect(() => {
    (async () => {
      const response = await fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token}` },
        body: JSON.stringify({ query: '{ inbox { unreadCount } }' }),
      });
      const body = (await response.json()) as { data?: { inbox: { unreadCount: number } }; errors?: unknown };
      if (!body.data) throw new Error(`inbox query: HTTP ${response.status} ${JSON.stringify(body.errors)}`);
      setUnread(body.data.inbox.unreadCount);
    })().catch((e: Error) => setError(e.message));
  }, []);

  useEffect(() => {
    if (!streaming) return;
    const client = createClient({
      url: `${baseUrl}/graphql/stream`,
      headers: async () => ({ authorization: `Bearer ${await token}` }),
      retryAttempts: 0,
    });
    const stop = client.subscribe<{ inboxEvents: { type: string; unreadCount: number } }>(
      { query: 'subscription { inboxEvents { type unreadCount } }' },
      {
        next: ({ data }) => {
          if (!data) return;
          setEvents((all) => [...all, data.inboxEvents.type]);
          setUnread(data.inboxEvents.unreadCount);
        },
        error: (e) => setError(`stream: ${e instanceof Error ? e.message : JSON.stringify(e)}`),
        complete: () => {},
      },
    );
    return () => {
      stop();
      client.dispose();
    };
  }, [streaming]);

  return (
    <main style={{ padding: 16 }}>
      <p>
        Unread: <output data-test-unread={unread ?? ''}>{unread ?? '…'}</output>
      </p>
      <p data-test-events={events.join(' ')}>{events.length} events</p>
      {error && <p data-test-error>{error}</p>}
      {streaming && (
        <button type="button" data-test-stop-stream onClick={() => setStreaming(false)}>
          Stop the stream
        </button>
      )}
    </main>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(<Probe />);
