// One notification: what was rendered and everything that happened to it, webhook attempts included.
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { useQuery } from 'urql';
import { AttemptExchange, attemptOutcome } from '../../components/attempt.tsx';
import { Badge, StatusBadge } from '../../components/badge.tsx';
import { CopyButton } from '../../components/copy.tsx';
import { CodeBlock, PageHeader, Properties, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { RenderedHtml } from '../../components/rendered.tsx';
import { EmptyState } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { NotificationDetailQuery } from '../../gql/graphql.ts';
import { useProject } from '../../lib/project.tsx';
import { prettyJson } from '../../lib/text.ts';
import { NotificationDetailDocument } from './documents.ts';
import { buildTimeline, type TimelineEntry } from './timeline.ts';

type Detail = NonNullable<NotificationDetailQuery['notification']>;

export function NotificationDetailPage() {
  const { id = '' } = useParams();
  const { environmentId, base } = useProject();
  const [result, refetch] = useQuery({
    query: NotificationDetailDocument,
    variables: { environmentId, id },
    requestPolicy: 'cache-and-network',
  });
  return (
    <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading notification…">
      {(data) =>
        data.notification ? (
          <NotificationView n={data.notification} refresh={() => refetch({ requestPolicy: 'network-only' })} refreshing={result.fetching} />
        ) : (
          <>
            <PageHeader title="Notification not found" back={{ to: `${base}/notifications`, label: 'Notifications' }} />
            <EmptyState title="No notification with this id in this environment">
              It may belong to the other environment, or its recipient was deleted.
            </EmptyState>
          </>
        )
      }
    </QueryView>
  );
}

function RenderedContent({ n }: { n: Detail }) {
  const [source, setSource] = useState(false);
  if (n.title === null && n.body === null) {
    return (
      <EmptyState title={n.status === 'FAILED' ? 'Nothing was rendered' : 'Not rendered yet'}>
        {n.status === 'FAILED' ? n.failureReason : 'A worker renders it within moments of being accepted.'}
      </EmptyState>
    );
  }
  return (
    <div className="panel stack">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <span className="muted small">As the recipient's inbox shows it</span>
        <button
          type="button"
          className="button button-small"
          onClick={() => setSource((s) => !s)}
          aria-pressed={source}
          data-testid="toggle-source"
        >
          {source ? 'Show rendered' : 'Show HTML source'}
        </button>
      </div>
      {source ? (
        <>
          <CodeBlock label="Title HTML">{n.title ?? ''}</CodeBlock>
          <CodeBlock label="Body HTML">{n.body ?? ''}</CodeBlock>
        </>
      ) : (
        <div className="preview-card" data-testid="rendered-content">
          <span className="preview-dot" aria-hidden="true" style={n.read ? { background: 'var(--border-strong)' } : undefined} />
          <div className="stack" style={{ gap: 4, minWidth: 0 }}>
            <RenderedHtml className="preview-title" html={n.title} testId="rendered-title" />
            <RenderedHtml className="preview-body" html={n.body} testId="rendered-body" />
            {n.actionUrl ? <div className="preview-url">→ {n.actionUrl}</div> : null}
          </div>
        </div>
      )}
    </div>
  );
}

const DOT: Record<string, string> = {
  success: 'timeline-dot-success',
  danger: 'timeline-dot-danger',
  info: 'timeline-dot-info',
  warning: 'timeline-dot-warning',
  accent: 'timeline-dot-accent',
  neutral: '',
};

function TimelineItem({ entry, base }: { entry: TimelineEntry; base: string }) {
  switch (entry.kind) {
    case 'state':
      return (
        <li className="timeline-item" data-testid="timeline-entry" data-kind={entry.title.toLowerCase()}>
          <span className={`timeline-dot ${DOT[entry.tone] ?? ''}`} aria-hidden="true" />
          <div className="timeline-head">
            <span className="timeline-title">{entry.title}</span>
            <span className="timeline-time">{entry.at ? <Time value={entry.at} both /> : 'time not recorded'}</span>
          </div>
          {entry.detail ? <div className="timeline-body muted">{entry.detail}</div> : null}
        </li>
      );
    case 'delivery': {
      const d = entry.delivery;
      return (
        <li className="timeline-item" data-testid="timeline-entry" data-kind="webhook">
          <span className="timeline-dot timeline-dot-accent" aria-hidden="true" />
          <div className="timeline-head">
            <span className="timeline-title">
              Webhook <code>{d.eventType}</code> queued
            </span>
            <StatusBadge status={d.status} />
            <span className="timeline-time">
              <Time value={d.createdAt} both />
            </span>
          </div>
          <div className="timeline-body muted small">
            to {d.endpoint.url} ·{' '}
            <Link to={`${base}/webhooks/deliveries/${d.id}`} data-testid="delivery-link">
              open delivery ({d.attemptCount} attempt{d.attemptCount === 1 ? '' : 's'})
            </Link>
            {d.failureReason ? <> · {d.failureReason}</> : null}
          </div>
        </li>
      );
    }
    case 'attempt':
      return (
        <li className="timeline-item" data-testid="timeline-entry" data-kind="attempt">
          <span className={`timeline-dot ${DOT[attemptOutcome(entry.attempt)]}`} aria-hidden="true" />
          <div className="timeline-head">
            <span className="timeline-title">
              Webhook attempt #{entry.number} <span className="muted small">({entry.delivery.eventType})</span>
            </span>
            <span className="timeline-time">
              <Time value={entry.at} both />
            </span>
          </div>
          <div className="timeline-body">
            <AttemptExchange attempt={entry.attempt} label="Request and response" />
          </div>
        </li>
      );
    case 'scheduled':
      return (
        <li className="timeline-item" data-testid="timeline-entry" data-kind="scheduled">
          <span className="timeline-dot timeline-dot-warning" aria-hidden="true" />
          <div className="timeline-head">
            <span className="timeline-title">
              Next webhook attempt <span className="muted small">({entry.delivery.eventType})</span>
            </span>
            <span className="timeline-time">
              <Time value={entry.at} both />
            </span>
          </div>
        </li>
      );
  }
}

function NotificationView({ n, refresh, refreshing }: { n: Detail; refresh(): void; refreshing: boolean }) {
  const { base } = useProject();
  const timeline = buildTimeline(n);
  const truncated =
    n.webhookDeliveries?.pageInfo.hasNextPage || n.webhookDeliveries?.edges.some((e) => e.node.attempts.pageInfo.hasNextPage);
  return (
    <>
      <PageHeader
        back={{ to: `${base}/notifications`, label: 'Notifications' }}
        documentTitle="Notification"
        title={
          <span className="row">
            Notification <StatusBadge status={n.status} />
          </span>
        }
        description={
          <span className="row small">
            <code>{n.id}</code> <CopyButton value={n.id} what="notification id" />
          </span>
        }
        actions={
          <button type="button" className="button" onClick={refresh} disabled={refreshing} data-testid="refresh">
            Refresh
          </button>
        }
      />
      <Properties
        items={[
          [
            'Recipient',
            <Link key="r" to={`${base}/recipients/${encodeURIComponent(n.recipient.externalId)}`}>
              {n.recipient.externalId}
              {n.recipient.name ? ` (${n.recipient.name})` : ''}
            </Link>,
          ],
          [
            'Template',
            n.template ? (
              <Link key="t" to={`${base}/templates/${encodeURIComponent(n.template)}`}>
                <code>{n.template}</code>
              </Link>
            ) : (
              <span key="t" className="muted">
                none (title and body sent directly)
              </span>
            ),
          ],
          [
            'Category',
            n.category ?? (
              <span key="c" className="muted">
                —
              </span>
            ),
          ],
          ['Created', <Time key="c" value={n.createdAt} both />],
          [
            'Inbox state',
            <span key="s" className="tags">
              <Badge tone={n.read ? 'neutral' : 'info'}>{n.read ? 'read' : 'unread'}</Badge>
              <Badge>{n.seen ? 'seen' : 'unseen'}</Badge>
              {n.archived ? <Badge>archived</Badge> : null}
            </span>,
          ],
          [
            'Idempotency key',
            n.idempotencyKey ? (
              <code key="i">{n.idempotencyKey}</code>
            ) : (
              <span key="i" className="muted">
                —
              </span>
            ),
          ],
        ]}
      />
      {n.status === 'FAILED' && n.failureReason ? (
        <div className="alert alert-error" data-testid="failure-reason">
          <strong>Failed:</strong> {n.failureReason}
        </div>
      ) : null}
      <div className="grid-2">
        <Section title="Rendered content">
          <RenderedContent n={n} />
        </Section>
        <Section title="Data">
          {n.data == null ? <p className="muted">No data was sent.</p> : <CodeBlock label="Data">{prettyJson(n.data)}</CodeBlock>}
        </Section>
      </div>
      <Section
        title="Timeline"
        testId="timeline"
        actions={
          <Link className="button button-small" to={`${base}/webhooks/deliveries?notification=${n.id}`}>
            Webhook deliveries
          </Link>
        }
      >
        <div className="panel">
          <ol className="timeline">
            {timeline.map((entry) => (
              <TimelineItem
                key={`${entry.kind}-${entry.kind === 'attempt' ? entry.attempt.id : entry.kind === 'state' ? entry.title : entry.delivery.id}`}
                entry={entry}
                base={base}
              />
            ))}
          </ol>
          {n.webhookDeliveries?.edges.length === 0 ? (
            <p className="muted small">No webhook endpoint subscribed to this notification's events.</p>
          ) : null}
          {truncated ? (
            <p className="field-hint">Only the latest 50 deliveries and 25 attempts each are shown; see Webhook deliveries for all.</p>
          ) : null}
        </div>
      </Section>
    </>
  );
}
