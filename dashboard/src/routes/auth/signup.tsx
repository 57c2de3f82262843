// Sign up: a taken email and a weak password are shown at their fields. Signing up also claims
// every pending invitation for the email, so invited people land in their projects.
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router';
import { useMutation } from 'urql';
import { TextField } from '../../components/field.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { graphql } from '../../gql/index.ts';
import { describeError, errorCode, formatWait, issuesByField, retryAfterSeconds } from '../../lib/errors.ts';
import { useSession } from '../../lib/session.tsx';
import { AuthLayout, safeNext } from './auth-layout.tsx';

const SignUpDocument = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload { csrfToken user { id email } }
      ... on EmailTakenError { message }
      ... on WeakPasswordError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const PASSWORD_HINT = 'At least 10 characters. Length matters more than symbols.';

export function SignUpPage() {
  const session = useSession();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [name, setName] = useState('');
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [state, signUp] = useMutation(SignUpDocument);

  if (session.user) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFields({});
    setFormError(null);
    const result = await signUp({ input: { email, password, name: name.trim() || null } });
    if (result.error) {
      const seconds = retryAfterSeconds(result.error);
      setFormError(
        errorCode(result.error) === 'RATE_LIMITED' && seconds
          ? `Too many sign-ups from this address. Try again in ${formatWait(seconds)}.`
          : describeError(result.error),
      );
      return;
    }
    const payload = result.data?.signUp;
    switch (payload?.__typename) {
      case 'AuthPayload':
        session.reset();
        break;
      case 'EmailTakenError':
        setFields({ email: payload.message });
        break;
      case 'WeakPasswordError':
        setFields({ password: payload.message });
        break;
      case 'ValidationError': {
        const byField = issuesByField(payload.issues);
        setFields(byField);
        if (byField['']) setFormError(byField['']);
        break;
      }
    }
  }

  return (
    <AuthLayout
      title="Create your account"
      footer={
        <>
          Already have an account?{' '}
          <Link to={`/login${params.toString() ? `?${params.toString()}` : ''}`} data-testid="login-link">
            Log in
          </Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate data-testid="signup-form" className="form">
        <TextField
          label="Name (optional)"
          name="name"
          autoComplete="name"
          value={name}
          error={fields.name}
          onChange={(e) => setName(e.target.value)}
          data-testid="signup-name"
        />
        <TextField
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          error={fields.email}
          onChange={(e) => setEmail(e.target.value)}
          data-testid="signup-email"
        />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          value={password}
          error={fields.password}
          hint={PASSWORD_HINT}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="signup-password"
        />
        {formError ? <Alert testId="signup-error">{formError}</Alert> : null}
        <button type="submit" className="button button-primary button-block" disabled={state.fetching} data-testid="signup-submit">
          {state.fetching ? <Spinner small /> : null}
          Create account
        </button>
      </form>
    </AuthLayout>
  );
}
