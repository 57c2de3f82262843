// An endpoint's management actions: edit, test, disable/enable, recover, delete.
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useMutation } from 'urql';
import { ConfirmDialog, Dialog } from '../../components/dialog.tsx';
import { TextField } from '../../components/field.tsx';
import { Spinner } from '../../components/states.tsx';
import type { EndpointFieldsFragment } from '../../gql/graphql.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { plural } from '../../lib/text.ts';
import { fromLocalInput, toLocalInput } from '../../lib/time.ts';
import {
  DELIVERIES,
  DeleteWebhookEndpointDocument,
  DisableWebhookEndpointDocument,
  ENDPOINTS,
  EnableWebhookEndpointDocument,
  RecoverWebhookDeliveriesDocument,
  SendWebhookTestEventDocument,
  UpdateWebhookEndpointDocument,
} from './documents.ts';
import { EndpointForm, type EndpointValues } from './endpoint-form.tsx';

type Notice = { tone: 'success' | 'error'; content: React.ReactNode } | null;

export function EndpointActions({ endpoint, onNotice }: { endpoint: EndpointFieldsFragment; onNotice(notice: Notice): void }) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<'edit' | 'disable' | 'delete' | 'recover' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [reason, setReason] = useState('');
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 24 * 3600_000)));
  const [updateState, update] = useMutation(UpdateWebhookEndpointDocument);
  const [disableState, disable] = useMutation(DisableWebhookEndpointDocument);
  const [enableState, enable] = useMutation(EnableWebhookEndpointDocument);
  const [deleteState, remove] = useMutation(DeleteWebhookEndpointDocument);
  const [testState, test] = useMutation(SendWebhookTestEventDocument);
  const [recoverState, recover] = useMutation(RecoverWebhookDeliveriesDocument);

  function close() {
    setDialog(null);
    setError(null);
    setFieldErrors({});
  }

  async function save(values: EndpointValues) {
    setError(null);
    setFieldErrors({});
    const result = await update(
      {
        environmentId,
        id: endpoint.id,
        input: { url: values.url.trim(), description: values.description.trim() || null, eventTypes: values.eventTypes },
      },
      ENDPOINTS,
    );
    const payload = result.data?.updateWebhookEndpoint;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'ValidationError') {
      const byField = issuesByField(payload.issues);
      setFieldErrors(byField);
      if (byField['']) setError(byField['']);
    } else if (payload?.__typename === 'NotFoundError') setError(payload.message);
    else {
      close();
      onNotice({ tone: 'success', content: 'Endpoint updated.' });
    }
  }

  async function confirmDisable() {
    setError(null);
    const result = await disable(
      { environmentId, id: endpoint.id, reason: reason.trim() || null },
      { additionalTypenames: ['WebhookEndpoint', 'WebhookDelivery'] },
    );
    const payload = result.data?.disableWebhookEndpoint;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'DisableWebhookEndpointSuccess') {
      close();
      onNotice({ tone: 'success', content: 'Endpoint disabled. Pending deliveries failed; recover them after enabling it again.' });
    } else if (payload?.__typename === 'ValidationError') setError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload) setError(payload.message);
  }

  async function doEnable() {
    const result = await enable({ environmentId, id: endpoint.id }, ENDPOINTS);
    const payload = result.data?.enableWebhookEndpoint;
    if (result.error) onNotice({ tone: 'error', content: describeError(result.error) });
    else if (payload?.__typename === 'NotFoundError') onNotice({ tone: 'error', content: payload.message });
    else
      onNotice({
        tone: 'success',
        content: 'Endpoint enabled. Deliveries that failed while it was disabled are not resent: recover them.',
      });
  }

  async function confirmDelete() {
    setError(null);
    const result = await remove({ environmentId, id: endpoint.id }, { additionalTypenames: ['WebhookEndpoint', 'WebhookDelivery'] });
    const payload = result.data?.deleteWebhookEndpoint;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'NotFoundError') setError(payload.message);
    else {
      close();
      navigate(`${base}/webhooks`);
    }
  }

  async function sendTest() {
    const result = await test({ environmentId, id: endpoint.id }, DELIVERIES);
    const payload = result.data?.sendWebhookTestEvent;
    if (result.error) onNotice({ tone: 'error', content: describeError(result.error) });
    else if (payload?.__typename === 'SendWebhookTestEventSuccess') {
      onNotice({
        tone: 'success',
        content: (
          <>
            Test event queued.{' '}
            <Link to={`${base}/webhooks/deliveries/${payload.delivery.id}`} data-testid="test-delivery-link">
              Follow the delivery
            </Link>
          </>
        ),
      });
    } else if (payload?.__typename === 'ValidationError')
      onNotice({ tone: 'error', content: payload.issues.map((i) => i.message).join(' ') || payload.message });
    else if (payload) onNotice({ tone: 'error', content: payload.message });
  }

  async function confirmRecover(event?: FormEvent) {
    event?.preventDefault();
    setError(null);
    const iso = fromLocalInput(since);
    if (!iso) {
      setError('Choose a date and time.');
      return;
    }
    const result = await recover({ environmentId, id: endpoint.id, since: iso }, DELIVERIES);
    const payload = result.data?.recoverWebhookDeliveries;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'RecoverWebhookDeliveriesSuccess') {
      close();
      onNotice({
        tone: 'success',
        content:
          payload.recovered.count === 0
            ? 'No failed deliveries since then: nothing to resend.'
            : `${plural(payload.recovered.count, 'failed delivery', 'failed deliveries')} queued again.`,
      });
    } else if (payload?.__typename === 'ValidationError') setError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload) setError(payload.message);
  }

  return (
    <>
      <button type="button" className="button" onClick={() => setDialog('edit')} data-testid="edit-endpoint">
        Edit
      </button>
      <button
        type="button"
        className="button"
        onClick={sendTest}
        disabled={testState.fetching || !endpoint.enabled}
        data-testid="send-test-event"
      >
        {testState.fetching ? <Spinner small /> : null}
        Send test event
      </button>
      <button
        type="button"
        className="button"
        onClick={() => setDialog('recover')}
        disabled={!endpoint.enabled}
        data-testid="recover-deliveries"
      >
        Recover failed…
      </button>
      {endpoint.enabled ? (
        <button type="button" className="button" onClick={() => setDialog('disable')} data-testid="disable-endpoint">
          Disable…
        </button>
      ) : (
        <button type="button" className="button" onClick={doEnable} disabled={enableState.fetching} data-testid="enable-endpoint">
          {enableState.fetching ? <Spinner small /> : null}
          Enable
        </button>
      )}
      <button type="button" className="button button-danger-ghost" onClick={() => setDialog('delete')} data-testid="delete-endpoint">
        Delete…
      </button>

      <Dialog open={dialog === 'edit'} title="Edit endpoint" onClose={close} wide testId="edit-endpoint-dialog">
        <EndpointForm
          initial={{ url: endpoint.url, description: endpoint.description ?? '', eventTypes: endpoint.eventTypes }}
          submitLabel="Save changes"
          busy={updateState.fetching}
          errors={fieldErrors}
          formError={error}
          onSubmit={save}
          onCancel={close}
        />
      </Dialog>

      <ConfirmDialog
        open={dialog === 'disable'}
        title="Disable this endpoint?"
        confirmLabel="Disable endpoint"
        busy={disableState.fetching}
        error={error}
        onConfirm={confirmDisable}
        onClose={close}
        testId="disable-dialog"
      >
        <p>No new events are sent to it, and its pending deliveries fail now. After enabling it again, “Recover failed” resends them.</p>
        <TextField
          label="Reason (optional)"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          maxLength={500}
          data-testid="disable-reason"
        />
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === 'recover'}
        title="Resend failed deliveries"
        confirmLabel="Resend failed deliveries"
        tone="primary"
        busy={recoverState.fetching}
        error={error}
        onConfirm={() => confirmRecover()}
        onClose={close}
        testId="recover-dialog"
      >
        <p>Every FAILED delivery to this endpoint created since the time below is attempted again, with the same webhook-id and body.</p>
        <TextField
          label="Since"
          type="datetime-local"
          value={since}
          onChange={(e) => setSince(e.target.value)}
          data-testid="recover-since"
        />
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === 'delete'}
        title="Delete this endpoint?"
        confirmLabel="Delete endpoint"
        busy={deleteState.fetching}
        error={error}
        onConfirm={confirmDelete}
        onClose={close}
        testId="delete-endpoint-dialog"
      >
        <p>
          <strong>{endpoint.url}</strong> stops receiving events, and its deliveries and attempt log are deleted. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}

export type { Notice };
