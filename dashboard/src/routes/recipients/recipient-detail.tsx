// One recipient: profile, inbox counters, their notifications, and erasure (a data-deletion request).
import { useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { ConfirmDialog, useConfirm } from '../../components/dialog.tsx';
import { CodeBlock, PageHeader, Properties, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { RecipientQuery } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { plural, prettyJson } from '../../lib/text.ts';
import { NotificationTable } from '../notifications/notification-table.tsx';
import { DeleteRecipientDocument, RECIPIENTS, RecipientDocument } from './documents.ts';

type Recipient = NonNullable<RecipientQuery['recipient']>;

export function RecipientDetailPage() {
  const { externalId = '' } = useParams();
  const { environmentId, base } = useProject();
  const [result, refetch] = useQuery({
    query: RecipientDocument,
    variables: { environmentId, externalId },
    requestPolicy: 'cache-and-network',
    context: RECIPIENTS,
  });
  return (
    <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading recipient…">
      {(data) =>
        data.recipient ? (
          <RecipientView recipient={data.recipient} />
        ) : (
          <>
            <PageHeader title="Recipient not found" back={{ to: `${base}/recipients`, label: 'Recipients' }} />
            <EmptyState title={`No recipient “${externalId}” in this environment`}>
              They are created on the first send to them, and gone after a deletion.
            </EmptyState>
          </>
        )
      }
    </QueryView>
  );
}

function DeleteRecipient({ recipient }: { recipient: Recipient }) {
  const { environmentId, base } = useProject();
  const navigate = useNavigate();
  const [state, remove] = useMutation(DeleteRecipientDocument);
  const deleting = useConfirm(async (target: Recipient) => {
    const result = await remove({ environmentId, externalId: target.externalId }, { additionalTypenames: ['Recipient', 'Notification'] });
    const payload = result.data?.deleteRecipient;
    if (result.error) return describeError(result.error);
    if (payload?.__typename === 'NotFoundError') return payload.message;
    if (payload?.__typename === 'DeletedRecipient') {
      navigate(`${base}/recipients`, {
        state: { notice: `Deleted ${payload.externalId} and ${plural(payload.notificationsDeleted, 'notification')}.` },
      });
    }
    return null;
  });
  return (
    <>
      <button type="button" className="button button-danger-ghost" onClick={() => deleting.ask(recipient)} data-testid="delete-recipient">
        Delete recipient…
      </button>
      <ConfirmDialog
        {...deleting.dialog}
        title="Delete this recipient and their data?"
        confirmLabel="Delete recipient and notifications"
        busy={state.fetching}
      >
        <p>
          This erases <strong>{recipient.externalId}</strong>: their profile, every notification sent to them, their inbox history and the
          webhook deliveries about them. Use it for data-deletion requests. It cannot be undone.
        </p>
        <p className="muted small">A later send to the same id creates a new, empty recipient.</p>
      </ConfirmDialog>
    </>
  );
}

function RecipientView({ recipient }: { recipient: Recipient }) {
  const { base, can } = useProject();
  return (
    <>
      <PageHeader
        back={{ to: `${base}/recipients`, label: 'Recipients' }}
        title={<code className="heading-code">{recipient.externalId}</code>}
        documentTitle={`Recipient ${recipient.externalId}`}
        description={recipient.name ?? undefined}
        actions={can.manage ? <DeleteRecipient recipient={recipient} /> : null}
      />
      <div className="stat-row">
        <div className="stat" data-testid="unread-count">
          <div className="stat-value">{recipient.unreadCount}</div>
          <div className="stat-label">Unread</div>
        </div>
        <div className="stat">
          <div className="stat-value">{recipient.unseenCount}</div>
          <div className="stat-label">Unseen</div>
        </div>
      </div>
      <Properties
        items={[
          ['Name', recipient.name ?? <span className="muted">—</span>],
          ['Email', recipient.email ?? <span className="muted">—</span>],
          ['First seen', <Time key="c" value={recipient.createdAt} both />],
          ['Profile updated', <Time key="u" value={recipient.updatedAt} both />],
        ]}
      />
      {recipient.metadata != null ? (
        <Section title="Metadata">
          <CodeBlock label="Metadata">{prettyJson(recipient.metadata)}</CodeBlock>
        </Section>
      ) : null}
      <Section title="Notifications">
        <NotificationTable
          filter={{ recipient: recipient.externalId }}
          showRecipient={false}
          empty={<EmptyState title="No notifications for this recipient" />}
        />
      </Section>
      {!can.manage ? <Alert tone="info">Admins and owners can delete a recipient and their notifications.</Alert> : null}
    </>
  );
}
