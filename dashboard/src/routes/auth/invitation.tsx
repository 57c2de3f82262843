// /invitations/:token — the link an owner shared. Shows what it offers, then: sign up with the
// invited email (which claims it), log in and accept, or explain why it cannot be used.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { RoleBadge } from '../../components/badge.tsx';
import { Alert, ErrorState, FullPage, Loading, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import { describeError } from '../../lib/errors.ts';
import { useSession } from '../../lib/session.tsx';
import { AcceptInvitationDocument, InvitationPreviewDocument } from '../members/documents.ts';
import { AuthLayout } from './auth-layout.tsx';

export function InvitationPage() {
  const { token = '' } = useParams();
  const session = useSession();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({ query: InvitationPreviewDocument, variables: { token }, requestPolicy: 'network-only' });
  const [state, accept] = useMutation(AcceptInvitationDocument);
  const [error, setError] = useState<string | null>(null);

  if (session.loading || (!result.data && !result.error)) {
    return (
      <FullPage>
        <Loading label="Opening the invitation…" />
      </FullPage>
    );
  }
  if (result.error && !result.data) {
    return (
      <AuthLayout title="Invitation">
        <ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      </AuthLayout>
    );
  }
  const invitation = result.data?.invitation;
  if (!invitation) {
    return (
      <AuthLayout title="This invitation cannot be used" footer={<Link to="/">Go to the dashboard</Link>}>
        <p data-testid="invitation-invalid">
          The link is unknown, has expired, was revoked, or was already used. Ask the project's owner for a new one.
        </p>
      </AuthLayout>
    );
  }
  const next = `/invitations/${encodeURIComponent(token)}`;
  const auth = `email=${encodeURIComponent(invitation.email)}`;
  const wrongUser = session.user && session.user.email.toLowerCase() !== invitation.email.toLowerCase();

  async function doAccept() {
    setError(null);
    const res = await accept({ token }, { additionalTypenames: ['Project'] });
    const payload = res.data?.acceptInvitation;
    if (res.error) setError(describeError(res.error));
    else if (payload?.__typename === 'AcceptedInvitation') navigate(`/projects/${payload.project.id}/development`);
    else if (payload?.__typename === 'ValidationError') setError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload) setError(payload.message);
  }

  return (
    <AuthLayout title={`Join ${invitation.projectName}`}>
      <div className="invite-summary" data-testid="invitation-summary">
        <span>
          You are invited to <strong>{invitation.projectName}</strong> as <RoleBadge role={invitation.role} />
        </span>
        <span className="muted small">
          for {invitation.email} · expires <Time value={invitation.expiresAt} />
        </span>
      </div>
      {session.user ? (
        <>
          {wrongUser ? (
            <Alert tone="warning">
              You are logged in as {session.user.email}. Log out and sign in as {invitation.email} to accept.
            </Alert>
          ) : null}
          {error ? <Alert testId="invitation-error">{error}</Alert> : null}
          <button
            type="button"
            className="button button-primary button-block"
            onClick={doAccept}
            disabled={state.fetching}
            data-testid="accept-invitation"
          >
            {state.fetching ? <Spinner small /> : null}
            Accept and open the project
          </button>
        </>
      ) : (
        <>
          <p>Create an account with this email and you join at once, or log in if you already have one.</p>
          <Link className="button button-primary button-block" to={`/signup?${auth}`} data-testid="invitation-signup">
            Sign up as {invitation.email}
          </Link>
          <Link className="button button-block" to={`/login?${auth}&next=${encodeURIComponent(next)}`} data-testid="invitation-login">
            I have an account: log in
          </Link>
        </>
      )}
    </AuthLayout>
  );
}
