// Sign up: a taken email and a weak password are shown at their fields. Signing up also claims
// every pending invitation for the email, so invited people land in their projects.
import { type FormEvent, useState } from 'react';
import { Navigate, useSearchParams } from 'react-router';
import { useMutation } from 'urql';
import { TextField } from '../../components/field.tsx';
import { Alert } from '../../components/states.tsx';
import { graphql } from '../../gql/index.ts';
import { describeError, errorCode, formatWait, retryAfterSeconds } from '../../lib/errors.ts';
import { useSession } from '../../lib/session.tsx';
import { useFormErrors } from '../../lib/use-form-errors.ts';
import { EmailField, PasswordField, SubmitButton, SwitchForm } from './auth-form.tsx';
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
  const errors = useFormErrors();
  const [state, signUp] = useMutation(SignUpDocument);

  if (session.user) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    errors.clear();
    const result = await signUp({ input: { email, password, name: name.trim() || null } });
    if (result.error) {
      const seconds = retryAfterSeconds(result.error);
      errors.setFormError(
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
        errors.setFields({ email: payload.message });
        break;
      case 'WeakPasswordError':
        errors.setFields({ password: payload.message });
        break;
      case 'ValidationError':
        errors.showIssues(payload.issues);
        break;
    }
  }

  return (
    <AuthLayout
      title="Create your account"
      footer={
        <SwitchForm question="Already have an account?" to="/login" testId="login-link">
          Log in
        </SwitchForm>
      }
    >
      <form onSubmit={submit} noValidate data-testid="signup-form" className="form">
        <TextField
          label="Name (optional)"
          name="name"
          autoComplete="name"
          value={name}
          error={errors.fields.name}
          onChange={(e) => setName(e.target.value)}
          data-testid="signup-name"
        />
        <EmailField value={email} error={errors.fields.email} onChange={(e) => setEmail(e.target.value)} data-testid="signup-email" />
        <PasswordField
          autoComplete="new-password"
          value={password}
          error={errors.fields.password}
          hint={PASSWORD_HINT}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="signup-password"
        />
        {errors.formError ? <Alert testId="signup-error">{errors.formError}</Alert> : null}
        <SubmitButton busy={state.fetching} testId="signup-submit">
          Create account
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
