// Selections shared by many documents.
import { graphql } from '../gql/index.ts';

graphql(`
  fragment Issues on ValidationError {
    message
    issues { path message }
  }
`);

graphql(`
  fragment AttemptFields on WebhookAttempt {
    id
    startedAt
    durationMs
    trigger
    url
    requestHeaders
    requestBody
    responseStatus
    responseHeaders
    responseBody
    responseBodyTruncated
    errorClass
    errorMessage
  }
`);
