// The GraphQL operations the Node SDK sends. `graphql()` comes from codegen (`npm run codegen`),
// so each document is typed from schema/schema.graphql and a document that no longer matches the
// schema fails generation.
import { graphql } from './gql/index.ts';

graphql(`
  fragment SdkNotification on Notification {
    id
    status
    recipient { externalId }
    template
    title
    body
    actionUrl
    category
    data
    idempotencyKey
    failureReason
    createdAt
    deliveredAt
    read
    seen
    archived
  }
`);

graphql(`
  fragment SdkWebhookEndpoint on WebhookEndpoint {
    id
    url
    description
    eventTypes
    enabled
    disabledAt
    disabledReason
    failingSince
    previousSecretExpiresAt
    createdAt
    updatedAt
  }
`);

graphql(`
  fragment SdkWebhookDelivery on WebhookDelivery {
    id
    webhookId
    endpointId
    eventType
    status
    attemptCount
    nextAttemptAt
    lastAttemptAt
    completedAt
    failureReason
    createdAt
  }
`);

graphql(`
  fragment SdkErrorFields on Error {
    __typename
    code
    message
    ... on ValidationError { issues { path message } }
    ... on IdempotencyConflictError { idempotencyKey notificationId }
    ... on TemplateNotFoundError { key }
  }
`);

export const SendDocument = graphql(`
  mutation PigeonSend($input: SendInput!) {
    send(input: $input) {
      __typename
      ... on SendSuccess { duplicate notification { ...SdkNotification } }
      ...SdkErrorFields
    }
  }
`);

export const NotificationDocument = graphql(`
  query PigeonNotification($id: ID!) {
    notification(id: $id) { ...SdkNotification }
  }
`);

export const CreateClientTokenDocument = graphql(`
  mutation PigeonCreateClientToken($recipient: String!, $ttlSeconds: Int) {
    createClientToken(recipient: $recipient, ttlSeconds: $ttlSeconds) { token expiresAt recipient { id externalId } }
  }
`);

export const WebhookEventTypesDocument = graphql(`
  query PigeonWebhookEventTypes {
    webhookEventTypes { name description }
  }
`);

export const WebhookEndpointsDocument = graphql(`
  query PigeonWebhookEndpoints {
    webhookEndpoints { ...SdkWebhookEndpoint }
  }
`);

export const WebhookEndpointDocument = graphql(`
  query PigeonWebhookEndpoint($id: ID!) {
    webhookEndpoint(id: $id) { ...SdkWebhookEndpoint }
  }
`);

export const CreateWebhookEndpointDocument = graphql(`
  mutation PigeonCreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) {
      __typename
      ... on CreatedWebhookEndpoint { secret endpoint { ...SdkWebhookEndpoint } }
      ...SdkErrorFields
    }
  }
`);

export const UpdateWebhookEndpointDocument = graphql(`
  mutation PigeonUpdateWebhookEndpoint($id: ID!, $input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(id: $id, input: $input) {
      __typename
      ... on UpdateWebhookEndpointSuccess { endpoint { ...SdkWebhookEndpoint } }
      ...SdkErrorFields
    }
  }
`);

export const DeleteWebhookEndpointDocument = graphql(`
  mutation PigeonDeleteWebhookEndpoint($id: ID!) {
    deleteWebhookEndpoint(id: $id) {
      __typename
      ... on DeletedWebhookEndpoint { id }
      ...SdkErrorFields
    }
  }
`);

export const RevealWebhookEndpointSecretDocument = graphql(`
  mutation PigeonRevealWebhookEndpointSecret($id: ID!) {
    revealWebhookEndpointSecret(id: $id) {
      __typename
      ... on WebhookEndpointSecret { secret previousSecret previousSecretExpiresAt }
      ...SdkErrorFields
    }
  }
`);

export const RotateWebhookEndpointSecretDocument = graphql(`
  mutation PigeonRotateWebhookEndpointSecret($id: ID!, $graceSeconds: Int) {
    rotateWebhookEndpointSecret(id: $id, graceSeconds: $graceSeconds) {
      __typename
      ... on RotatedWebhookEndpointSecret { secret endpoint { ...SdkWebhookEndpoint } }
      ...SdkErrorFields
    }
  }
`);

export const DisableWebhookEndpointDocument = graphql(`
  mutation PigeonDisableWebhookEndpoint($id: ID!, $reason: String) {
    disableWebhookEndpoint(id: $id, reason: $reason) {
      __typename
      ... on DisableWebhookEndpointSuccess { endpoint { ...SdkWebhookEndpoint } }
      ...SdkErrorFields
    }
  }
`);

export const EnableWebhookEndpointDocument = graphql(`
  mutation PigeonEnableWebhookEndpoint($id: ID!) {
    enableWebhookEndpoint(id: $id) {
      __typename
      ... on EnableWebhookEndpointSuccess { endpoint { ...SdkWebhookEndpoint } }
      ...SdkErrorFields
    }
  }
`);

export const SendWebhookTestEventDocument = graphql(`
  mutation PigeonSendWebhookTestEvent($id: ID!, $data: JSON) {
    sendWebhookTestEvent(id: $id, data: $data) {
      __typename
      ... on SendWebhookTestEventSuccess { delivery { ...SdkWebhookDelivery } }
      ...SdkErrorFields
    }
  }
`);

export const RedeliverWebhookDocument = graphql(`
  mutation PigeonRedeliverWebhook($id: ID!) {
    redeliverWebhook(id: $id) {
      __typename
      ... on RedeliverWebhookSuccess { delivery { ...SdkWebhookDelivery } }
      ...SdkErrorFields
    }
  }
`);

export const RecoverWebhookDeliveriesDocument = graphql(`
  mutation PigeonRecoverWebhookDeliveries($id: ID!, $since: DateTime!) {
    recoverWebhookDeliveries(id: $id, since: $since) {
      __typename
      ... on RecoverWebhookDeliveriesSuccess { recovered { count } }
      ...SdkErrorFields
    }
  }
`);

export const WebhookDeliveriesDocument = graphql(`
  query PigeonWebhookDeliveries($filter: WebhookDeliveryFilter, $first: Int, $after: String) {
    webhookDeliveries(filter: $filter, first: $first, after: $after) {
      edges { node { ...SdkWebhookDelivery } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
