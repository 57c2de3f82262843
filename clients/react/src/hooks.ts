// useNotifications: the headless API over the provider's inbox.
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import type { InboxFilter, InboxSnapshot } from './inbox.ts';
import { filterKey } from './inbox.ts';
import { usePigeonInbox } from './provider.tsx';

export interface UseNotificationsOptions {
  /** Which notifications to list (default: the inbox view — not archived, read or not). */
  filter?: InboxFilter;
  /** Page size for the first page and `loadMore` (default 20, at most 100). */
  pageSize?: number;
}

/** Everything `useNotifications` returns. Actions are optimistic and reject (after rolling back) when refused. */
export interface UseNotificationsResult extends InboxSnapshot {
  loadMore(): Promise<void>;
  refetch(): Promise<void>;
  markRead(ids: string | readonly string[]): Promise<void>;
  markUnread(ids: string | readonly string[]): Promise<void>;
  markSeen(ids: string | readonly string[]): Promise<void>;
  archive(ids: string | readonly string[]): Promise<void>;
  unarchive(ids: string | readonly string[]): Promise<void>;
  markAllRead(): Promise<void>;
  markAllSeen(): Promise<void>;
}

const list = (ids: string | readonly string[]): readonly string[] => (typeof ids === 'string' ? [ids] : ids);

/**
 * The signed-in user's notifications, live: items (newest first, paginated), unread and unseen
 * counts, the connection state, and optimistic actions. Several components using the same filter
 * share one list; every list shares one live connection.
 *
 * @example
 * ```tsx
 * function Inbox() {
 *   const { items, unreadCount, markRead, hasMore, loadMore } = useNotifications({ filter: { unread: true } });
 *   return (
 *     <ul>
 *       {items.map((n) => <li key={n.id} onClick={() => markRead(n.id)}>{plainText(n.title)}</li>)}
 *       {hasMore && <button onClick={loadMore}>More</button>}
 *     </ul>
 *   );
 * }
 * ```
 */
export function useNotifications(options: UseNotificationsOptions = {}): UseNotificationsResult {
  const inbox = usePigeonInbox();
  const key = filterKey(options.filter);
  const pageSize = Math.min(100, Math.max(1, options.pageSize ?? 20));
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter is keyed by its content
  const view = useMemo(() => inbox.view(options.filter ?? {}, pageSize), [inbox, key, pageSize]);
  useEffect(() => inbox.retain(view), [inbox, view]);
  const snapshot = useSyncExternalStore(view.subscribe, view.getSnapshot, view.getSnapshot);
  const actions = useMemo(
    () => ({
      loadMore: () => view.loadMore(),
      refetch: () => view.refetch(),
      markRead: (ids: string | readonly string[]) => inbox.mutate('read', list(ids)),
      markUnread: (ids: string | readonly string[]) => inbox.mutate('unread', list(ids)),
      markSeen: (ids: string | readonly string[]) => inbox.mutate('seen', list(ids)),
      archive: (ids: string | readonly string[]) => inbox.mutate('archive', list(ids)),
      unarchive: (ids: string | readonly string[]) => inbox.mutate('unarchive', list(ids)),
      markAllRead: () => inbox.mutate('allRead'),
      markAllSeen: () => inbox.mutate('allSeen'),
    }),
    [inbox, view],
  );
  return useMemo(() => ({ ...snapshot, ...actions }), [snapshot, actions]);
}
