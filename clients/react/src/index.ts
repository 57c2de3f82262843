/**
 * Pigeon's React SDK: `<PigeonProvider>` (client tokens from your backend, one live connection
 * per browser), `useNotifications()` (headless, optimistic, live) and `<NotificationBell />`.
 *
 * @example
 * ```tsx
 * import { NotificationBell, PigeonProvider } from '@pigeon/react';
 * <PigeonProvider baseUrl="https://pigeon.example.com" getToken={() => fetch('/api/pigeon-token').then((r) => r.json())}>
 *   <NotificationBell />
 * </PigeonProvider>
 * ```
 *
 * @packageDocumentation
 */
export { PigeonClientError } from './api.ts';
export { type BellLabels, NotificationBell, type NotificationBellProps } from './bell.tsx';
export { type UseNotificationsOptions, type UseNotificationsResult, useNotifications } from './hooks.ts';
export { type InboxFilter, type InboxItem, type InboxSnapshot, PigeonInbox } from './inbox.ts';
export { PigeonProvider, type PigeonProviderProps, usePigeonInbox } from './provider.tsx';
export type { ConnectionState } from './stream.ts';
export { BELL_CSS } from './styles.ts';
export { formatRelativeTime, plainText, safeActionUrl } from './text.ts';
export type { GetToken, TokenResult } from './token.ts';
