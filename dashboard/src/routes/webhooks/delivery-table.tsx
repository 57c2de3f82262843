// Paged webhook deliveries, newest first.
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { StatusBadge } from '../../components/badge.tsx';
import { ErrorState, Loading } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { WebhookDeliveryFilter } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
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
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const columns = showEndpoint ? 5 : 4;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="deliveries-table">
        <thead>
          <tr>
            <th scope="col">Created</th>
            <th scope="col">Event</th>
            {showEndpoint ? (
              <th scope="col" className="col-optional">
                Endpoint
              </th>
            ) : null}
            <th scope="col">Status</th>
            <th scope="col" className="col-optional">
              Attempts
            </th>
          </tr>
        </thead>
        {cursors.map((after, i) => (
          <DeliveryPage
            key={after ?? 'first'}
            after={after}
            first={i === 0}
            last={i === cursors.length - 1}
            filter={filter}
            columns={columns}
            showEndpoint={showEndpoint}
            empty={empty}
            onMore={(c) => setCursors((list) => [...list, c])}
          />
        ))}
      </table>
    </div>
  );
}

interface PageProps {
  after: string | null;
  first: boolean;
  last: boolean;
  filter: WebhookDeliveryFilter;
  columns: number;
  showEndpoint: boolean;
  empty: React.ReactNode;
  onMore(cursor: string): void;
}

function DeliveryPage({ after, first, last, filter, columns, showEndpoint, empty, onMore }: PageProps) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: WebhookDeliveriesDocument,
    variables: { environmentId, filter, first: PAGE, after },
    requestPolicy: 'cache-and-network',
    context: DELIVERIES,
  });
  const stateRow = (content: React.ReactNode) => (
    <tbody>
      <tr className="cell-state">
        <td colSpan={columns}>{content}</td>
      </tr>
    </tbody>
  );
  if (result.error && !result.data) {
    return stateRow(<ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />);
  }
  if (!result.data) return stateRow(<Loading label={first ? 'Loading deliveries…' : 'Loading more…'} />);
  const { edges, pageInfo } = result.data.webhookDeliveries;
  if (first && edges.length === 0) return stateRow(empty);
  return (
    <tbody>
      {edges.map(({ node: d }) => {
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
      })}
      {last && pageInfo.hasNextPage && pageInfo.endCursor ? (
        <tr className="cell-state">
          <td colSpan={columns}>
            <div className="load-more">
              <button
                type="button"
                className="button"
                onClick={() => pageInfo.endCursor && onMore(pageInfo.endCursor)}
                data-testid="load-more"
              >
                Load more
              </button>
            </div>
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}
