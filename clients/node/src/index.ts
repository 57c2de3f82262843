/**
 * Pigeon's Node SDK. This is the skeleton the SDK issue fills in (typed `send`, client tokens,
 * webhook verification, built on @urql/core from the printed schema); until then, call the GraphQL
 * API directly as README.md shows.
 *
 * @example
 * ```ts
 * import { PIGEON_DEFAULT_BASE_URL } from '@pigeon/node';
 * const endpoint = `${PIGEON_DEFAULT_BASE_URL}/graphql`;
 * ```
 */
export const PIGEON_DEFAULT_BASE_URL = 'http://localhost:4000';
