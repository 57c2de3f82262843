/**
 * Pigeon's React SDK. Skeleton: the provider, `useNotifications` and `<NotificationBell />` arrive
 * with the SDK issue; this package typechecks with the rest of the workspace meanwhile.
 *
 * @example
 * ```ts
 * import { PIGEON_STREAM_PATH } from '@pigeon/react';
 * ```
 */
export const PIGEON_STREAM_PATH = '/graphql/stream';
