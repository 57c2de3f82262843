// One delivery: the payload, every attempt's request and response, and redelivery.
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { AttemptExchange } from '../../components/attempt.tsx';
import { StatusBadge } from '../../components/badge.tsx';
import { CopyButton } from '../../components/copy.tsx';
import { ConfirmDialog, useConfirm } from '../../components/dialog.tsx';
import { CodeBlock, PageHeader, Properties, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { WebhookDeliveryQuery } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { prettyJson } from '../../lib/text.ts';
import { DELIVERIES, RedeliverWebhookDocument, WebhookDeliveryDocument } from './documents.ts';

type Delivery = NonNullable<WebhookDeliveryQuery['webhookDelivery']>;

export function DeliveryDetailPage() {
  const { id = '' } = useParams();
  const { environmentId, base } = useProject();
  const [result, refetch] = useQuery({
    query: WebhookDeliveryDocument,
    variables: { environmentId, id },
    requestPolicy: 'cache-and-network',
    context: DELIVERIES,
  });
  const pending = result.data?.webhookDelivery?.status === 'PENDING';
  // A pending delivery changes within seconds (the first attempt is immediate): follow it.
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => refetch({ requestPolicy: 'network-only' }), 2000);
    return () => clearInterval(timer);
  }, [pending, refetch]);
  return (
    <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading delivery…">
      {(data) =>
        data.webhookDelivery ? (
          <DeliveryView delivery={data.webhookDelivery} />
        ) : (
          <>
            <PageHeader title="Delivery not found" back={{ to: `${base}/webhooks/deliveries`, label: 'Deliveries' }} />
            <EmptyState title="No delivery with this id in this environment">
              Its endpoint may have been deleted, or it aged out of the log.
            </EmptyState>
          </>
        )
      }
    </QueryView>
  );
}

function Redeliver({ delivery }: { delivery: Delivery }) {
  const { environmentId } = useProject();
  const [done, setDone] = useState(false);
  const [state, redeliver] = useMutation(RedeliverWebhookDocument);
  const redelivering = useConfirm(async (target: Delivery) => {
    const result = await redeliver({ environmentId, id: target.id }, DELIVERIES);
    const payload = result.data?.redeliverWebhook;
    if (result.error) return describeError(result.error);
    if (payload?.__typename === 'RedeliverWebhookSuccess') {
      setDone(true);
      return null;
    }
    if (payload?.__typename === 'ValidationError') return payload.issues.map((i) => i.message).join(' ') || payload.message;
    return payload?.message ?? describeError(null);
  });
  return (
    <>
      <button
        type="button"
        className="button button-primary"
        onClick={() => redelivering.ask(delivery)}
        disabled={!delivery.endpoint.enabled}
        title={delivery.endpoint.enabled ? undefined : 'The endpoint is disabled; enable it first.'}
        data-testid="redeliver"
      >
        {state.fetching ? <Spinner small /> : null}
        Redeliver
      </button>
      {done ? <span className="muted small">Queued — attempts refresh below.</span> : null}
      <ConfirmDialog
        {...redelivering.dialog}
        title="Redeliver this webhook?"
        confirmLabel="Redeliver now"
        tone="primary"
        busy={state.fetching}
        testId="redeliver-dialog"
      >
        <p>
          One more attempt now, with the same <code>webhook-id</code> and body, so a receiver that already processed it can ignore it.
        </p>
      </ConfirmDialog>
    </>
  );
}

function DeliveryView({ delivery }: { delivery: Delivery }) {
  const { base, can } = useProject();
  const attempts = delivery.attempts.edges.map((e) => e.node);
  return (
    <>
      <PageHeader
        back={{ to: `${base}/webhooks/deliveries`, label: 'Deliveries' }}
        documentTitle={`Delivery ${delivery.eventType}`}
        title={
          <span className="row">
            <code className="heading-code">{delivery.eventType}</code> <StatusBadge status={delivery.status} />
          </span>
        }
        description={
          <span className="row small">
            webhook-id <code>{delivery.webhookId}</code> <CopyButton value={delivery.webhookId} what="webhook id" />
          </span>
        }
        actions={can.manage ? <Redeliver delivery={delivery} /> : null}
      />
      {delivery.failureReason ? <Alert>{delivery.failureReason}</Alert> : null}
      {!delivery.endpoint.enabled ? <Alert tone="warning">The endpoint is disabled: enable it to redeliver.</Alert> : null}
      <Properties
        items={[
          [
            'Endpoint',
            <Link key="e" to={`${base}/webhooks/endpoints/${delivery.endpoint.id}`} style={{ wordBreak: 'break-all' }}>
              {delivery.endpoint.url}
            </Link>,
          ],
          [
            'Notification',
            delivery.notification ? (
              <Link key="n" to={`${base}/notifications/${delivery.notification.id}`}>
                to {delivery.notification.recipient.externalId}
              </Link>
            ) : (
              <span key="n" className="muted">
                —
              </span>
            ),
          ],
          ['Created', <Time key="c" value={delivery.createdAt} both />],
          ['Attempts', String(delivery.attemptCount)],
          ['Last attempt', <Time key="l" value={delivery.lastAttemptAt} both empty="none yet" />],
          [
            delivery.status === 'PENDING' ? 'Next attempt' : 'Completed',
            delivery.status === 'PENDING' ? (
              <Time key="n" value={delivery.nextAttemptAt} both />
            ) : (
              <Time key="d" value={delivery.completedAt} both />
            ),
          ],
        ]}
      />
      <div className="stack" style={{ gap: 20 }}>
        <Section title="Payload">
          <CodeBlock label="Payload" testId="delivery-payload">
            {prettyJson(delivery.payload)}
          </CodeBlock>
        </Section>
        <Section title={`Attempts (${attempts.length})`} testId="delivery-attempts">
          {attempts.length === 0 ? (
            <EmptyState title="No attempts yet">{delivery.status === 'PENDING' ? 'The first one is on its way.' : null}</EmptyState>
          ) : (
            <div className="stack">
              {attempts.map((a, i) => (
                <AttemptExchange key={a.id} attempt={a} label={`#${i + 1}`} open={i === attempts.length - 1} />
              ))}
              {delivery.attempts.pageInfo.hasNextPage ? <p className="field-hint">Only the first 100 attempts are shown.</p> : null}
            </div>
          )}
        </Section>
      </div>
    </>
  );
}
