// Recipients of the environment (newest first), searchable by external id, name or email.
import { useEffect, useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import { useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { TextField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { PagedTable, PageRows, type PageSlot } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import { useProject } from '../../lib/project.tsx';
import { useDebounced } from '../../lib/use-debounced.ts';
import { RECIPIENTS, RecipientsDocument } from './documents.ts';

const PAGE = 25;

function RecipientPage({ page, search }: { page: PageSlot; search: string }) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: RecipientsDocument,
    variables: { environmentId, first: PAGE, after: page.after, search: search || null },
    requestPolicy: 'cache-and-network',
    context: RECIPIENTS,
  });
  return (
    <PageRows
      page={page}
      connection={result.data?.recipients}
      error={result.error}
      retry={retryWith(refetch)}
      loadingLabel="Loading recipients…"
      empty={
        search ? (
          <EmptyState title={`No recipient matches “${search}”`}>The search looks at external ids, names and emails.</EmptyState>
        ) : (
          <EmptyState title="No recipients yet">
            A recipient is created the first time you send to their external id (or mint a client token for it).
          </EmptyState>
        )
      }
    >
      {(edges) =>
        edges.map(({ node: r }) => {
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
        })
      }
    </PageRows>
  );
}

function RecipientTable({ search }: { search: string }) {
  return (
    <PagedTable
      testId="recipients-table"
      columns={[
        { label: 'External id' },
        { label: 'Name' },
        { label: 'Email', optional: true },
        { label: 'Unread' },
        { label: 'First seen', optional: true },
      ]}
    >
      {(page) => <RecipientPage page={page} search={search} />}
    </PagedTable>
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
