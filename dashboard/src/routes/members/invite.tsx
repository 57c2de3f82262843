// Inviting someone: there is no email channel, so the inviter gets a link to share.
import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import { SecretBox } from '../../components/copy.tsx';
import { SelectField, TextField } from '../../components/field.tsx';
import { Section } from '../../components/page.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { Role } from '../../gql/graphql.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { ROLE_HELP, ROLES } from '../../lib/roles.ts';
import { capitalize } from '../../lib/text.ts';
import { InviteMemberDocument, invitationLink, MEMBERS } from './documents.ts';

export function InviteForm() {
  const { project } = useProject();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('MEMBER');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ link: string; email: string; expiresAt: string } | null>(null);
  const [state, invite] = useMutation(InviteMemberDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors({});
    setFormError(null);
    setCreated(null);
    const result = await invite({ projectId: project.id, input: { email, role } }, MEMBERS);
    const payload = result.data?.inviteMember;
    if (result.error) setFormError(describeError(result.error));
    else if (payload?.__typename === 'CreatedInvitation') {
      setCreated({ link: invitationLink(payload.token), email: payload.invitation.email, expiresAt: payload.invitation.expiresAt });
      setEmail('');
    } else if (payload?.__typename === 'ConflictError') setErrors({ email: payload.message });
    else if (payload?.__typename === 'ValidationError') {
      const byField = issuesByField(payload.issues);
      setErrors(byField);
      if (byField['']) setFormError(byField['']);
    }
  }

  return (
    <Section title="Invite someone" testId="invite-section">
      <form className="panel form" onSubmit={submit} noValidate data-testid="invite-form">
        <div className="form-inline" style={{ display: 'flex', gap: 12 }}>
          <TextField
            label="Email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            error={errors.email}
            placeholder="colleague@example.com"
            data-testid="invite-email"
          />
          <SelectField
            label="Role"
            value={role}
            onChange={(e) => setRole(e.target.value as Role)}
            error={errors.role}
            hint={ROLE_HELP[role]}
            data-testid="invite-role"
            fieldClassName="field-narrow"
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {capitalize(r)}
              </option>
            ))}
          </SelectField>
          <button type="submit" className="button button-primary" disabled={state.fetching} data-testid="invite-submit">
            {state.fetching ? <Spinner small /> : null}
            Create invitation link
          </button>
        </div>
        {formError ? <Alert>{formError}</Alert> : null}
        {created ? (
          <SecretBox label={`Invitation link for ${created.email}`} secret={created.link} testId="invitation-link">
            Pigeon sends no email: share this link with them yourself. It works once, until <Time value={created.expiresAt} both />. If they
            sign up with this email, they join automatically.
          </SecretBox>
        ) : null}
      </form>
    </Section>
  );
}
