// The GraphQL operations of the React SDK, typed by codegen from schema/schema.graphql
// (`npm run codegen` writes ./gql/).
import { graphql } from './gql/index.ts';

graphql(`
  fragment PigeonInboxItem on Notification {
    id
    title
    body
    actionUrl
    category
    data
    template
    createdAt
    deliveredAt
    inboxSeq
    read
    readAt
    seen
    seenAt
    archived
    archivedAt
  }
`);

graphql(`
  fragment PigeonInboxChange on InboxChange {
    cursor
    seq
    unreadCount
    unseenCount
    changed { ...PigeonInboxItem }
  }
`);

export const InboxHeadDocument = graphql(`
  query PigeonInboxHead {
    inbox { cursor seq unreadCount unseenCount }
  }
`);

export const InboxPageDocument = graphql(`
  query PigeonInboxPage($first: Int!, $after: String, $filter: InboxFilter) {
    inbox {
      cursor
      seq
      unreadCount
      unseenCount
      notifications(first: $first, after: $after, filter: $filter) {
        edges { node { ...PigeonInboxItem } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const InboxEventsDocument = graphql(`
  subscription PigeonInboxEvents($after: String) {
    inboxEvents(after: $after) {
      cursor
      seq
      type
      upToSeq
      occurredAt
      reason
      unreadCount
      unseenCount
      notification { ...PigeonInboxItem }
    }
  }
`);

export const MarkReadDocument = graphql(`
  mutation PigeonMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const MarkUnreadDocument = graphql(`
  mutation PigeonMarkUnread($ids: [ID!]!) {
    markUnread(ids: $ids) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const MarkSeenDocument = graphql(`
  mutation PigeonMarkSeen($ids: [ID!]!) {
    markSeen(ids: $ids) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const ArchiveDocument = graphql(`
  mutation PigeonArchive($ids: [ID!]!) {
    archive(ids: $ids) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const UnarchiveDocument = graphql(`
  mutation PigeonUnarchive($ids: [ID!]!) {
    unarchive(ids: $ids) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const MarkAllReadDocument = graphql(`
  mutation PigeonMarkAllRead($upTo: String) {
    markAllRead(upTo: $upTo) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
export const MarkAllSeenDocument = graphql(`
  mutation PigeonMarkAllSeen($upTo: String) {
    markAllSeen(upTo: $upTo) { __typename ...PigeonInboxChange ... on Error { code message } }
  }
`);
