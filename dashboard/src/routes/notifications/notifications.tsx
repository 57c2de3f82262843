// The notifications log: filter by recipient, status, template, category and time; the filter
// lives in the URL so a filtered view can be shared.
import { type FormEvent, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { FilterField, TextField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';
import type { NotificationFilter, NotificationStatus } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { capitalize } from '../../lib/text.ts';
import { fromLocalInput } from '../../lib/time.ts';
import { useFilterParams } from '../../lib/use-filter-params.ts';
import { TemplatesDocument } from '../templates/documents.ts';
import { NotificationTable } from './notification-table.tsx';

const STATUSES: NotificationStatus[] = ['ACCEPTED', 'DELIVERED', 'FAILED'];
const RANGES: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'Last hour', ms: 3600_000 },
  '24h': { label: 'Last 24 hours', ms: 24 * 3600_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * 3600_000 },
  '30d': { label: 'Last 30 days', ms: 30 * 24 * 3600_000 },
};

function isStatus(value: string | null): value is NotificationStatus {
  return value !== null && (STATUSES as string[]).includes(value);
}

export function NotificationsPage() {
  const { environmentId } = useProject();
  const { params, update, clear: clearParams, bind } = useFilterParams();
  const [templates] = useQuery({ query: TemplatesDocument, variables: { environmentId }, requestPolicy: 'cache-first' });
  const [recipient, setRecipient] = useState(params.get('recipient') ?? '');
  const [category, setCategory] = useState(params.get('category') ?? '');
  const [from, setFrom] = useState(params.get('from') ?? '');
  const [to, setTo] = useState(params.get('to') ?? '');

  const range = params.get('range') ?? '';
  const filterKey = params.toString();
  // Relative ranges are turned into instants once per filter change, not on every render.
  const filter = useMemo<NotificationFilter>(() => {
    const p = new URLSearchParams(filterKey);
    const f: NotificationFilter = {};
    const status = p.get('status');
    if (isStatus(status)) f.status = status;
    if (p.get('recipient')) f.recipient = p.get('recipient');
    if (p.get('template')) f.template = p.get('template');
    if (p.get('category')) f.category = p.get('category');
    const preset = RANGES[p.get('range') ?? ''];
    if (preset) f.createdAfter = new Date(Date.now() - preset.ms).toISOString();
    else if (p.get('range') === 'custom') {
      const after = fromLocalInput(p.get('from') ?? '');
      const before = fromLocalInput(p.get('to') ?? '');
      if (after) f.createdAfter = after;
      if (before) f.createdBefore = before;
    }
    return f;
  }, [filterKey]);

  function apply(event: FormEvent) {
    event.preventDefault();
    update({
      recipient: recipient.trim(),
      category: category.trim(),
      from: range === 'custom' ? from : '',
      to: range === 'custom' ? to : '',
    });
  }

  function clear() {
    setRecipient('');
    setCategory('');
    setFrom('');
    setTo('');
    clearParams();
  }

  const filtered = filterKey !== '';
  const templateKeys = templates.data?.templates.map((t) => t.key) ?? [];
  const currentTemplate = params.get('template') ?? '';
  if (currentTemplate && !templateKeys.includes(currentTemplate)) templateKeys.push(currentTemplate);

  return (
    <>
      <PageHeader title="Notifications" description="Everything sent in this environment, newest first." />
      <form className="filters" onSubmit={apply} aria-label="Filter notifications" data-testid="notification-filters">
        <TextField
          label="Recipient"
          placeholder="external id"
          value={recipient}
          onChange={(e) => setRecipient(e.target.value)}
          data-testid="filter-recipient"
        />
        <FilterField
          label="Status"
          {...bind('status')}
          data-testid="filter-status"
          any="Any status"
          options={STATUSES.map((s) => ({ value: s, label: capitalize(s) }))}
        />
        <FilterField
          label="Template"
          {...bind('template')}
          data-testid="filter-template"
          any="Any template"
          options={templateKeys.map((k) => ({ value: k, label: k }))}
        />
        <TextField
          label="Category"
          placeholder="any"
          value={category}
          onChange={(e) => setCategory(e.target.value)}
          data-testid="filter-category"
        />
        <FilterField
          label="Time"
          {...bind('range')}
          data-testid="filter-range"
          any="Any time"
          options={[
            ...Object.entries(RANGES).map(([value, r]) => ({ value, label: r.label })),
            { value: 'custom', label: 'Custom range…' },
          ]}
        />
        {range === 'custom' ? (
          <>
            <TextField
              label="From"
              type="datetime-local"
              value={from}
              onChange={(e) => setFrom(e.target.value)}
              data-testid="filter-from"
            />
            <TextField label="To" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} data-testid="filter-to" />
          </>
        ) : null}
        <div className="filter-actions">
          <button type="submit" className="button button-primary" data-testid="apply-filters">
            Apply
          </button>
          {filtered ? (
            <button type="button" className="button" onClick={clear} data-testid="clear-filters">
              Clear
            </button>
          ) : null}
        </div>
      </form>
      <NotificationTable
        key={filterKey}
        filter={filter}
        empty={
          filtered ? (
            <EmptyState
              title="No notifications match these filters"
              action={
                <button type="button" className="button" onClick={clear}>
                  Clear filters
                </button>
              }
            />
          ) : (
            <EmptyState title="No notifications yet">
              Send one with an API key (<code>send(input: {'{ to, template, data }'})</code>) or from a template's “Send a test”.
            </EmptyState>
          )
        }
      />
    </>
  );
}
