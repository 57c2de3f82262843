import { graphql } from '../../gql/index.ts';

graphql(`
  fragment TemplateFields on Template {
    id
    key
    name
    category
    title
    body
    actionUrl
    createdAt
    updatedAt
  }
`);

export const TemplatesDocument = graphql(`
  query Templates($environmentId: ID!) {
    templates(environmentId: $environmentId) { id key name category createdAt updatedAt }
  }
`);

export const TemplateDocument = graphql(`
  query Template($environmentId: ID!, $key: String!) {
    template(environmentId: $environmentId, key: $key) { ...TemplateFields }
  }
`);

export const CreateTemplateDocument = graphql(`
  mutation CreateTemplate($environmentId: ID!, $input: CreateTemplateInput!) {
    createTemplate(environmentId: $environmentId, input: $input) {
      __typename
      ... on CreateTemplateSuccess { template { ...TemplateFields } }
      ... on ConflictError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const UpdateTemplateDocument = graphql(`
  mutation UpdateTemplate($environmentId: ID!, $id: ID!, $input: UpdateTemplateInput!) {
    updateTemplate(environmentId: $environmentId, id: $id, input: $input) {
      __typename
      ... on UpdateTemplateSuccess { template { ...TemplateFields } }
      ... on ConflictError { message }
      ... on NotFoundError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const DeleteTemplateDocument = graphql(`
  mutation DeleteTemplate($environmentId: ID!, $id: ID!) {
    deleteTemplate(environmentId: $environmentId, id: $id) {
      __typename
      ... on DeletedTemplate { id }
      ... on NotFoundError { message }
    }
  }
`);

export const PreviewTemplateDocument = graphql(`
  mutation PreviewTemplate($environmentId: ID!, $input: PreviewTemplateInput!) {
    previewTemplate(environmentId: $environmentId, input: $input) {
      __typename
      ... on TemplatePreview { title body actionUrl }
      ... on TemplateRenderError { message field kind line column }
      ... on ValidationError { ...Issues }
    }
  }
`);

export const SendTestNotificationDocument = graphql(`
  mutation SendTestNotification($environmentId: ID!, $input: SendInput!) {
    sendTestNotification(environmentId: $environmentId, input: $input) {
      __typename
      ... on SendSuccess { duplicate notification { id status } }
      ... on TemplateNotFoundError { message }
      ... on IdempotencyConflictError { message }
      ... on ValidationError { ...Issues }
    }
  }
`);

/**
 * Where a new template is written. Keys start with a letter or digit, so "_new" can never be an
 * existing template's key (a template may be called "new").
 */
export const NEW_TEMPLATE_PATH = 'templates/_new';

/** Lists that show templates: refetched after any template mutation, even from an empty list. */
export const TEMPLATES = { additionalTypenames: ['Template'] };
