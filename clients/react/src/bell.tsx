// <NotificationBell>: a bell with an unread badge and a dropdown of recent notifications.
// Accessible (labelled button with the count, dialog semantics, arrow-key navigation, Escape and
// focus return), themable through CSS variables (see styles.ts), and built only on
// useNotifications — apps that draw their own UI use the hook directly.
import { memo, type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { type UseNotificationsOptions, useNotifications } from './hooks.ts';
import type { InboxItem } from './inbox.ts';
import { useBellStyles } from './styles.ts';
import { formatRelativeTime, plainText, safeActionUrl } from './text.ts';

export interface BellLabels {
  title: string;
  /** The button's accessible name, e.g. "Notifications, 3 unread". */
  button: (unread: number) => string;
  markAllRead: string;
  markRead: string;
  markUnread: string;
  empty: string;
  emptyHint: string;
  loading: string;
  error: string;
  retry: string;
  loadMore: string;
  reconnecting: string;
  offline: string;
  mutationError: (message: string) => string;
}

const DEFAULT_LABELS: BellLabels = {
  title: 'Notifications',
  button: (unread) => (unread > 0 ? `Notifications, ${unread} unread` : 'Notifications'),
  markAllRead: 'Mark all as read',
  markRead: 'Mark as read',
  markUnread: 'Mark as unread',
  empty: "You're all caught up",
  emptyHint: 'New notifications will show up here.',
  loading: 'Loading notifications…',
  error: "Couldn't load notifications.",
  retry: 'Try again',
  loadMore: 'Show more',
  reconnecting: 'Reconnecting…',
  offline: 'Offline — will update when back online',
  mutationError: (message) => `That change didn't go through: ${message}`,
};

export interface NotificationBellProps {
  /**
   * Called instead of a page load when a notification with an action URL is clicked (use your
   * router here). Default: `window.location.assign(url)`.
   */
  onNavigate?: (url: string, item: InboxItem) => void;
  /** Which notifications the dropdown lists and how many per page (default: the inbox, 20). */
  filter?: UseNotificationsOptions['filter'];
  pageSize?: number;
  /** Replace the content of a row (the row itself, its click and keyboard handling stay). */
  renderItem?: (item: InboxItem) => ReactNode;
  /** Texts, for translation. */
  labels?: Partial<BellLabels>;
  /** Extra class on the root element (the styles use `.pigeon-bell` and CSS variables). */
  className?: string;
  /** Where the panel opens relative to the button (default "end": right-aligned in LTR). */
  align?: 'start' | 'end';
}

function badgeText(count: number): string {
  return count > 99 ? '99+' : String(count);
}

function BellIcon() {
  return (
    <svg className="pigeon-bell__icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-1.7 1.7A1 1 0 0 0 4 19.4h16a1 1 0 0 0 .7-1.7Z"
      />
    </svg>
  );
}

interface RowProps {
  item: InboxItem;
  now: number;
  markReadLabel: string;
  markUnreadLabel: string;
  onOpen: (item: InboxItem) => void;
  onToggle: (item: InboxItem) => void;
  renderItem: ((item: InboxItem) => ReactNode) | undefined;
}

/** One row; memoized, so a new notification re-renders only its own row. */
const Row = memo(function Row({ item, now, markReadLabel, markUnreadLabel, onOpen, onToggle, renderItem }: RowProps) {
  const when = item.deliveredAt ?? item.createdAt;
  const title = plainText(item.title);
  const body = plainText(item.body);
  return (
    <li className="pigeon-bell__item" data-pigeon-item="" data-id={item.id} data-unread={item.read ? 'false' : 'true'}>
      <button type="button" className="pigeon-bell__item-action" data-pigeon-item-action="" onClick={() => onOpen(item)}>
        {renderItem ? (
          renderItem(item)
        ) : (
          <span className="pigeon-bell__item-text">
            <span className="pigeon-bell__item-title">
              {!item.read && <span className="pigeon-bell__sr">Unread: </span>}
              {title || body}
            </span>
            {title && body && <span className="pigeon-bell__item-body">{body}</span>}
            <time className="pigeon-bell__item-time" dateTime={when}>
              {formatRelativeTime(when, now)}
            </time>
          </span>
        )}
      </button>
      <button
        type="button"
        className="pigeon-bell__item-toggle"
        data-pigeon-item-toggle=""
        aria-label={item.read ? markUnreadLabel : markReadLabel}
        title={item.read ? markUnreadLabel : markReadLabel}
        onClick={() => onToggle(item)}
      >
        {/* The unread marker is the toggle: a filled dot (click: read) or a ring (click: unread). */}
        <span className="pigeon-bell__marker" aria-hidden="true" />
      </button>
    </li>
  );
});

/**
 * A notification bell: unread badge (99+), a dropdown with recent notifications, mark all read,
 * empty, loading and error states, relative times, and action URL navigation. Put it inside a
 * `<PigeonProvider>`. Theme it with CSS variables on any ancestor, e.g. `--pigeon-accent`.
 *
 * @example
 * ```tsx
 * const navigate = useNavigate();
 * <header>
 *   <NotificationBell onNavigate={(url) => navigate(url)} />
 * </header>
 * ```
 */
export function NotificationBell({
  onNavigate,
  filter,
  pageSize = 20,
  renderItem,
  labels: labelOverrides,
  className,
  align = 'end',
}: NotificationBellProps) {
  useBellStyles();
  const labels = { ...DEFAULT_LABELS, ...labelOverrides };
  const inbox = useNotifications({ ...(filter ? { filter } : {}), pageSize });
  const [open, setOpen] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const panelId = useId();
  const titleId = useId();

  // Latest values for stable callbacks (rows are memoized on them).
  const latest = useRef({ inbox, onNavigate });
  latest.current = { inbox, onNavigate };

  const close = useCallback((returnFocus: boolean) => {
    setOpen(false);
    if (returnFocus) buttonRef.current?.focus();
  }, []);

  const onOpen = useCallback((item: InboxItem) => {
    const { inbox: current, onNavigate: navigate } = latest.current;
    if (!item.read) current.markRead(item.id).catch(() => {});
    const url = safeActionUrl(item.actionUrl);
    if (!url) return;
    // Leaving for the notification's page: the panel closes (an app's router keeps this page mounted).
    setOpen(false);
    if (navigate) navigate(url, item);
    else window.location.assign(url);
  }, []);

  const onToggle = useCallback((item: InboxItem) => {
    const { inbox: current } = latest.current;
    (item.read ? current.markUnread(item.id) : current.markRead(item.id)).catch(() => {});
  }, []);

  // Opening shows the notifications: they are seen.
  useEffect(() => {
    if (open && inbox.unseenCount > 0) latest.current.inbox.markAllSeen().catch(() => {});
  }, [open, inbox.unseenCount]);

  // Relative times stay fresh while the panel is open.
  useEffect(() => {
    if (!open) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, [open]);

  // Focus moves into the panel when it opens.
  useEffect(() => {
    if (!open) return;
    const first = listRef.current?.querySelector<HTMLElement>('[data-pigeon-item-action]');
    (first ?? rootRef.current?.querySelector<HTMLElement>('[data-pigeon-panel]'))?.focus();
  }, [open]);

  // A click outside closes it.
  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) close(false);
    };
    document.addEventListener('pointerdown', onPointer);
    return () => document.removeEventListener('pointerdown', onPointer);
  }, [open, close]);

  const onPanelKeyDown = (event: React.KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      close(true);
      return;
    }
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const actions = [...(listRef.current?.querySelectorAll<HTMLElement>('[data-pigeon-item-action]') ?? [])];
    if (actions.length === 0) return;
    event.preventDefault();
    const index = actions.indexOf(document.activeElement as HTMLElement);
    const next =
      event.key === 'Home'
        ? 0
        : event.key === 'End'
          ? actions.length - 1
          : event.key === 'ArrowDown'
            ? (index + 1) % actions.length
            : (index - 1 + actions.length) % actions.length;
    actions[next]?.focus();
  };

  const unread = inbox.unreadCount;
  const status = inbox.connection === 'offline' ? labels.offline : inbox.connection === 'reconnecting' ? labels.reconnecting : null;

  return (
    <div
      ref={rootRef}
      className={`pigeon-bell${className ? ` ${className}` : ''}`}
      data-pigeon-bell=""
      data-connection={inbox.connection}
      data-align={align}
    >
      <button
        ref={buttonRef}
        type="button"
        className="pigeon-bell__button"
        data-pigeon-bell-button=""
        aria-label={labels.button(unread)}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(event) => {
          if (event.key === 'ArrowDown' && !open) {
            event.preventDefault();
            setOpen(true);
          }
        }}
      >
        <BellIcon />
        {unread > 0 && (
          <span className="pigeon-bell__badge" data-pigeon-badge="" aria-hidden="true">
            {badgeText(unread)}
          </span>
        )}
      </button>
      {open && (
        <div
          id={panelId}
          className="pigeon-bell__panel"
          role="dialog"
          aria-labelledby={titleId}
          data-pigeon-panel=""
          tabIndex={-1}
          onKeyDown={onPanelKeyDown}
        >
          <div className="pigeon-bell__header">
            <h2 id={titleId} className="pigeon-bell__title">
              {labels.title}
            </h2>
            <button
              type="button"
              className="pigeon-bell__mark-all"
              data-pigeon-mark-all=""
              disabled={unread === 0}
              onClick={() => inbox.markAllRead().catch(() => {})}
            >
              {labels.markAllRead}
            </button>
          </div>
          {status && (
            <p className="pigeon-bell__status" role="status" data-pigeon-status="">
              {status}
            </p>
          )}
          {inbox.mutationError && (
            <p className="pigeon-bell__notice" role="alert" data-pigeon-mutation-error="">
              {labels.mutationError(inbox.mutationError.message)}
            </p>
          )}
          {inbox.loading ? (
            <p className="pigeon-bell__state" data-pigeon-loading="" aria-busy="true">
              {labels.loading}
            </p>
          ) : inbox.error && inbox.items.length === 0 ? (
            <div className="pigeon-bell__state" data-pigeon-error="" role="alert">
              <p>{labels.error}</p>
              <button type="button" className="pigeon-bell__link" onClick={() => inbox.refetch()}>
                {labels.retry}
              </button>
            </div>
          ) : inbox.items.length === 0 ? (
            <div className="pigeon-bell__state" data-pigeon-empty="">
              <p className="pigeon-bell__empty-title">{labels.empty}</p>
              <p className="pigeon-bell__empty-hint">{labels.emptyHint}</p>
            </div>
          ) : (
            <ul ref={listRef} className="pigeon-bell__list" data-pigeon-list="" aria-label={labels.title}>
              {inbox.items.map((item) => (
                <Row
                  key={item.id}
                  item={item}
                  now={now}
                  markReadLabel={labels.markRead}
                  markUnreadLabel={labels.markUnread}
                  onOpen={onOpen}
                  onToggle={onToggle}
                  renderItem={renderItem}
                />
              ))}
            </ul>
          )}
          {inbox.hasMore && !inbox.loading && (
            <button
              type="button"
              className="pigeon-bell__more"
              data-pigeon-load-more=""
              disabled={inbox.loadingMore}
              onClick={() => inbox.loadMore()}
            >
              {labels.loadMore}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
