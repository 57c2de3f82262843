// The page: pick a user, see their bell, send them a notification, watch the webhooks arrive.
import { NotificationBell, PigeonProvider, useNotifications } from '@pigeon/react';
import { useCallback, useState } from 'react';
import { postJson } from './http.ts';
import { SendForm } from './send-form.tsx';
import { WebhookPanel } from './webhook-panel.tsx';

export interface DemoUser {
  id: string;
  name: string;
}

/** `GET /api/config`. */
export interface DemoConfig {
  pigeonUrl: string;
  users: DemoUser[];
}

const USER_KEY = 'pigeon-demo-user';

export function App({ config }: { config: DemoConfig }) {
  const first = config.users[0]?.id ?? '';
  const [user, setUser] = useState(() => {
    const saved = localStorage.getItem(USER_KEY);
    return config.users.some((u) => u.id === saved) ? (saved as string) : first;
  });
  const [opened, setOpened] = useState<string | null>(null);
  const choose = (id: string) => {
    localStorage.setItem(USER_KEY, id);
    setUser(id);
    setOpened(null);
  };
  // The backend decides whose token it mints; here the page says which demo user it is acting as.
  const getToken = useCallback(() => postJson<{ token: string; expiresAt: string }>('/api/token', { user }), [user]);
  const name = config.users.find((u) => u.id === user)?.name ?? user;

  return (
    <>
      <header className="bar">
        <strong className="brand">Pigeon demo</strong>
        <label className="who">
          <span>Signed in as</span>
          <select aria-label="Signed in as" value={user} onChange={(e) => choose(e.target.value)}>
            {config.users.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name}
              </option>
            ))}
          </select>
        </label>
        {/* Keyed by user: switching users starts a fresh provider with that user's token and inbox. */}
        <PigeonProvider key={user} baseUrl={config.pigeonUrl} getToken={getToken}>
          <InboxStatus />
          <NotificationBell className="bell" onNavigate={(url) => setOpened(url)} />
        </PigeonProvider>
      </header>
      <main className="grid">
        {opened && (
          <p className="notice" role="status">
            The bell asked to open <code>{opened}</code>. A real app would navigate there now.{' '}
            <button type="button" className="link" onClick={() => setOpened(null)}>
              Dismiss
            </button>
          </p>
        )}
        <SendForm to={user} toName={name} />
        <WebhookPanel />
      </main>
    </>
  );
}

/** What `useNotifications` knows, next to the bell: unread count and the live connection's state. */
function InboxStatus() {
  const n = useNotifications();
  return (
    <span className={`status status-${n.connection}`} title={`Live connection: ${n.connection}`}>
      <span className="dot" aria-hidden="true" />
      {n.unreadCount} unread · {n.connection}
    </span>
  );
}
