// API keys of the current environment: create (the secret is shown once), list, revoke.
import { type FormEvent, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { SecretBox } from '../../components/copy.tsx';
import { ConfirmDialog, Dialog, useConfirm } from '../../components/dialog.tsx';
import { TextField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState, Spinner } from '../../components/states.tsx';
import { RowAction, Table } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import type { ApiKeysQuery } from '../../gql/graphql.ts';
import { graphql } from '../../gql/index.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { ENV_LABEL, useProject } from '../../lib/project.tsx';

const ApiKeysDocument = graphql(`
  query ApiKeys($environmentId: ID!) {
    apiKeys(environmentId: $environmentId) { id name prefix createdAt lastUsedAt revokedAt }
  }
`);

const CreateApiKeyDocument = graphql(`
  mutation CreateApiKey($environmentId: ID!, $input: CreateApiKeyInput!) {
    createApiKey(environmentId: $environmentId, input: $input) {
      __typename
      ... on CreatedApiKey { secret apiKey { id name prefix createdAt lastUsedAt revokedAt } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

const RevokeApiKeyDocument = graphql(`
  mutation RevokeApiKey($environmentId: ID!, $id: ID!) {
    revokeApiKey(environmentId: $environmentId, id: $id) {
      __typename
      ... on RevokeApiKeySuccess { apiKey { id revokedAt } }
      ... on NotFoundError { message }
    }
  }
`);

type ApiKey = ApiKeysQuery['apiKeys'][number];
const KEYS = { additionalTypenames: ['ApiKey'] };

function CreateKeyDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const { environmentId, env } = useProject();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [state, create] = useMutation(CreateApiKeyDocument);
  function close() {
    setName('');
    setError(null);
    setSecret(null);
    onClose();
  }
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const result = await create({ environmentId, input: { name } }, KEYS);
    const payload = result.data?.createApiKey;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'CreatedApiKey') setSecret(payload.secret);
    else if (payload?.__typename === 'ValidationError') setError(issuesByField(payload.issues).name ?? payload.message);
    else if (payload?.__typename === 'NotFoundError') setError(payload.message);
  }
  return (
    <Dialog
      open={open}
      title={secret ? 'Your new API key' : `New ${ENV_LABEL[env].toLowerCase()} API key`}
      onClose={close}
      testId="create-key-dialog"
    >
      {secret ? (
        <>
          <SecretBox label="API key" secret={secret} testId="new-key-secret">
            Copy it now: this is the only time Pigeon shows it. Only a hash is stored.
          </SecretBox>
          <div className="dialog-actions">
            <button type="button" className="button button-primary" onClick={close} data-testid="key-done">
              I have saved it
            </button>
          </div>
        </>
      ) : (
        <form className="form" onSubmit={submit} noValidate>
          <TextField
            label="Name"
            hint="What uses this key, e.g. “billing backend”."
            value={name}
            onChange={(e) => setName(e.target.value)}
            error={error}
            maxLength={100}
            autoFocus
            data-testid="key-name"
          />
          <div className="dialog-actions">
            <button type="button" className="button" onClick={close}>
              Cancel
            </button>
            <button type="submit" className="button button-primary" disabled={state.fetching} data-testid="create-key-submit">
              {state.fetching ? <Spinner small /> : null}
              Create key
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function KeyRow({ apiKey, onRevoke }: { apiKey: ApiKey; onRevoke?: () => void }) {
  return (
    <tr className={apiKey.revokedAt ? 'row-muted' : undefined} data-testid="api-key-row">
      <td>{apiKey.name}</td>
      <td>
        <code className="nowrap">{apiKey.prefix}…</code>
      </td>
      <td className="col-optional">
        <Time value={apiKey.createdAt} />
      </td>
      <td>
        <Time value={apiKey.lastUsedAt} empty="never" />
      </td>
      <td>
        {apiKey.revokedAt ? (
          <Badge tone="danger" title={`Revoked ${apiKey.revokedAt}`}>
            Revoked
          </Badge>
        ) : (
          <Badge tone="success">Active</Badge>
        )}
      </td>
      <RowAction label={`Revoke ${apiKey.name}`} testId="revoke-key" onClick={apiKey.revokedAt ? undefined : onRevoke}>
        Revoke
      </RowAction>
    </tr>
  );
}

export function ApiKeysPage() {
  const { environmentId, env, can } = useProject();
  const [result, refetch] = useQuery({
    query: ApiKeysDocument,
    variables: { environmentId },
    requestPolicy: 'cache-and-network',
    context: KEYS,
  });
  const [creating, setCreating] = useState(false);
  const [revokeState, revoke] = useMutation(RevokeApiKeyDocument);
  const revoking = useConfirm(async (apiKey: ApiKey) => {
    const res = await revoke({ environmentId, id: apiKey.id }, KEYS);
    const payload = res.data?.revokeApiKey;
    if (res.error) return describeError(res.error);
    if (payload?.__typename === 'NotFoundError') return payload.message;
    return null;
  });

  return (
    <>
      <PageHeader
        title="API keys"
        description={`Backends send with these keys. Each acts on the ${ENV_LABEL[env].toLowerCase()} environment only.`}
        actions={
          can.manage ? (
            <button type="button" className="button button-primary" onClick={() => setCreating(true)} data-testid="new-api-key">
              Create API key
            </button>
          ) : null
        }
      />
      {!can.manage ? <Alert tone="info">Only admins and owners can create or revoke keys.</Alert> : null}
      <QueryView result={result} retry={retryWith(refetch)}>
        {(data) =>
          data.apiKeys.length === 0 ? (
            <EmptyState title="No API keys yet">
              {can.manage ? 'Create one to send notifications from your backend.' : 'An admin can create one.'}
            </EmptyState>
          ) : (
            <Table
              testId="api-keys-table"
              columns={[
                { label: 'Name' },
                { label: 'Prefix' },
                { label: 'Created', optional: true },
                { label: 'Last used' },
                { label: 'Status' },
                { label: 'Actions', hidden: true },
              ]}
            >
              <tbody>
                {data.apiKeys.map((k) => (
                  <KeyRow key={k.id} apiKey={k} onRevoke={can.manage ? () => revoking.ask(k) : undefined} />
                ))}
              </tbody>
            </Table>
          )
        }
      </QueryView>
      {can.manage ? <CreateKeyDialog open={creating} onClose={() => setCreating(false)} /> : null}
      <ConfirmDialog {...revoking.dialog} title="Revoke API key?" confirmLabel="Revoke key" busy={revokeState.fetching}>
        <p>
          Requests with <strong>{revoking.target?.name}</strong> (<code>{revoking.target?.prefix}…</code>) will fail at once. This cannot be
          undone.
        </p>
      </ConfirmDialog>
    </>
  );
}
