import { graphql } from '../../gql/index.ts';

graphql(`
  fragment EndpointFields on WebhookEndpoint {
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
  fragment DeliveryRow on WebhookDelivery {
    id
    eventType
    status
    attemptCount
    createdAt
    lastAttemptAt
    nextAttemptAt
    completedAt
    failureReason
    endpoint { id url }
    notification { id }
  }
`);

export const WebhookEndpointsDocument = graphql(`
  query WebhookEndpoints($environmentId: ID!) {
    webhookEndpoints(environmentId: $environmentId) { ...EndpointFields }
  }
`);

export const WebhookEventTypesDocument = graphql(`
  query WebhookEventTypes($environmentId: ID!) {
    webhookEventTypes(environmentId: $environmentId) { name description }
  }
`);

export const WebhookEndpointDocument = graphql(`
  query WebhookEndpoint($environmentId: ID!, $id: ID!, $events: Int = 20) {
    webhookEndpoint(environmentId: $environmentId, id: $id) {
      ...EndpointFields
      events(first: $events) { edges { node { id type reason createdAt } } }
    }
  }
`);

export const CreateWebhookEndpointDocument = graphql(`
  mutation CreateWebhookEndpoint($environmentId: ID!, $input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(environmentId: $environmentId, input: $input) {
      __typename
      ... on CreatedWebhookEndpoint { secret endpoint { ...EndpointFields } }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const UpdateWebhookEndpointDocument = graphql(`
  mutation UpdateWebhookEndpoint($environmentId: ID!, $id: ID!, $input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(environmentId: $environmentId, id: $id, input: $input) {
      __typename
      ... on UpdateWebhookEndpointSuccess { endpoint { ...EndpointFields } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const DeleteWebhookEndpointDocument = graphql(`
  mutation DeleteWebhookEndpoint($environmentId: ID!, $id: ID!) {
    deleteWebhookEndpoint(environmentId: $environmentId, id: $id) {
      __typename
      ... on DeletedWebhookEndpoint { id }
      ... on NotFoundError { message }
    }
  }
`);

export const RevealWebhookEndpointSecretDocument = graphql(`
  mutation RevealWebhookEndpointSecret($environmentId: ID!, $id: ID!) {
    revealWebhookEndpointSecret(environmentId: $environmentId, id: $id) {
      __typename
      ... on WebhookEndpointSecret { secret previousSecret previousSecretExpiresAt }
      ... on NotFoundError { message }
    }
  }
`);

export const RotateWebhookEndpointSecretDocument = graphql(`
  mutation RotateWebhookEndpointSecret($environmentId: ID!, $id: ID!, $graceSeconds: Int) {
    rotateWebhookEndpointSecret(environmentId: $environmentId, id: $id, graceSeconds: $graceSeconds) {
      __typename
      ... on RotatedWebhookEndpointSecret { secret endpoint { ...EndpointFields } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const DisableWebhookEndpointDocument = graphql(`
  mutation DisableWebhookEndpoint($environmentId: ID!, $id: ID!, $reason: String) {
    disableWebhookEndpoint(environmentId: $environmentId, id: $id, reason: $reason) {
      __typename
      ... on DisableWebhookEndpointSuccess { endpoint { ...EndpointFields } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const EnableWebhookEndpointDocument = graphql(`
  mutation EnableWebhookEndpoint($environmentId: ID!, $id: ID!) {
    enableWebhookEndpoint(environmentId: $environmentId, id: $id) {
      __typename
      ... on EnableWebhookEndpointSuccess { endpoint { ...EndpointFields } }
      ... on NotFoundError { message }
    }
  }
`);

export const SendWebhookTestEventDocument = graphql(`
  mutation SendWebhookTestEvent($environmentId: ID!, $id: ID!, $data: JSON) {
    sendWebhookTestEvent(environmentId: $environmentId, id: $id, data: $data) {
      __typename
      ... on SendWebhookTestEventSuccess { delivery { ...DeliveryRow } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const RedeliverWebhookDocument = graphql(`
  mutation RedeliverWebhook($environmentId: ID!, $id: ID!) {
    redeliverWebhook(environmentId: $environmentId, id: $id) {
      __typename
      ... on RedeliverWebhookSuccess { delivery { ...DeliveryRow } }
      ... on ConflictError { message }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const RecoverWebhookDeliveriesDocument = graphql(`
  mutation RecoverWebhookDeliveries($environmentId: ID!, $id: ID!, $since: DateTime!) {
    recoverWebhookDeliveries(environmentId: $environmentId, id: $id, since: $since) {
      __typename
      ... on RecoverWebhookDeliveriesSuccess { recovered { count } }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const WebhookDeliveriesDocument = graphql(`
  query WebhookDeliveries($environmentId: ID!, $filter: WebhookDeliveryFilter, $first: Int!, $after: String) {
    webhookDeliveries(environmentId: $environmentId, filter: $filter, first: $first, after: $after) {
      edges { node { ...DeliveryRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const WebhookDeliveryDocument = graphql(`
  query WebhookDelivery($environmentId: ID!, $id: ID!, $attempts: Int = 100) {
    webhookDelivery(environmentId: $environmentId, id: $id) {
      ...DeliveryRow
      webhookId
      payload
      endpoint { id url enabled }
      notification { id recipient { externalId } }
      attempts(first: $attempts) {
        edges { node { ...AttemptFields } }
        pageInfo { hasNextPage }
      }
    }
  }
`);

export const ENDPOINTS = { additionalTypenames: ['WebhookEndpoint'] };
export const DELIVERIES = { additionalTypenames: ['WebhookDelivery', 'WebhookAttempt'] };
