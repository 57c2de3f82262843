// What the login and sign-up forms share: the email and password fields, the submit button and
// the footer's link to the other form.
import type { InputHTMLAttributes, ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { TextField } from '../../components/field.tsx';
import { Spinner } from '../../components/states.tsx';

type FieldProps = { error?: string | null } & InputHTMLAttributes<HTMLInputElement>;

export function EmailField(props: FieldProps) {
  return <TextField label="Email" type="email" name="email" autoComplete="email" required {...props} />;
}

/** `autoComplete` says which password: "current-password" or "new-password". */
export function PasswordField(props: FieldProps & { autoComplete: string; hint?: ReactNode }) {
  return <TextField label="Password" type="password" name="password" required {...props} />;
}

export function SubmitButton({
  busy,
  disabled = false,
  testId,
  children,
}: {
  busy: boolean;
  disabled?: boolean;
  testId: string;
  children: ReactNode;
}) {
  return (
    <button type="submit" className="button button-primary button-block" disabled={busy || disabled} data-testid={testId}>
      {busy ? <Spinner small /> : null}
      {children}
    </button>
  );
}

/** The footer: a question and a link to the other form, keeping the query (email, next). */
export function SwitchForm({ question, to, testId, children }: { question: string; to: string; testId: string; children: ReactNode }) {
  const [params] = useSearchParams();
  return (
    <>
      {question}{' '}
      <Link to={`${to}${params.toString() ? `?${params.toString()}` : ''}`} data-testid={testId}>
        {children}
      </Link>
    </>
  );
}
