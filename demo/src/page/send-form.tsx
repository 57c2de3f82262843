// Sends through the demo backend, which calls the Node SDK's `pigeon.send` with the API key.
import { type FormEvent, useState } from 'react';
import { newKey, postJson } from './http.ts';

interface SendResponse {
  notification: { id: string; status: string };
  duplicate: boolean;
  idempotencyKey: string;
}

type Outcome = { ok: true; sent: SendResponse } | { ok: false; message: string };

export function SendForm({ to, toName }: { to: string; toName: string }) {
  const [title, setTitle] = useState('Your order has shipped');
  const [body, setBody] = useState('Parcel #1234 is on its way and arrives on Thursday.');
  const [actionUrl, setActionUrl] = useState('/orders/1234');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      // One key per click: if this request were retried, Pigeon would return the first notification.
      const sent = await postJson<SendResponse>('/api/send', {
        to,
        title,
        body,
        actionUrl: actionUrl || undefined,
        idempotencyKey: newKey(),
      });
      setOutcome({ ok: true, sent });
    } catch (error) {
      setOutcome({ ok: false, message: (error as Error).message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card">
      <h2>Send a notification</h2>
      <p className="hint">
        Goes to <strong>{toName}</strong> through <code>POST /api/send</code> → <code>pigeon.send()</code>. Watch the bell.
      </p>
      <form onSubmit={submit} className="form">
        <label>
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
        </label>
        <label>
          Body
          <textarea value={body} onChange={(e) => setBody(e.target.value)} rows={3} maxLength={2000} />
        </label>
        <label>
          Action URL
          <input value={actionUrl} onChange={(e) => setActionUrl(e.target.value)} placeholder="/orders/1234" maxLength={500} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send notification'}
        </button>
      </form>
      {outcome?.ok === true && (
        <p className="result ok" role="status">
          Sent: notification <code>{outcome.sent.notification.id}</code> is {outcome.sent.notification.status}
          {outcome.sent.duplicate ? ' (duplicate: nothing new was sent)' : ''}.
        </p>
      )}
      {outcome?.ok === false && (
        <p className="result error" role="alert">
          {outcome.message}
        </p>
      )}
    </section>
  );
}
