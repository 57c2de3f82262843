// Skeleton of the dashboard (a Vite + React app arrives with the dashboard issue). It speaks
// GraphQL only: it never imports server code or the database client.
export const DASHBOARD_GRAPHQL_PATH = '/graphql';
