// What the demo's webhook receiver got, newest first, polled every second.
import { plainText } from '@pigeon/react';
import { useEffect, useState } from 'react';
import { newKey } from './http.ts';

/** One entry of `GET /api/webhooks` (see ../webhook-log.ts). */
interface ReceivedWebhook {
  receivedAt: string;
  webhookId: string | null;
  verified: boolean;
  type: string | null;
  reason?: string;
  message?: string;
  notification?: { id: string; recipient: string; title: string | null; status: string };
}

interface WebhooksResponse {
  endpoint: { id: string; url: string } | null;
  received: ReceivedWebhook[];
}

export function WebhookPanel() {
  const [data, setData] = useState<WebhooksResponse | null>(null);
  const [offline, setOffline] = useState(false);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const res = await fetch('/api/webhooks');
        if (!stopped) {
          setData((await res.json()) as WebhooksResponse);
          setOffline(false);
        }
      } catch {
        if (!stopped) setOffline(true);
      }
      if (!stopped) timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  return (
    <section className="card">
      <h2>Webhooks received</h2>
      <p className="hint">
        Pigeon POSTs signed events to {data?.endpoint ? <code>{data.endpoint.url}</code> : 'the demo'}; the receiver checks each with{' '}
        <code>verifyWebhook()</code>.{' '}
        <button type="button" className="link" onClick={() => void sendForged()}>
          Send a forged one
        </button>
      </p>
      {offline && <p className="result error">The demo server does not answer.</p>}
      {data && data.received.length === 0 && <p className="empty">Nothing yet. Send a notification.</p>}
      <ol className="hooks">
        {data?.received.map((w, i) => (
          <li key={`${w.webhookId}-${w.receivedAt}-${i}`} className={w.verified ? 'hook' : 'hook refused'}>
            <div className="hook-head">
              <span className="type">{w.type ?? 'unknown'}</span>
              {w.verified ? (
                <span className="badge ok">✓ verified</span>
              ) : (
                <span className="badge bad" title={w.message}>
                  ✗ {w.reason}
                </span>
              )}
              <time dateTime={w.receivedAt}>{new Date(w.receivedAt).toLocaleTimeString()}</time>
            </div>
            {w.notification && (
              <div className="hook-body">
                “{plainText(w.notification.title)}” to <strong>{w.notification.recipient}</strong> · {w.notification.status}
              </div>
            )}
            {!w.verified && w.message && <div className="hook-body why">{w.message}</div>}
            <div className="hook-id">webhook-id {w.webhookId ?? '(none)'}</div>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** A request that claims to come from Pigeon but is signed with a made-up key: the receiver must refuse it. */
async function sendForged(): Promise<void> {
  await fetch('/webhooks/pigeon', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': `forged-${newKey()}`,
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': `v1,${btoa('not the endpoint secret, not a real HMAC')}`,
    },
    // Spaced like Pigeon's own bodies, so the refusal is about the signature, not the formatting.
    body: `{"data": {"id": "forged"}, "type": "notification.read", "timestamp": "${new Date().toISOString()}"}`,
  });
}
