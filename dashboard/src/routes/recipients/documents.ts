import { graphql } from '../../gql/index.ts';

export const RecipientsDocument = graphql(`
  query Recipients($environmentId: ID!, $first: Int!, $after: String, $search: String) {
    recipients(environmentId: $environmentId, first: $first, after: $after, search: $search) {
      edges { node { id externalId name email unreadCount createdAt updatedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const RecipientDocument = graphql(`
  query Recipient($environmentId: ID!, $externalId: String!) {
    recipient(environmentId: $environmentId, externalId: $externalId) {
      id
      externalId
      name
      email
      metadata
      unreadCount
      unseenCount
      createdAt
      updatedAt
    }
  }
`);

export const DeleteRecipientDocument = graphql(`
  mutation DeleteRecipient($environmentId: ID!, $externalId: String!) {
    deleteRecipient(environmentId: $environmentId, externalId: $externalId) {
      __typename
      ... on DeletedRecipient { id externalId notificationsDeleted }
      ... on NotFoundError { message }
    }
  }
`);

export const RECIPIENTS = { additionalTypenames: ['Recipient'] };
