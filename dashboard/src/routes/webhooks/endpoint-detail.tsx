// One endpoint: settings, secret, management actions, its deliveries and what happened to it.
import { useState } from 'react';
import { useParams } from 'react-router';
import { useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { SelectField } from '../../components/field.tsx';
import { PageHeader, Properties, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { WebhookDeliveryStatus, WebhookEndpointQuery } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { DeliveryTable } from './delivery-table.tsx';
import { ENDPOINTS, WebhookEndpointDocument } from './documents.ts';
import { EndpointActions, type Notice } from './endpoint-actions.tsx';
import { EndpointSecret } from './endpoint-secret.tsx';
import { EndpointStatus } from './endpoint-status.tsx';

type Endpoint = NonNullable<WebhookEndpointQuery['webhookEndpoint']>;

export function EndpointDetailPage() {
  const { id = '' } = useParams();
  const { environmentId, base } = useProject();
  const [result, refetch] = useQuery({
    query: WebhookEndpointDocument,
    variables: { environmentId, id },
    requestPolicy: 'cache-and-network',
    context: ENDPOINTS,
  });
  return (
    <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading endpoint…">
      {(data) =>
        data.webhookEndpoint ? (
          <EndpointView endpoint={data.webhookEndpoint} />
        ) : (
          <>
            <PageHeader title="Endpoint not found" back={{ to: `${base}/webhooks`, label: 'Webhooks' }} />
            <EmptyState title="No endpoint with this id in this environment">It may have been deleted.</EmptyState>
          </>
        )
      }
    </QueryView>
  );
}

function EndpointView({ endpoint }: { endpoint: Endpoint }) {
  const { base, can } = useProject();
  const [notice, setNotice] = useState<Notice>(null);
  const [status, setStatus] = useState<WebhookDeliveryStatus | ''>('');
  const events = endpoint.events.edges.map((e) => e.node);
  return (
    <>
      <PageHeader
        back={{ to: `${base}/webhooks`, label: 'Webhooks' }}
        title={<span className="heading-url">{endpoint.url}</span>}
        documentTitle={`Endpoint ${endpoint.url}`}
        description={
          <span className="row">
            <EndpointStatus endpoint={endpoint} /> {endpoint.description}
          </span>
        }
        actions={can.manage ? <EndpointActions endpoint={endpoint} onNotice={setNotice} /> : null}
      />
      {notice ? (
        <Alert tone={notice.tone} testId="endpoint-notice">
          {notice.content}
        </Alert>
      ) : null}
      {!endpoint.enabled ? (
        <Alert tone="warning">
          Disabled <Time value={endpoint.disabledAt} />
          {endpoint.disabledReason ? `: ${endpoint.disabledReason}` : '.'}
        </Alert>
      ) : endpoint.failingSince ? (
        <Alert tone="warning">
          Every attempt has failed since <Time value={endpoint.failingSince} both />. After 5 days of failures the endpoint is disabled.
        </Alert>
      ) : null}
      <Properties
        items={[
          [
            'Event types',
            <span key="e" className="tags">
              {endpoint.eventTypes.map((t) => (
                <Badge key={t}>{t}</Badge>
              ))}
            </span>,
          ],
          ['Created', <Time key="c" value={endpoint.createdAt} both />],
          ['Updated', <Time key="u" value={endpoint.updatedAt} both />],
        ]}
      />
      {can.manage ? <EndpointSecret endpoint={endpoint} /> : null}
      <Section
        title="Deliveries"
        actions={
          <SelectField
            label={<span className="visually-hidden">Status</span>}
            value={status}
            onChange={(e) => setStatus(e.target.value as WebhookDeliveryStatus | '')}
            data-testid="endpoint-delivery-status"
          >
            <option value="">Any status</option>
            <option value="PENDING">Pending</option>
            <option value="SUCCEEDED">Succeeded</option>
            <option value="FAILED">Failed</option>
          </SelectField>
        }
      >
        <DeliveryTable
          key={status}
          filter={{ endpointId: endpoint.id, ...(status ? { status } : {}) }}
          showEndpoint={false}
          empty={
            <EmptyState title="No deliveries to this endpoint">
              {status ? 'None with this status.' : 'Send a test event to see one.'}
            </EmptyState>
          }
        />
      </Section>
      <Section title="Endpoint events">
        {events.length === 0 ? (
          <p className="muted">Never disabled or re-enabled.</p>
        ) : (
          <ul className="panel stack" style={{ listStyle: 'none', margin: 0 }}>
            {events.map((e) => (
              <li key={e.id} className="row">
                <Badge tone={e.type === 'endpoint.disabled' ? 'danger' : 'success'}>{e.type}</Badge>
                <Time value={e.createdAt} both />
                {e.reason ? <span className="muted">{e.reason}</span> : null}
              </li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}
