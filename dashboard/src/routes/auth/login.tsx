// Log in: wrong credentials, invalid input and rate-limited attempts each get their own message.
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router';
import { useMutation } from 'urql';
import { TextField } from '../../components/field.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { graphql } from '../../gql/index.ts';
import { describeError, errorCode, formatWait, issuesByField, retryAfterSeconds } from '../../lib/errors.ts';
import { useSession } from '../../lib/session.tsx';
import { AuthLayout, safeNext } from './auth-layout.tsx';
import { useCountdown } from './use-countdown.ts';

const LogInDocument = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload { csrfToken user { id email } }
      ... on InvalidCredentialsError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export function LoginPage() {
  const session = useSession();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [wait, startWait] = useCountdown();
  // The limit is per email (and, more loosely, per address): another email may still log in.
  const [limitedEmail, setLimitedEmail] = useState<string | null>(null);
  const limited = wait > 0 && limitedEmail === email.trim().toLowerCase();
  const [state, logIn] = useMutation(LogInDocument);

  if (session.user) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFields({});
    setFormError(null);
    const result = await logIn({ input: { email, password } });
    if (result.error) {
      if (errorCode(result.error) === 'RATE_LIMITED') {
        const seconds = retryAfterSeconds(result.error) ?? 60;
        startWait(seconds);
        setLimitedEmail(email.trim().toLowerCase());
        setFormError(`Too many login attempts. Try again in ${formatWait(seconds)}.`);
      } else setFormError(describeError(result.error));
      return;
    }
    const payload = result.data?.logIn;
    if (payload?.__typename === 'AuthPayload') session.reset();
    else if (payload?.__typename === 'InvalidCredentialsError') setFormError(payload.message);
    else if (payload?.__typename === 'ValidationError') {
      const byField = issuesByField(payload.issues);
      setFields(byField);
      if (byField['']) setFormError(byField['']);
    }
  }

  return (
    <AuthLayout
      title="Log in"
      footer={
        <>
          New to Pigeon?{' '}
          <Link to={`/signup${params.toString() ? `?${params.toString()}` : ''}`} data-testid="signup-link">
            Create an account
          </Link>
        </>
      }
    >
      {session.expired ? <Alert tone="info">Your session has ended. Log in again to continue.</Alert> : null}
      <form onSubmit={submit} noValidate data-testid="login-form" className="form">
        <TextField
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          error={fields.email}
          onChange={(e) => setEmail(e.target.value)}
          data-testid="login-email"
        />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          error={fields.password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="login-password"
        />
        {formError ? (
          <Alert testId="login-error">
            {wait > 0 && errorCode(state.error) === 'RATE_LIMITED'
              ? `Too many login attempts. Try again in ${formatWait(wait)}.`
              : formError}
          </Alert>
        ) : null}
        <button
          type="submit"
          className="button button-primary button-block"
          disabled={state.fetching || limited}
          data-testid="login-submit"
        >
          {state.fetching ? <Spinner small /> : null}
          Log in
        </button>
      </form>
    </AuthLayout>
  );
}
