// Log in: wrong credentials, invalid input and rate-limited attempts each get their own message.
import { type FormEvent, useState } from 'react';
import { Navigate, useSearchParams } from 'react-router';
import { useMutation } from 'urql';
import { Alert } from '../../components/states.tsx';
import { graphql } from '../../gql/index.ts';
import { describeError, errorCode, formatWait, retryAfterSeconds } from '../../lib/errors.ts';
import { useSession } from '../../lib/session.tsx';
import { useFormErrors } from '../../lib/use-form-errors.ts';
import { EmailField, PasswordField, SubmitButton, SwitchForm } from './auth-form.tsx';
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
  const errors = useFormErrors();
  const [wait, startWait] = useCountdown();
  // The limit is per email (and, more loosely, per address): another email may still log in.
  const [limitedEmail, setLimitedEmail] = useState<string | null>(null);
  const limited = wait > 0 && limitedEmail === email.trim().toLowerCase();
  const [state, logIn] = useMutation(LogInDocument);

  if (session.user) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    errors.clear();
    const result = await logIn({ input: { email, password } });
    if (result.error) {
      if (errorCode(result.error) === 'RATE_LIMITED') {
        const seconds = retryAfterSeconds(result.error) ?? 60;
        startWait(seconds);
        setLimitedEmail(email.trim().toLowerCase());
        errors.setFormError(`Too many login attempts. Try again in ${formatWait(seconds)}.`);
      } else errors.setFormError(describeError(result.error));
      return;
    }
    const payload = result.data?.logIn;
    if (payload?.__typename === 'AuthPayload') session.reset();
    else if (payload?.__typename === 'InvalidCredentialsError') errors.setFormError(payload.message);
    else if (payload?.__typename === 'ValidationError') errors.showIssues(payload.issues);
  }

  return (
    <AuthLayout
      title="Log in"
      footer={
        <SwitchForm question="New to Pigeon?" to="/signup" testId="signup-link">
          Create an account
        </SwitchForm>
      }
    >
      {session.expired ? <Alert tone="info">Your session has ended. Log in again to continue.</Alert> : null}
      <form onSubmit={submit} noValidate data-testid="login-form" className="form">
        <EmailField value={email} error={errors.fields.email} onChange={(e) => setEmail(e.target.value)} data-testid="login-email" />
        <PasswordField
          autoComplete="current-password"
          value={password}
          error={errors.fields.password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="login-password"
        />
        {errors.formError ? (
          <Alert testId="login-error">
            {wait > 0 && errorCode(state.error) === 'RATE_LIMITED'
              ? `Too many login attempts. Try again in ${formatWait(wait)}.`
              : errors.formError}
          </Alert>
        ) : null}
        <SubmitButton busy={state.fetching} disabled={limited} testId="login-submit">
          Log in
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
