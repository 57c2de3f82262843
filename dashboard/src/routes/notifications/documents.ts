import { graphql } from '../../gql/index.ts';

graphql(`
  fragment NotificationRow on Notification {
    id
    status
    title
    template
    category
    createdAt
    deliveredAt
    read
    archived
    failureReason
    recipient { id externalId name }
  }
`);

export const NotificationsDocument = graphql(`
  query Notifications($environmentId: ID!, $filter: NotificationFilter, $first: Int!, $after: String) {
    notifications(environmentId: $environmentId, filter: $filter, first: $first, after: $after) {
      edges { node { ...NotificationRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const NotificationDetailDocument = graphql(`
  # Page sizes are variables: the API's cost limit multiplies literal first/last, and this nests two.
  query NotificationDetail($environmentId: ID!, $id: ID!, $deliveries: Int = 50, $attempts: Int = 25) {
    notification(environmentId: $environmentId, id: $id) {
      id
      status
      title
      body
      actionUrl
      category
      data
      template
      idempotencyKey
      failureReason
      inboxSeq
      createdAt
      deliveredAt
      seen
      seenAt
      read
      readAt
      archived
      archivedAt
      recipient { id externalId name email unreadCount }
      webhookDeliveries(first: $deliveries) {
        edges {
          node {
            id
            eventType
            status
            attemptCount
            createdAt
            completedAt
            nextAttemptAt
            failureReason
            endpoint { id url }
            attempts(first: $attempts) {
              edges { node { ...AttemptFields } }
              pageInfo { hasNextPage }
            }
          }
        }
        pageInfo { hasNextPage }
      }
    }
  }
`);

export const NOTIFICATIONS = { additionalTypenames: ['Notification'] };
export const PAGE_SIZE = 25;
