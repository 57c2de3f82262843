// Recipients of the environment (newest first), searchable by external id, name or email.
import { useEffect, useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import { useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { TextField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { Alert, EmptyState, ErrorState, Loading } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { useDebounced } from '../../lib/use-debounced.ts';
import { RECIPIENTS, RecipientsDocument } from './documents.ts';

const PAGE = 25;

interface PageProps {
  after: string | null;
  first: boolean;
  last: boolean;
  search: string;
  onMore(cursor: string): void;
}

function RecipientPage({ after, first, last, search, onMore }: PageProps) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: RecipientsDocument,
    variables: { environmentId, first: PAGE, after, search: search || null },
    requestPolicy: 'cache-and-network',
    context: RECIPIENTS,
  });
  const stateRow = (content: React.ReactNode) => (
    <tbody>
      <tr className="cell-state">
        <td colSpan={5}>{content}</td>
      </tr>
    </tbody>
  );
  if (result.error && !result.data) {
    return stateRow(<ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />);
  }
  if (!result.data) return stateRow(<Loading label={first ? 'Loading recipients…' : 'Loading more…'} />);
  const { edges, pageInfo } = result.data.recipients;
  if (first && edges.length === 0 && search) {
    return stateRow(
      <EmptyState title={`No recipient matches “${search}”`}>The search looks at external ids, names and emails.</EmptyState>,
    );
  }
  if (first && edges.length === 0) {
    return stateRow(
      <EmptyState title="No recipients yet">
        A recipient is created the first time you send to their external id (or mint a client token for it).
      </EmptyState>,
    );
  }
  return (
    <tbody>
      {edges.map(({ node: r }) => {
        const href = `${base}/recipients/${encodeURIComponent(r.externalId)}`;
        return (
          <tr key={r.id} className="row-link" data-testid="recipient-row" onClick={() => navigate(href)}>
            <td>
              <Link to={href} onClick={(e) => e.stopPropagation()}>
                <code>{r.externalId}</code>
              </Link>
            </td>
            <td>{r.name ?? <span className="muted">—</span>}</td>
            <td className="col-optional">{r.email ?? <span className="muted">—</span>}</td>
            <td>{r.unreadCount > 0 ? <Badge tone="info">{r.unreadCount}</Badge> : <span className="muted">0</span>}</td>
            <td className="col-optional">
              <Time value={r.createdAt} />
            </td>
          </tr>
        );
      })}
      {last && pageInfo.hasNextPage && pageInfo.endCursor ? (
        <tr className="cell-state">
          <td colSpan={5}>
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

function RecipientTable({ search }: { search: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return (
    <div className="table-wrap">
      <table className="table" data-testid="recipients-table">
        <thead>
          <tr>
            <th scope="col">External id</th>
            <th scope="col">Name</th>
            <th scope="col" className="col-optional">
              Email
            </th>
            <th scope="col">Unread</th>
            <th scope="col" className="col-optional">
              First seen
            </th>
          </tr>
        </thead>
        {cursors.map((after, i) => (
          <RecipientPage
            key={after ?? 'first'}
            after={after}
            first={i === 0}
            last={i === cursors.length - 1}
            search={search}
            onMore={(c) => setCursors((list) => [...list, c])}
          />
        ))}
      </table>
    </div>
  );
}

export function RecipientsPage() {
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const notice = (location.state as { notice?: string } | null)?.notice;
  const [text, setText] = useState(params.get('q') ?? '');
  const search = useDebounced(text.trim(), 300);
  useEffect(() => {
    if ((params.get('q') ?? '') === search) return;
    setParams(search ? { q: search } : {}, { replace: true, state: location.state });
  }, [search, params, setParams, location.state]);
  return (
    <>
      <PageHeader title="Recipients" description="Your end users, known by your own id for them (send's `to`)." />
      {notice ? (
        <Alert tone="success" testId="recipient-notice">
          {notice}
        </Alert>
      ) : null}
      <form className="form form-inline" onSubmit={(e) => e.preventDefault()} aria-label="Search recipients">
        <TextField
          label="Search"
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="external id, name or email"
          data-testid="recipient-search"
        />
      </form>
      <RecipientTable key={search} search={search} />
    </>
  );
}
