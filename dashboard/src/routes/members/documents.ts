import { graphql } from '../../gql/index.ts';

export const MembersDocument = graphql(`
  query Members($projectId: ID!) {
    project(id: $projectId) {
      id
      viewerRole
      members { id role createdAt user { id email name } }
    }
    invitations(projectId: $projectId) {
      id
      email
      role
      createdAt
      expiresAt
      invitedBy { id email name }
    }
  }
`);

export const InviteMemberDocument = graphql(`
  mutation InviteMember($projectId: ID!, $input: InviteMemberInput!) {
    inviteMember(projectId: $projectId, input: $input) {
      __typename
      ... on CreatedInvitation { token invitation { id email role createdAt expiresAt } }
      ... on ConflictError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const RevokeInvitationDocument = graphql(`
  mutation RevokeInvitation($projectId: ID!, $id: ID!) {
    revokeInvitation(projectId: $projectId, id: $id) {
      __typename
      ... on RevokedInvitation { id }
      ... on NotFoundError { message }
    }
  }
`);

export const UpdateMemberRoleDocument = graphql(`
  mutation UpdateMemberRole($projectId: ID!, $userId: ID!, $role: Role!) {
    updateMemberRole(projectId: $projectId, userId: $userId, role: $role) {
      __typename
      ... on UpdateMemberRoleSuccess { membership { id role } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const RemoveMemberDocument = graphql(`
  mutation RemoveMember($projectId: ID!, $userId: ID!) {
    removeMember(projectId: $projectId, userId: $userId) {
      __typename
      ... on RemovedMember { userId }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const InvitationPreviewDocument = graphql(`
  query InvitationPreview($token: String!) {
    invitation(token: $token) { projectName email role expiresAt }
  }
`);

export const AcceptInvitationDocument = graphql(`
  mutation AcceptInvitation($token: String!) {
    acceptInvitation(token: $token) {
      __typename
      ... on AcceptedInvitation { project { id name viewerRole createdAt environments { id kind } } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

/** Member and invitation changes also change `projects { viewerRole }` (one's own role). */
export const MEMBERS = { additionalTypenames: ['Membership', 'Invitation', 'Project'] };

export function invitationLink(token: string): string {
  return `${window.location.origin}/invitations/${encodeURIComponent(token)}`;
}
