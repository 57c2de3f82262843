// A paged table of notifications ("Load more" appends the next page). Used by the log and by a
// recipient's page.
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { StatusBadge } from '../../components/badge.tsx';
import { ErrorState, Loading } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { NotificationFilter } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { htmlToText } from '../../lib/text.ts';
import { NOTIFICATIONS, NotificationsDocument, PAGE_SIZE } from './documents.ts';

interface TableProps {
  filter: NotificationFilter;
  showRecipient?: boolean;
  empty: React.ReactNode;
}

export function NotificationTable({ filter, showRecipient = true, empty }: TableProps) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const columns = showRecipient ? 5 : 4;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="notifications-table">
        <thead>
          <tr>
            <th scope="col" className="col-optional">
              Created
            </th>
            {showRecipient ? <th scope="col">Recipient</th> : null}
            <th scope="col">Title</th>
            <th scope="col" className="col-optional">
              Template
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        {cursors.map((after, index) => (
          <NotificationPage
            key={after ?? 'first'}
            after={after}
            first={index === 0}
            last={index === cursors.length - 1}
            filter={filter}
            columns={columns}
            showRecipient={showRecipient}
            empty={empty}
            onMore={(cursor) => setCursors((c) => [...c, cursor])}
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
  filter: NotificationFilter;
  columns: number;
  showRecipient: boolean;
  empty: React.ReactNode;
  onMore(cursor: string): void;
}

function NotificationPage({ after, first, last, filter, columns, showRecipient, empty, onMore }: PageProps) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: NotificationsDocument,
    variables: { environmentId, filter, first: PAGE_SIZE, after },
    requestPolicy: 'cache-and-network',
    context: NOTIFICATIONS,
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
  if (!result.data) return stateRow(<Loading label={first ? 'Loading notifications…' : 'Loading more…'} />);
  const { edges, pageInfo } = result.data.notifications;
  if (first && edges.length === 0) return stateRow(empty);
  return (
    <tbody>
      {edges.map(({ node: n }) => {
        const href = `${base}/notifications/${n.id}`;
        const title = htmlToText(n.title);
        return (
          <tr key={n.id} className="row-link" data-testid="notification-row" onClick={() => navigate(href)}>
            <td className="nowrap col-optional">
              <Time value={n.createdAt} />
            </td>
            {showRecipient ? (
              <td>
                <Link
                  to={`${base}/recipients/${encodeURIComponent(n.recipient.externalId)}`}
                  onClick={(e) => e.stopPropagation()}
                  className="truncate"
                  style={{ display: 'block', maxWidth: 180 }}
                >
                  {n.recipient.externalId}
                </Link>
              </td>
            ) : null}
            <td>
              <Link to={href} onClick={(e) => e.stopPropagation()} className="truncate" style={{ display: 'block', color: 'inherit' }}>
                {title || <span className="muted">{n.status === 'ACCEPTED' ? 'Not rendered yet' : (n.failureReason ?? '(no title)')}</span>}
              </Link>
              <span className="phone-only muted small">
                <Time value={n.createdAt} />
              </span>
            </td>
            <td className="col-optional">{n.template ? <code>{n.template}</code> : <span className="muted">—</span>}</td>
            <td>
              <StatusBadge status={n.status} />
            </td>
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
