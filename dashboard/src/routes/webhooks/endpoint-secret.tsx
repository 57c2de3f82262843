// Revealing (a deliberate mutation) and rotating an endpoint's signing secret.
import { useState } from 'react';
import { useMutation } from 'urql';
import { SecretBox } from '../../components/copy.tsx';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { SelectField } from '../../components/field.tsx';
import { Section } from '../../components/page.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { EndpointFieldsFragment } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { ENDPOINTS, RevealWebhookEndpointSecretDocument, RotateWebhookEndpointSecretDocument } from './documents.ts';

const GRACE: [string, number][] = [
  ['End the old secret now', 0],
  ['Keep signing with the old one for 1 hour', 3600],
  ['… for 24 hours (default)', 86_400],
  ['… for 7 days', 604_800],
];

interface Revealed {
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: string | null;
}

export function EndpointSecret({ endpoint }: { endpoint: EndpointFieldsFragment }) {
  const { environmentId } = useProject();
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rotating, setRotating] = useState(false);
  const [grace, setGrace] = useState(86_400);
  const [rotateError, setRotateError] = useState<string | null>(null);
  const [rotated, setRotated] = useState(false);
  const [revealState, reveal] = useMutation(RevealWebhookEndpointSecretDocument);
  const [rotateState, rotate] = useMutation(RotateWebhookEndpointSecretDocument);

  async function show() {
    setError(null);
    const result = await reveal({ environmentId, id: endpoint.id });
    const payload = result.data?.revealWebhookEndpointSecret;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'NotFoundError') setError(payload.message);
    else if (payload?.__typename === 'WebhookEndpointSecret') setRevealed(payload);
  }

  async function confirmRotate() {
    setRotateError(null);
    const result = await rotate({ environmentId, id: endpoint.id, graceSeconds: grace }, ENDPOINTS);
    const payload = result.data?.rotateWebhookEndpointSecret;
    if (result.error) setRotateError(describeError(result.error));
    else if (payload?.__typename === 'RotatedWebhookEndpointSecret') {
      setRotating(false);
      setRotated(true);
      setRevealed(null);
      await show();
    } else if (payload?.__typename === 'ValidationError') setRotateError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload) setRotateError(payload.message);
  }

  return (
    <Section
      title="Signing secret"
      testId="endpoint-secret-section"
      actions={
        <>
          {revealed ? (
            <button type="button" className="button" onClick={() => setRevealed(null)} data-testid="hide-secret">
              Hide
            </button>
          ) : (
            <button type="button" className="button" onClick={show} disabled={revealState.fetching} data-testid="reveal-secret">
              {revealState.fetching ? <Spinner small /> : null}
              Reveal secret
            </button>
          )}
          <button type="button" className="button" onClick={() => setRotating(true)} data-testid="rotate-secret">
            Rotate…
          </button>
        </>
      }
    >
      {rotated ? <Alert tone="success">Secret rotated. Update your receiver with the new secret below.</Alert> : null}
      {error ? <Alert>{error}</Alert> : null}
      {revealed ? (
        <>
          <SecretBox label="Current secret" secret={revealed.secret} testId="revealed-secret" />
          {revealed.previousSecret ? (
            <SecretBox label="Previous secret" secret={revealed.previousSecret} testId="previous-secret">
              Requests also carry its signature until <Time value={revealed.previousSecretExpiresAt} both />.
            </SecretBox>
          ) : null}
        </>
      ) : (
        <p className="muted">
          Hidden. Receivers verify the <code>webhook-signature</code> header with it.
          {endpoint.previousSecretExpiresAt ? (
            <>
              {' '}
              A rotation's grace period ends <Time value={endpoint.previousSecretExpiresAt} />.
            </>
          ) : null}
        </p>
      )}
      <ConfirmDialog
        open={rotating}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        tone="primary"
        busy={rotateState.fetching}
        error={rotateError}
        onConfirm={confirmRotate}
        onClose={() => {
          setRotating(false);
          setRotateError(null);
        }}
        testId="rotate-dialog"
      >
        <p>
          A new secret signs every request from now on. During the grace period requests carry both signatures, so receivers can switch
          without losing one.
        </p>
        <SelectField
          label="Grace period"
          value={String(grace)}
          onChange={(e) => setGrace(Number(e.target.value))}
          data-testid="rotate-grace"
        >
          {GRACE.map(([label, seconds]) => (
            <option key={seconds} value={seconds}>
              {label}
            </option>
          ))}
        </SelectField>
      </ConfirmDialog>
    </Section>
  );
}
