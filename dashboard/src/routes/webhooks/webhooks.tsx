// Webhook endpoints of the environment: list and create (the signing secret is shown once).
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { SecretBox } from '../../components/copy.tsx';
import { Dialog } from '../../components/dialog.tsx';
import { PageHeader } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { Table } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { CreateWebhookEndpointDocument, ENDPOINTS, WebhookEndpointsDocument } from './documents.ts';
import { EndpointForm, type EndpointValues } from './endpoint-form.tsx';
import { EndpointStatus } from './endpoint-status.tsx';
import { WebhookTabs } from './tabs.tsx';

const EMPTY: EndpointValues = { url: '', description: '', eventTypes: ['notification.delivered', 'notification.failed'] };

function CreateEndpointDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const { environmentId, base } = useProject();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);
  const [state, create] = useMutation(CreateWebhookEndpointDocument);
  function close() {
    setErrors({});
    setFormError(null);
    setCreated(null);
    onClose();
  }
  async function submit(values: EndpointValues) {
    setErrors({});
    setFormError(null);
    const result = await create(
      { environmentId, input: { url: values.url.trim(), description: values.description.trim() || null, eventTypes: values.eventTypes } },
      ENDPOINTS,
    );
    const payload = result.data?.createWebhookEndpoint;
    if (result.error) setFormError(describeError(result.error));
    else if (payload?.__typename === 'CreatedWebhookEndpoint') setCreated({ id: payload.endpoint.id, secret: payload.secret });
    else if (payload?.__typename === 'ValidationError') {
      const byField = issuesByField(payload.issues);
      setErrors(byField);
      if (byField['']) setFormError(byField['']);
    }
  }
  return (
    <Dialog
      open={open}
      title={created ? 'Endpoint created' : 'Add a webhook endpoint'}
      onClose={close}
      wide
      testId="create-endpoint-dialog"
    >
      {created ? (
        <>
          <SecretBox label="Signing secret" secret={created.secret} testId="endpoint-secret">
            Verify every request with this secret (Standard Webhooks). You can reveal it again later from the endpoint's page.
          </SecretBox>
          <div className="dialog-actions">
            <Link className="button" to={`${base}/webhooks/endpoints/${created.id}`} onClick={close}>
              Open endpoint
            </Link>
            <button type="button" className="button button-primary" onClick={close} data-testid="endpoint-done">
              Done
            </button>
          </div>
        </>
      ) : (
        <EndpointForm
          initial={EMPTY}
          submitLabel="Add endpoint"
          busy={state.fetching}
          errors={errors}
          formError={formError}
          onSubmit={submit}
          onCancel={close}
        />
      )}
    </Dialog>
  );
}

export function WebhooksPage() {
  const { environmentId, base, can } = useProject();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [result, refetch] = useQuery({
    query: WebhookEndpointsDocument,
    variables: { environmentId },
    requestPolicy: 'cache-and-network',
    context: ENDPOINTS,
  });
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Signed HTTP callbacks for what happens to this environment's notifications. Every attempt is logged."
        actions={
          can.manage ? (
            <button type="button" className="button button-primary" onClick={() => setCreating(true)} data-testid="new-endpoint">
              Add endpoint
            </button>
          ) : null
        }
      />
      <WebhookTabs />
      {!can.manage ? <Alert tone="info">You can read endpoints and deliveries; admins and owners manage them.</Alert> : null}
      <QueryView result={result} retry={retryWith(refetch)}>
        {(data) =>
          data.webhookEndpoints.length === 0 ? (
            <EmptyState
              title="No webhook endpoints"
              action={
                can.manage ? (
                  <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
                    Add an endpoint
                  </button>
                ) : null
              }
            >
              Add a URL to receive notification.delivered, .read and other events as they happen.
            </EmptyState>
          ) : (
            <Table
              testId="endpoints-table"
              columns={[{ label: 'URL' }, { label: 'Events', optional: true }, { label: 'Status' }, { label: 'Created', optional: true }]}
            >
              <tbody>
                {data.webhookEndpoints.map((e) => {
                  const href = `${base}/webhooks/endpoints/${e.id}`;
                  return (
                    <tr key={e.id} className="row-link" data-testid="endpoint-row" onClick={() => navigate(href)}>
                      <td>
                        <Link to={href} onClick={(ev) => ev.stopPropagation()} className="truncate" style={{ display: 'block' }}>
                          {e.url}
                        </Link>
                        {e.description ? <div className="muted small truncate">{e.description}</div> : null}
                      </td>
                      <td className="col-optional small">
                        {e.eventTypes.length} event type{e.eventTypes.length === 1 ? '' : 's'}
                      </td>
                      <td>
                        <EndpointStatus endpoint={e} />
                      </td>
                      <td className="col-optional">
                        <Time value={e.createdAt} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </Table>
          )
        }
      </QueryView>
      {can.manage ? <CreateEndpointDialog open={creating} onClose={() => setCreating(false)} /> : null}
    </>
  );
}
