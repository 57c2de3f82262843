// The SDK's test app: <PigeonProvider> with <NotificationBell /> in a header, and a headless list
// rendered through useNotifications() so tests can read the SDK's state without the bell.
//
// Query parameters (besides the kit's `user` and `api`): `pageSize` (default 20), `headless=0` hides
// the list (screenshots of the bell alone), `strict=0` renders without React's StrictMode,
// `bareToken=1` makes getToken return the token string alone (no expiresAt), `renderCount=1` gives
// the bell a `renderItem` that counts its calls per notification id.
// `window.pigeonTest.inbox` is the list's latest useNotifications() result, so a test can call
// `page.evaluate(() => window.pigeonTest.inbox?.markRead([id]))`; `window.pigeonTest.navigations`
// records the bell's onNavigate calls; `renders` the renderItem calls per id (with renderCount=1);
// `connections` every connection state the inbox went through, in order; `holdsStream()` whether
// this tab holds the live stream (the leader tab) rather than getting its events relayed.
import { type InboxItem, NotificationBell, PigeonProvider, plainText, useNotifications, usePigeonInbox } from '@pigeon/react';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { fetchToken, pageConfig } from './config.ts';

type Inbox = ReturnType<typeof useNotifications>;

declare global {
  interface Window {
    pigeonTest: {
      inbox: Inbox | null;
      navigations: string[];
      renders: Record<string, number>;
      connections: string[];
      holdsStream: () => boolean;
    };
  }
}

const { baseUrl, user, params } = pageConfig();
const pageSize = Number(params.get('pageSize') ?? 20);
const bareToken = params.get('bareToken') === '1';
const renderCount = params.get('renderCount') === '1';
window.pigeonTest = { inbox: null, navigations: [], renders: {}, connections: [], holdsStream: () => false };

/** Module-level, so the bell's memoized rows see the same function on every render. */
function countedRenderItem(item: InboxItem) {
  window.pigeonTest.renders[item.id] = (window.pigeonTest.renders[item.id] ?? 0) + 1;
  return <span data-test-rendered={item.id}>{plainText(item.title)}</span>;
}

/** Records every connection state the store emits (not only those React happens to render). */
function InboxProbe() {
  const inbox = usePigeonInbox();
  useEffect(() => {
    const log = window.pigeonTest.connections;
    const record = () => {
      if (log[log.length - 1] !== inbox.connection) log.push(inbox.connection);
    };
    record();
    window.pigeonTest.holdsStream = () => inbox.holdsStream;
    return inbox.subscribe(record);
  }, [inbox]);
  return null;
}

const describe = (error: unknown) => (error instanceof Error ? error.message : error ? String(error) : undefined);

function HeadlessList() {
  const inbox = useNotifications({ pageSize });
  window.pigeonTest.inbox = inbox;
  return (
    <section
      data-test-inbox
      data-test-connection={inbox.connection}
      data-test-unread={inbox.unreadCount}
      data-test-unseen={inbox.unseenCount}
      data-test-loading={String(inbox.loading)}
      data-test-has-more={String(inbox.hasMore)}
      data-test-error={describe(inbox.error)}
      data-test-mutation-error={describe(inbox.mutationError)}
      style={{ padding: '0 16px', color: '#555' }}
    >
      <h2 style={{ fontSize: 14 }}>Headless list</h2>
      <ul>
        {inbox.items.map((item) => (
          <li
            key={item.id}
            data-test-item
            data-id={item.id}
            data-read={String(item.read)}
            data-seen={String(item.seen)}
            data-seq={item.inboxSeq}
          >
            {item.title}
          </li>
        ))}
      </ul>
    </section>
  );
}

function App() {
  const [navigated, setNavigated] = useState<string | null>(null);
  return (
    <PigeonProvider baseUrl={baseUrl} getToken={bareToken ? async () => (await fetchToken(user)).token : () => fetchToken(user)}>
      <header
        style={{
          display: 'flex',
          justifyContent: 'space-between',
          alignItems: 'center',
          padding: '8px 16px',
          borderBottom: '1px solid #ddd',
        }}
      >
        <strong>Acme</strong>
        <NotificationBell
          {...(renderCount ? { renderItem: countedRenderItem } : {})}
          onNavigate={(url) => {
            window.pigeonTest.navigations.push(url);
            setNavigated(url);
          }}
        />
      </header>
      <InboxProbe />
      {navigated && <p data-test-navigated={navigated}>Navigated to {navigated}</p>}
      {params.get('headless') !== '0' && <HeadlessList />}
    </PigeonProvider>
  );
}

const root = createRoot(document.getElementById('root') as HTMLElement);
root.render(
  params.get('strict') === '0' ? (
    <App />
  ) : (
    <StrictMode>
      <App />
    </StrictMode>
  ),
);
