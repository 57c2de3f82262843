// Paged webhook deliveries, newest first.
import { Link, useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { StatusBadge } from '../../components/badge.tsx';
import { retryWith } from '../../components/query.tsx';
import { PagedTable, PageRows, type PageSlot } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import type { WebhookDeliveryFilter } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { DELIVERIES, WebhookDeliveriesDocument } from './documents.ts';

const PAGE = 25;

export function DeliveryTable({
  filter,
  showEndpoint = true,
  empty,
}: {
  filter: WebhookDeliveryFilter;
  showEndpoint?: boolean;
  empty: React.ReactNode;
}) {
  return (
    <PagedTable
      testId="deliveries-table"
      columns={[
        { label: 'Created' },
        { label: 'Event' },
        showEndpoint && { label: 'Endpoint', optional: true },
        { label: 'Status' },
        { label: 'Attempts', optional: true },
      ]}
    >
      {(page) => <DeliveryPage page={page} filter={filter} showEndpoint={showEndpoint} empty={empty} />}
    </PagedTable>
  );
}

interface PageProps {
  page: PageSlot;
  filter: WebhookDeliveryFilter;
  showEndpoint: boolean;
  empty: React.ReactNode;
}

function DeliveryPage({ page, filter, showEndpoint, empty }: PageProps) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: WebhookDeliveriesDocument,
    variables: { environmentId, filter, first: PAGE, after: page.after },
    requestPolicy: 'cache-and-network',
    context: DELIVERIES,
  });
  return (
    <PageRows
      page={page}
      connection={result.data?.webhookDeliveries}
      error={result.error}
      retry={retryWith(refetch)}
      loadingLabel="Loading deliveries…"
      empty={empty}
    >
      {(edges) =>
        edges.map(({ node: d }) => {
          const href = `${base}/webhooks/deliveries/${d.id}`;
          return (
            <tr key={d.id} className="row-link" data-testid="delivery-row" onClick={() => navigate(href)}>
              <td className="nowrap">
                <Link to={href} onClick={(e) => e.stopPropagation()}>
                  <Time value={d.createdAt} />
                </Link>
              </td>
              <td>
                <code>{d.eventType}</code>
              </td>
              {showEndpoint ? (
                <td className="col-optional">
                  <span className="truncate" style={{ display: 'inline-block', maxWidth: 260 }} title={d.endpoint.url}>
                    {d.endpoint.url}
                  </span>
                </td>
              ) : null}
              <td>
                <StatusBadge status={d.status} />
                {d.status === 'PENDING' && d.nextAttemptAt ? (
                  <div className="muted small">
                    next <Time value={d.nextAttemptAt} />
                  </div>
                ) : null}
              </td>
              <td className="col-optional">{d.attemptCount}</td>
            </tr>
          );
        })
      }
    </PageRows>
  );
}
