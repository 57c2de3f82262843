// A paged table of notifications ("Load more" appends the next page). Used by the log and by a
// recipient's page.
import { Link, useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { StatusBadge } from '../../components/badge.tsx';
import { retryWith } from '../../components/query.tsx';
import { PagedTable, PageRows, type PageSlot } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import type { NotificationFilter } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { htmlToText } from '../../lib/text.ts';
import { NOTIFICATIONS, NotificationsDocument, PAGE_SIZE } from './documents.ts';

interface TableProps {
  filter: NotificationFilter;
  showRecipient?: boolean;
  empty: React.ReactNode;
}

export function NotificationTable({ filter, showRecipient = true, empty }: TableProps) {
  return (
    <PagedTable
      testId="notifications-table"
      columns={[
        { label: 'Created', optional: true },
        showRecipient && { label: 'Recipient' },
        { label: 'Title' },
        { label: 'Template', optional: true },
        { label: 'Status' },
      ]}
    >
      {(page) => <NotificationPage page={page} filter={filter} showRecipient={showRecipient} empty={empty} />}
    </PagedTable>
  );
}

interface PageProps {
  page: PageSlot;
  filter: NotificationFilter;
  showRecipient: boolean;
  empty: React.ReactNode;
}

function NotificationPage({ page, filter, showRecipient, empty }: PageProps) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: NotificationsDocument,
    variables: { environmentId, filter, first: PAGE_SIZE, after: page.after },
    requestPolicy: 'cache-and-network',
    context: NOTIFICATIONS,
  });
  return (
    <PageRows
      page={page}
      connection={result.data?.notifications}
      error={result.error}
      retry={retryWith(refetch)}
      loadingLabel="Loading notifications…"
      empty={empty}
    >
      {(edges) =>
        edges.map(({ node: n }) => {
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
                  {title || (
                    <span className="muted">{n.status === 'ACCEPTED' ? 'Not rendered yet' : (n.failureReason ?? '(no title)')}</span>
                  )}
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
        })
      }
    </PageRows>
  );
}
