// Project members and pending invitations. Everyone sees them; OWNERs invite, change roles, remove.
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { Badge, RoleBadge } from '../../components/badge.tsx';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { PageHeader, Section } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { MembersQuery, Role } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { ROLES } from '../../lib/roles.ts';
import { useSession } from '../../lib/session.tsx';
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
          {r.charAt(0) + r.slice(1).toLowerCase()}
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
  const [removing, setRemoving] = useState<Member | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [removeState, remove] = useMutation(RemoveMemberDocument);
  const [revokeState, revoke] = useMutation(RevokeInvitationDocument);

  async function confirmRemove() {
    if (!removing) return;
    setDialogError(null);
    const res = await remove({ projectId: project.id, userId: removing.user.id }, MEMBERS);
    const payload = res.data?.removeMember;
    if (res.error) setDialogError(describeError(res.error));
    else if (payload?.__typename === 'ValidationError') setDialogError(payload.issues.map((i) => i.message).join(' ') || payload.message);
    else if (payload?.__typename === 'NotFoundError') setDialogError(payload.message);
    else {
      const self = removing.user.id === session.user?.id;
      setRemoving(null);
      if (self) navigate('/projects');
    }
  }

  async function confirmRevoke() {
    if (!revoking) return;
    setDialogError(null);
    const res = await revoke({ projectId: project.id, id: revoking.id }, MEMBERS);
    const payload = res.data?.revokeInvitation;
    if (res.error) setDialogError(describeError(res.error));
    else if (payload?.__typename === 'NotFoundError') setDialogError(payload.message);
    else setRevoking(null);
  }

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
              <div className="table-wrap">
                <table className="table" data-testid="members-table">
                  <thead>
                    <tr>
                      <th scope="col">Person</th>
                      <th scope="col">Role</th>
                      <th scope="col" className="col-optional">
                        Joined
                      </th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
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
                          <td className="cell-actions">
                            {can.own ? (
                              <button
                                type="button"
                                className="button button-small button-danger-ghost"
                                onClick={() => setRemoving(m)}
                                aria-label={self ? 'Leave the project' : `Remove ${m.user.email}`}
                                data-testid="remove-member"
                              >
                                {self ? 'Leave' : 'Remove'}
                              </button>
                            ) : null}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </Section>
            <Section title="Pending invitations" testId="invitations">
              {data.invitations.length === 0 ? (
                <EmptyState title="No pending invitations" />
              ) : (
                <div className="table-wrap">
                  <table className="table" data-testid="invitations-table">
                    <thead>
                      <tr>
                        <th scope="col">Email</th>
                        <th scope="col">Role</th>
                        <th scope="col" className="col-optional">
                          Invited by
                        </th>
                        <th scope="col">Expires</th>
                        <th scope="col">
                          <span className="visually-hidden">Actions</span>
                        </th>
                      </tr>
                    </thead>
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
                            <td className="cell-actions">
                              {can.own ? (
                                <button
                                  type="button"
                                  className="button button-small button-danger-ghost"
                                  onClick={() => setRevoking(inv)}
                                  aria-label={`Revoke the invitation for ${inv.email}`}
                                  data-testid="revoke-invitation"
                                >
                                  Revoke
                                </button>
                              ) : null}
                            </td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
            </Section>
          </>
        )}
      </QueryView>
      <ConfirmDialog
        open={removing !== null}
        title={removing?.user.id === session.user?.id ? 'Leave this project?' : 'Remove this member?'}
        confirmLabel={removing?.user.id === session.user?.id ? 'Leave project' : 'Remove member'}
        busy={removeState.fetching}
        error={dialogError}
        onConfirm={confirmRemove}
        onClose={() => {
          setRemoving(null);
          setDialogError(null);
        }}
      >
        <p>
          {removing?.user.id === session.user?.id
            ? 'You lose access to this project at once.'
            : `${removing?.user.email} loses access to ${project.name} at once.`}
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke invitation?"
        confirmLabel="Revoke invitation"
        busy={revokeState.fetching}
        error={dialogError}
        onConfirm={confirmRevoke}
        onClose={() => {
          setRevoking(null);
          setDialogError(null);
        }}
      >
        <p>The link sent to {revoking?.email} stops working.</p>
      </ConfirmDialog>
    </>
  );
}
