// Every delivery of the environment, filtered by endpoint, status, event type or notification.
import { useMemo } from 'react';
import { Link } from 'react-router';
import { useQuery } from 'urql';
import { FilterField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';
import type { WebhookDeliveryFilter, WebhookDeliveryStatus } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { capitalize } from '../../lib/text.ts';
import { useFilterParams } from '../../lib/use-filter-params.ts';
import { DeliveryTable } from './delivery-table.tsx';
import { WebhookEndpointsDocument, WebhookEventTypesDocument } from './documents.ts';
import { WebhookTabs } from './tabs.tsx';

const STATUSES: WebhookDeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED'];

export function DeliveriesPage() {
  const { environmentId, base } = useProject();
  const { params, update, bind } = useFilterParams();
  const [endpoints] = useQuery({ query: WebhookEndpointsDocument, variables: { environmentId } });
  const [types] = useQuery({ query: WebhookEventTypesDocument, variables: { environmentId } });
  const key = params.toString();
  const filter = useMemo<WebhookDeliveryFilter>(() => {
    const p = new URLSearchParams(key);
    const f: WebhookDeliveryFilter = {};
    if (p.get('endpoint')) f.endpointId = p.get('endpoint');
    const status = p.get('status');
    if (status && (STATUSES as string[]).includes(status)) f.status = status as WebhookDeliveryStatus;
    if (p.get('event')) f.eventType = p.get('event');
    if (p.get('notification')) f.notificationId = p.get('notification');
    return f;
  }, [key]);
  const notification = params.get('notification');
  const eventNames = [...(types.data?.webhookEventTypes.map((t) => t.name) ?? []), 'webhook.test'];
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Each delivery is one event for one endpoint; open it for every attempt's request and response."
      />
      <WebhookTabs />
      <form className="filters" aria-label="Filter deliveries" data-testid="delivery-filters" onSubmit={(e) => e.preventDefault()}>
        <FilterField
          label="Endpoint"
          {...bind('endpoint')}
          data-testid="filter-endpoint"
          any="All endpoints"
          options={endpoints.data?.webhookEndpoints.map((e) => ({ value: e.id, label: e.url })) ?? []}
        />
        <FilterField
          label="Status"
          {...bind('status')}
          data-testid="filter-delivery-status"
          any="Any status"
          options={STATUSES.map((s) => ({ value: s, label: capitalize(s) }))}
        />
        <FilterField
          label="Event type"
          {...bind('event')}
          data-testid="filter-event-type"
          any="Any event"
          options={eventNames.map((n) => ({ value: n, label: n }))}
        />
        {notification ? (
          <div className="field">
            <span className="field-label">Notification</span>
            <span className="row small">
              <Link to={`${base}/notifications/${notification}`}>
                <code>{notification.slice(0, 13)}…</code>
              </Link>
              <button type="button" className="link-button" onClick={() => update({ notification: '' })}>
                remove
              </button>
            </span>
          </div>
        ) : null}
      </form>
      <DeliveryTable
        key={key}
        filter={filter}
        empty={
          <EmptyState title={key ? 'No deliveries match these filters' : 'No webhook deliveries yet'}>
            {key ? null : 'Deliveries appear when a subscribed event happens, or when you send a test event from an endpoint.'}
          </EmptyState>
        }
      />
    </>
  );
}
