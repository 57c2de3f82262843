// Project members and pending invitations. Everyone sees them; OWNERs invite, change roles, remove.
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { Badge, RoleBadge } from '../../components/badge.tsx';
import { ConfirmDialog, useConfirm } from '../../components/dialog.tsx';
import { PageHeader, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { RowAction, Table } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import type { MembersQuery, Role } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { ROLES } from '../../lib/roles.ts';
import { useSession } from '../../lib/session.tsx';
import { capitalize } from '../../lib/text.ts';
import { MEMBERS, MembersDocument, RemoveMemberDocument, RevokeInvitationDocument, UpdateMemberRoleDocument } from './documents.ts';
import { InviteForm } from './invite.tsx';

type Member = NonNullable<MembersQuery['project']>['members'][number];
type Invitation = MembersQuery['invitations'][number];

function RoleSelect({ member, onError }: { member: Member; onError(message: string | null): void }) {
  const { project } = useProject();
  const [state, update] = useMutation(UpdateMemberRoleDocument);
  async function change(role: Role) {
    onError(null);
    const result = await update({ projectId: project.id, userId: member.user.id, role }, MEMBERS);
    const payload = result.data?.updateMemberRole;
    if (result.error) onError(describeError(result.error));
    else if (payload?.__typename === 'ValidationError') onError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload?.__typename === 'NotFoundError') onError(payload.message);
  }
  return (
    <select
      className="input select input-compact"
      value={member.role}
      disabled={state.fetching}
      onChange={(e) => change(e.target.value as Role)}
      aria-label={`Role of ${member.user.email}`}
      data-testid="member-role"
    >
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {capitalize(r)}
        </option>
      ))}
    </select>
  );
}

export function MembersPage() {
  const { project, can } = useProject();
  const session = useSession();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: MembersDocument,
    variables: { projectId: project.id },
    requestPolicy: 'cache-and-network',
    context: MEMBERS,
  });
  const [rowError, setRowError] = useState<string | null>(null);
  const [removeState, remove] = useMutation(RemoveMemberDocument);
  const [revokeState, revoke] = useMutation(RevokeInvitationDocument);
  const removing = useConfirm(async (member: Member) => {
    const res = await remove({ projectId: project.id, userId: member.user.id }, MEMBERS);
    const payload = res.data?.removeMember;
    if (res.error) return describeError(res.error);
    if (payload?.__typename === 'ValidationError') return payload.issues.map((i) => i.message).join(' ') || payload.message;
    if (payload?.__typename === 'NotFoundError') return payload.message;
    if (member.user.id === session.user?.id) navigate('/projects');
    return null;
  });
  const revoking = useConfirm(async (invitation: Invitation) => {
    const res = await revoke({ projectId: project.id, id: invitation.id }, MEMBERS);
    const payload = res.data?.revokeInvitation;
    if (res.error) return describeError(res.error);
    if (payload?.__typename === 'NotFoundError') return payload.message;
    return null;
  });
  const leaving = removing.target?.user.id === session.user?.id;

  return (
    <>
      <PageHeader title="Members" description={`People in ${project.name}. Roles apply to both environments.`} />
      {!can.own ? <Alert tone="info">Only owners invite people and change roles.</Alert> : null}
      {can.own ? <InviteForm /> : null}
      {rowError ? <Alert testId="member-error">{rowError}</Alert> : null}
      <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading members…">
        {(data) => (
          <>
            <Section title="Members">
              <Table
                testId="members-table"
                columns={[{ label: 'Person' }, { label: 'Role' }, { label: 'Joined', optional: true }, { label: 'Actions', hidden: true }]}
              >
                <tbody>
                  {data.project.members.map((m) => {
                    const self = m.user.id === session.user?.id;
                    return (
                      <tr key={m.id} data-testid="member-row">
                        <td>
                          <div>
                            {m.user.name ?? m.user.email} {self ? <Badge tone="info">you</Badge> : null}
                          </div>
                          {m.user.name ? <div className="muted small">{m.user.email}</div> : null}
                        </td>
                        <td>{can.own ? <RoleSelect member={m} onError={setRowError} /> : <RoleBadge role={m.role} />}</td>
                        <td className="col-optional">
                          <Time value={m.createdAt} />
                        </td>
                        <RowAction
                          label={self ? 'Leave the project' : `Remove ${m.user.email}`}
                          testId="remove-member"
                          onClick={can.own ? () => removing.ask(m) : undefined}
                        >
                          {self ? 'Leave' : 'Remove'}
                        </RowAction>
                      </tr>
                    );
                  })}
                </tbody>
              </Table>
            </Section>
            <Section title="Pending invitations" testId="invitations">
              {data.invitations.length === 0 ? (
                <EmptyState title="No pending invitations" />
              ) : (
                <Table
                  testId="invitations-table"
                  columns={[
                    { label: 'Email' },
                    { label: 'Role' },
                    { label: 'Invited by', optional: true },
                    { label: 'Expires' },
                    { label: 'Actions', hidden: true },
                  ]}
                >
                  <tbody>
                    {data.invitations.map((inv) => {
                      const expired = new Date(inv.expiresAt).getTime() <= Date.now();
                      return (
                        <tr key={inv.id} data-testid="invitation-row" className={expired ? 'row-muted' : undefined}>
                          <td>{inv.email}</td>
                          <td>
                            <RoleBadge role={inv.role} />
                          </td>
                          <td className="col-optional">
                            {inv.invitedBy?.name ?? inv.invitedBy?.email ?? <span className="muted">—</span>}
                          </td>
                          <td>{expired ? <Badge tone="danger">expired</Badge> : <Time value={inv.expiresAt} />}</td>
                          <RowAction
                            label={`Revoke the invitation for ${inv.email}`}
                            testId="revoke-invitation"
                            onClick={can.own ? () => revoking.ask(inv) : undefined}
                          >
                            Revoke
                          </RowAction>
                        </tr>
                      );
                    })}
                  </tbody>
                </Table>
              )}
            </Section>
          </>
        )}
      </QueryView>
      <ConfirmDialog
        {...removing.dialog}
        title={leaving ? 'Leave this project?' : 'Remove this member?'}
        confirmLabel={leaving ? 'Leave project' : 'Remove member'}
        busy={removeState.fetching}
      >
        <p>
          {leaving ? 'You lose access to this project at once.' : `${removing.target?.user.email} loses access to ${project.name} at once.`}
        </p>
      </ConfirmDialog>
      <ConfirmDialog {...revoking.dialog} title="Revoke invitation?" confirmLabel="Revoke invitation" busy={revokeState.fetching}>
        <p>The link sent to {revoking.target?.email} stops working.</p>
      </ConfirmDialog>
    </>
  );
}
