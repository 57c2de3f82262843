// Project members: invitations shared as links (accepted by the invited email, or claimed when it
// signs up), role changes, removals, and the rule that a project always keeps an OWNER.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createTestApi, signUp, type Tenant, type TestApi, uniqueName } from './harness.ts';

let api: TestApi;
let tenant: Tenant;

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
});

afterAll(async () => {
  await api?.close();
});

const INVITE = `mutation($p: ID!, $input: InviteMemberInput!) {
  inviteMember(projectId: $p, input: $input) {
    __typename
    ... on CreatedInvitation { token invitation { id email role expiresAt invitedBy { id } } }
    ... on Error { code message }
  }
}`;

async function invite(email: string, role: 'OWNER' | 'ADMIN' | 'MEMBER', headers = tenant.sessionHeaders, projectId = tenant.projectId) {
  const r = await api.gql(INVITE, { p: projectId, input: { email, role } }, headers);
  return r.body.data?.inviteMember;
}

async function members(projectId = tenant.projectId, headers = tenant.sessionHeaders) {
  const r = await api.gql('query($id: ID!) { project(id: $id) { members { role user { id email } } } }', { id: projectId }, headers);
  return (r.body.data?.project?.members ?? []) as { role: string; user: { id: string; email: string } }[];
}

async function roleOf(userId: string, projectId = tenant.projectId) {
  return (await members(projectId)).find((m) => m.user.id === userId)?.role ?? null;
}

const email = () => `${uniqueName('person')}@example.com`;

describe('invitations', () => {
  it('are claimed when the invited email signs up, with the invited role', async () => {
    const address = email();
    const created = await invite(address.toUpperCase(), 'ADMIN');
    expect(created.__typename).toBe('CreatedInvitation');
    expect(created.invitation).toMatchObject({ email: address, role: 'ADMIN', invitedBy: { id: tenant.userId } });
    expect(created.token.length).toBeGreaterThan(20);

    // The link's preview needs no login.
    const preview = await api.gql('query($t: String!) { invitation(token: $t) { projectName email role } }', { t: created.token });
    expect(preview.body.data.invitation).toEqual({ projectName: 'Acme', email: address, role: 'ADMIN' });
    const pending = await api.gql(
      'query($p: ID!) { invitations(projectId: $p) { email } }',
      { p: tenant.projectId },
      tenant.sessionHeaders,
    );
    expect(pending.body.data.invitations.map((i: { email: string }) => i.email)).toContain(address);

    const user = await signUp(api, address);
    expect(await roleOf(user.userId)).toBe('ADMIN');
    // Claimed: the link is used up and the invitation is no longer pending.
    const after = await api.gql('query($t: String!) { invitation(token: $t) { email } }', { t: created.token });
    expect(after.body.data.invitation).toBeNull();
    const projects = await api.gql('{ projects { id viewerRole } }', {}, user.headers);
    expect(projects.body.data.projects).toContainEqual({ id: tenant.projectId, viewerRole: 'ADMIN' });
  });

  it('are accepted through the link by an existing user with that email, and only by them', async () => {
    const invitee = await signUp(api, email());
    const stranger = await signUp(api, email());
    const { token } = await invite(invitee.email, 'MEMBER');
    const ACCEPT = `mutation($t: String!) { acceptInvitation(token: $t) { __typename ... on AcceptedInvitation { project { id name } } ... on Error { code message } } }`;

    const wrong = await api.gql(ACCEPT, { t: token }, stranger.headers);
    expect(wrong.body.data.acceptInvitation).toMatchObject({ __typename: 'ValidationError' });
    expect(wrong.body.data.acceptInvitation.message).toContain(invitee.email);
    expect(await roleOf(stranger.userId)).toBeNull();

    const accepted = await api.gql(ACCEPT, { t: token }, invitee.headers);
    expect(accepted.body.data.acceptInvitation).toEqual({
      __typename: 'AcceptedInvitation',
      project: { id: tenant.projectId, name: 'Acme' },
    });
    expect(await roleOf(invitee.userId)).toBe('MEMBER');

    const again = await api.gql(ACCEPT, { t: token }, invitee.headers);
    expect(again.body.data.acceptInvitation).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
  });

  it('replace the earlier link when the same email is invited again, and stop working when revoked or expired', async () => {
    const address = email();
    const first = await invite(address, 'MEMBER');
    const second = await invite(address, 'ADMIN');
    expect(second.invitation.id).toBe(first.invitation.id);
    const preview = (t: string) => api.gql('query($t: String!) { invitation(token: $t) { role } }', { t });
    expect((await preview(first.token)).body.data.invitation).toBeNull();
    expect((await preview(second.token)).body.data.invitation).toEqual({ role: 'ADMIN' });

    const revoked = await api.gql(
      'mutation($p: ID!, $id: ID!) { revokeInvitation(projectId: $p, id: $id) { __typename ... on RevokedInvitation { id } } }',
      { p: tenant.projectId, id: second.invitation.id },
      tenant.sessionHeaders,
    );
    expect(revoked.body.data.revokeInvitation).toEqual({ __typename: 'RevokedInvitation', id: second.invitation.id });
    expect((await preview(second.token)).body.data.invitation).toBeNull();
    const user = await signUp(api, address);
    expect(await roleOf(user.userId)).toBeNull();

    const late = email();
    const expiring = await invite(late, 'MEMBER');
    await api.db.prisma.invitation.update({ where: { id: expiring.invitation.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await preview(expiring.token)).body.data.invitation).toBeNull();
    const lateUser = await signUp(api, late);
    expect(await roleOf(lateUser.userId)).toBeNull();
  });

  it('refuse someone who is already a member, and bad input, with typed errors', async () => {
    const member = await signUp(api, email());
    const { token } = await invite(member.email, 'MEMBER');
    await api.gql('mutation($t: String!) { acceptInvitation(token: $t) { __typename } }', { t: token }, member.headers);
    expect(await invite(member.email, 'ADMIN')).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    expect(await invite('not an email', 'ADMIN')).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
    const stored = await api.db.prisma.invitation.count({ where: { projectId: tenant.projectId, email: member.email } });
    expect(stored).toBe(0);
  });

  it('are managed by OWNERs only', async () => {
    const admin = await signUp(api, email());
    const { token } = await invite(admin.email, 'ADMIN');
    await api.gql('mutation($t: String!) { acceptInvitation(token: $t) { __typename } }', { t: token }, admin.headers);
    const r = await api.gql(INVITE, { p: tenant.projectId, input: { email: email(), role: 'OWNER' } }, admin.headers);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // MEMBERs and ADMINs may see who is invited.
    const list = await api.gql('query($p: ID!) { invitations(projectId: $p) { id } }', { p: tenant.projectId }, admin.headers);
    expect(list.body.errors).toBeUndefined();
  });
});

describe('roles and removal', () => {
  const UPDATE = `mutation($p: ID!, $u: ID!, $r: Role!) { updateMemberRole(projectId: $p, userId: $u, role: $r) {
    __typename ... on UpdateMemberRoleSuccess { membership { role user { id } } } ... on Error { code message } } }`;
  const REMOVE = `mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) {
    __typename ... on RemovedMember { userId } ... on Error { code message } } }`;

  async function projectWithMember(role: 'OWNER' | 'ADMIN' | 'MEMBER') {
    const owner = await createTenant(api);
    const other = await signUp(api, email());
    const { token } = await invite(other.email, role, owner.sessionHeaders, owner.projectId);
    await api.gql('mutation($t: String!) { acceptInvitation(token: $t) { __typename } }', { t: token }, other.headers);
    return { owner, other };
  }

  it('changes a role, and the new role applies at once', async () => {
    const { owner, other } = await projectWithMember('MEMBER');
    const keys = `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "k" }) { __typename } }`;
    expect((await api.gql(keys, { e: owner.developmentId }, other.headers)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const r = await api.gql(UPDATE, { p: owner.projectId, u: other.userId, r: 'ADMIN' }, owner.sessionHeaders);
    expect(r.body.data.updateMemberRole).toEqual({
      __typename: 'UpdateMemberRoleSuccess',
      membership: { role: 'ADMIN', user: { id: other.userId } },
    });
    expect((await api.gql(keys, { e: owner.developmentId }, other.headers)).body.data.createApiKey.__typename).toBe('CreatedApiKey');
  });

  it('removes a member, whose access ends at once', async () => {
    const { owner, other } = await projectWithMember('ADMIN');
    const r = await api.gql(REMOVE, { p: owner.projectId, u: other.userId }, owner.sessionHeaders);
    expect(r.body.data.removeMember).toEqual({ __typename: 'RemovedMember', userId: other.userId });
    const read = await api.gql('query($id: ID!) { project(id: $id) { name } }', { id: owner.projectId }, other.headers);
    expect(read.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const again = await api.gql(REMOVE, { p: owner.projectId, u: other.userId }, owner.sessionHeaders);
    expect(again.body.data.removeMember).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('never leaves a project without an OWNER, even when two owners demote each other at once', async () => {
    const { owner, other } = await projectWithMember('OWNER');
    const lone = await createTenant(api);
    const demoteSelf = await api.gql(UPDATE, { p: lone.projectId, u: lone.userId, r: 'MEMBER' }, lone.sessionHeaders);
    expect(demoteSelf.body.data.updateMemberRole).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
    const removeSelf = await api.gql(REMOVE, { p: lone.projectId, u: lone.userId }, lone.sessionHeaders);
    expect(removeSelf.body.data.removeMember).toMatchObject({ __typename: 'ValidationError' });
    const kept = await api.db.prisma.membership.findUnique({
      where: { projectId_userId: { projectId: lone.projectId, userId: lone.userId } },
    });
    expect(kept?.role).toBe('OWNER');

    const [a, b] = await Promise.all([
      api.gql(UPDATE, { p: owner.projectId, u: other.userId, r: 'MEMBER' }, owner.sessionHeaders),
      api.gql(UPDATE, { p: owner.projectId, u: owner.userId, r: 'MEMBER' }, other.headers),
    ]);
    const outcome = (r: typeof a) => r.body.data?.updateMemberRole?.__typename ?? r.body.errors?.[0]?.extensions?.code;
    const outcomes = [outcome(a), outcome(b)];
    // One demotion wins; the other either finds its caller no longer an OWNER or the last OWNER left.
    expect(outcomes.filter((o) => o === 'UpdateMemberRoleSuccess')).toHaveLength(1);
    const owners = (await api.db.prisma.membership.findMany({ where: { projectId: owner.projectId, role: 'OWNER' } })).length;
    expect(owners).toBe(1);
  });
});
