// Sends the saved template to one recipient of this environment, with the editor's sample data.
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { useMutation } from 'urql';
import { TextField } from '../../components/field.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { ENV_LABEL, useProject } from '../../lib/project.tsx';
import { SendTestNotificationDocument } from './documents.ts';

const RECIPIENT_KEY = 'pigeon.testRecipient';

function rememberedRecipient(): string {
  try {
    return localStorage.getItem(RECIPIENT_KEY) ?? '';
  } catch {
    return '';
  }
}

export function TestSendPanel({
  templateKey,
  data,
  disabledReason,
}: {
  templateKey: string;
  data: unknown;
  disabledReason: string | null;
}) {
  const { environmentId, base, env } = useProject();
  const [to, setTo] = useState(rememberedRecipient);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [sent, setSent] = useState<{ id: string; duplicate: boolean } | null>(null);
  const [state, send] = useMutation(SendTestNotificationDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors({});
    setFailure(null);
    setSent(null);
    if (!to.trim()) {
      setErrors({ to: 'Enter the external id of the recipient to send to.' });
      return;
    }
    try {
      localStorage.setItem(RECIPIENT_KEY, to.trim());
    } catch {
      // Not remembering the recipient is fine.
    }
    const input = { to: to.trim(), template: templateKey, ...(data && typeof data === 'object' ? { data } : {}) };
    const result = await send({ environmentId, input }, { additionalTypenames: ['Notification', 'Recipient'] });
    const payload = result.data?.sendTestNotification;
    if (result.error) setFailure(describeError(result.error));
    else if (payload?.__typename === 'SendSuccess') setSent({ id: payload.notification.id, duplicate: payload.duplicate });
    else if (payload?.__typename === 'ValidationError') {
      const byField = issuesByField(payload.issues);
      setErrors(byField);
      if (!byField.to) setFailure(payload.issues.map((i) => `${i.path}: ${i.message}`).join(' ') || payload.message);
    } else if (payload) setFailure(payload.message);
  }

  return (
    <section className="panel stack" aria-labelledby="test-send-heading" data-testid="test-send">
      <h2 id="test-send-heading">Send a test</h2>
      <p className="field-hint">
        Sends the saved template with the sample data to a recipient of the {ENV_LABEL[env].toLowerCase()} environment (created if new). It
        shows up in their inbox like any notification.
      </p>
      <form className="form" onSubmit={submit} noValidate>
        <TextField
          label="Recipient external id"
          value={to}
          onChange={(e) => setTo(e.target.value)}
          error={errors.to}
          placeholder="e.g. user-42"
          data-testid="test-recipient"
        />
        {disabledReason ? <Alert tone="info">{disabledReason}</Alert> : null}
        {failure ? <Alert>{failure}</Alert> : null}
        {sent ? (
          <Alert tone="success" testId="test-sent">
            {sent.duplicate ? 'Already sent.' : 'Sent.'}{' '}
            <Link to={`${base}/notifications/${sent.id}`} data-testid="test-notification-link">
              Open the notification
            </Link>
          </Alert>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="button" disabled={state.fetching || disabledReason !== null} data-testid="send-test">
            {state.fetching ? <Spinner small /> : null}
            Send test notification
          </button>
        </div>
      </form>
    </section>
  );
}
