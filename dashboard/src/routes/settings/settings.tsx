// Project and environment settings: ids for API use, per-environment rate budgets and the
// client-token signing secret.
import { type FormEvent, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { CopyButton } from '../../components/copy.tsx';
import { ConfirmDialog, useConfirm } from '../../components/dialog.tsx';
import { TextField } from '../../components/field.tsx';
import { PageHeader, Properties, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { EnvironmentSettingsQuery } from '../../gql/graphql.ts';
import { graphql } from '../../gql/index.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { ENV_KIND, ENV_LABEL, useProject } from '../../lib/project.tsx';

const EnvironmentSettingsDocument = graphql(`
  query EnvironmentSettings($projectId: ID!) {
    project(id: $projectId) {
      id
      name
      createdAt
      environments { id kind createdAt apiKeyOpsPerMinute clientTokenOpsPerMinute introspection previousClientTokenSecretExpiresAt }
    }
  }
`);

const UpdateEnvironmentDocument = graphql(`
  mutation UpdateEnvironment($environmentId: ID!, $input: UpdateEnvironmentInput!) {
    updateEnvironment(environmentId: $environmentId, input: $input) {
      __typename
      ... on UpdateEnvironmentSuccess { environment { id apiKeyOpsPerMinute clientTokenOpsPerMinute introspection } }
      ... on ValidationError { ...Issues }
    }
  }
`);

const RotateClientTokenSecretDocument = graphql(`
  mutation RotateClientTokenSecret($environmentId: ID!) {
    rotateClientTokenSecret(environmentId: $environmentId) { id previousClientTokenSecretExpiresAt }
  }
`);

type Environment = EnvironmentSettingsQuery['project']['environments'][number];

function RateBudgets({ environment, editable }: { environment: Environment; editable: boolean }) {
  const [apiKey, setApiKey] = useState(String(environment.apiKeyOpsPerMinute));
  const [clientToken, setClientToken] = useState(String(environment.clientTokenOpsPerMinute));
  const [introspection, setIntrospection] = useState(environment.introspection);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);
  const [state, update] = useMutation(UpdateEnvironmentDocument);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors({});
    setMessage(null);
    const input = { apiKeyOpsPerMinute: Number(apiKey), clientTokenOpsPerMinute: Number(clientToken), introspection };
    if (!Number.isInteger(input.apiKeyOpsPerMinute) || !Number.isInteger(input.clientTokenOpsPerMinute)) {
      setMessage({ tone: 'error', text: 'Enter whole numbers.' });
      return;
    }
    const result = await update({ environmentId: environment.id, input });
    const payload = result.data?.updateEnvironment;
    if (result.error) setMessage({ tone: 'error', text: describeError(result.error) });
    else if (payload?.__typename === 'ValidationError') setErrors(issuesByField(payload.issues));
    else setMessage({ tone: 'success', text: 'Saved.' });
  }
  return (
    <form className="panel form" onSubmit={submit} noValidate data-testid="rate-budgets">
      <div className="grid-2">
        <TextField
          label="API key operations per minute"
          type="number"
          min={1}
          value={apiKey}
          onChange={(e) => setApiKey(e.target.value)}
          error={errors.apiKeyOpsPerMinute}
          readOnly={!editable}
          hint="Per key; more fail with RATE_LIMITED."
          data-testid="api-key-budget"
        />
        <TextField
          label="Client token operations per minute"
          type="number"
          min={1}
          value={clientToken}
          onChange={(e) => setClientToken(e.target.value)}
          error={errors.clientTokenOpsPerMinute}
          readOnly={!editable}
          hint="Per recipient, all their tokens together."
          data-testid="client-token-budget"
        />
      </div>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={introspection}
          disabled={!editable}
          onChange={(e) => setIntrospection(e.target.checked)}
          data-testid="introspection"
        />
        <span>
          <strong>Allow schema introspection</strong>
          <small>
            Lets this environment's API keys and client tokens read the schema (__schema, __type), e.g. for GraphiQL or codegen. Off for
            production by default.
          </small>
        </span>
      </label>
      {errors.introspection ? <p className="field-error">{errors.introspection}</p> : null}
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
      {editable ? (
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={state.fetching} data-testid="save-budgets">
            {state.fetching ? <Spinner small /> : null}
            Save settings
          </button>
        </div>
      ) : null}
    </form>
  );
}

function ClientTokenSecret({ environment }: { environment: Environment }) {
  const [done, setDone] = useState(false);
  const [state, rotate] = useMutation(RotateClientTokenSecretDocument);
  const rotating = useConfirm(async (target: Environment) => {
    const result = await rotate({ environmentId: target.id });
    if (result.error) return describeError(result.error);
    setDone(true);
    return null;
  });
  return (
    <div className="panel stack">
      <p>
        Client tokens (what browsers use for the live inbox) are signed with a per-environment secret that never leaves Pigeon. Rotate it if
        you suspect tokens leaked: tokens signed with the old one keep working until they expire (at most 24 hours).
      </p>
      {environment.previousClientTokenSecretExpiresAt ? (
        <p className="muted small">
          The previous secret is accepted until <Time value={environment.previousClientTokenSecretExpiresAt} both />.
        </p>
      ) : null}
      {done ? <Alert tone="success">Rotated. New tokens use the new secret.</Alert> : null}
      <div>
        <button type="button" className="button" onClick={() => rotating.ask(environment)} data-testid="rotate-client-token-secret">
          Rotate client-token secret…
        </button>
      </div>
      <ConfirmDialog
        {...rotating.dialog}
        title="Rotate the client-token secret?"
        confirmLabel="Rotate secret"
        tone="primary"
        busy={state.fetching}
      >
        <p>New tokens are signed with a new secret at once. Rotating again within 24 hours ends the oldest secret immediately.</p>
      </ConfirmDialog>
    </div>
  );
}

export function SettingsPage() {
  const { project, env, environmentId, can } = useProject();
  const [result, refetch] = useQuery({
    query: EnvironmentSettingsDocument,
    variables: { projectId: project.id },
    requestPolicy: 'cache-and-network',
  });
  return (
    <>
      <PageHeader title="Settings" description={`${project.name}, ${ENV_LABEL[env].toLowerCase()} environment.`} />
      <QueryView result={result} retry={retryWith(refetch)}>
        {(data) => {
          const environment = data.project.environments.find((e) => e.kind === ENV_KIND[env]);
          if (!environment) return <Alert>This project has no {ENV_LABEL[env].toLowerCase()} environment.</Alert>;
          return (
            <>
              <Section title="Project">
                <Properties
                  items={[
                    ['Name', data.project.name],
                    [
                      'Project id',
                      <span key="p" className="row">
                        <code>{data.project.id}</code> <CopyButton value={data.project.id} what="project id" />
                      </span>,
                    ],
                    ['Created', <Time key="c" value={data.project.createdAt} both />],
                  ]}
                />
              </Section>
              <Section title={`${ENV_LABEL[env]} environment`}>
                <Properties
                  items={[
                    [
                      'Kind',
                      <Badge key="k" tone={env === 'production' ? 'danger' : 'info'}>
                        {ENV_LABEL[env]}
                      </Badge>,
                    ],
                    [
                      'Environment id',
                      <span key="e" className="row">
                        <code data-testid="environment-id">{environmentId}</code> <CopyButton value={environmentId} what="environment id" />
                      </span>,
                    ],
                    ['Created', <Time key="c" value={environment.createdAt} both />],
                  ]}
                />
              </Section>
              <Section title="API access">
                {!can.manage ? <Alert tone="info">Admins and owners change these settings.</Alert> : null}
                <RateBudgets key={environment.id} environment={environment} editable={can.manage} />
              </Section>
              {can.manage ? (
                <Section title="Client-token signing secret">
                  <ClientTokenSecret environment={environment} />
                </Section>
              ) : null}
            </>
          );
        }}
      </QueryView>
    </>
  );
}
