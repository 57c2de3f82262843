// The inbox store: what the hook and the bell show, kept equal to the server's state.
//
// Reconciliation rule: every piece of state carries the inbox sequence number it is known at.
// - Each notification's state has `stateSeq`; an event or answer changes it only when its sequence
//   number is newer. Fetched pages are snapshots at the `seq` read in the same query (read before
//   the page, so the page is at least that new; the events after it are replayed on top).
// - The counts carry `countsSeq` the same way.
// - Optimistic changes are a layer of pending operations over that confirmed state: the view is
//   confirmed state + pending operations. The server's answer confirms (and the operation leaves the
//   layer) or refuses (the operation leaves the layer and the view rolls back by itself). A pending
//   operation's effect on the counts is dropped as soon as the event carrying that change arrives,
//   so the count never moves twice.
// The live stream applies events strictly in sequence: a duplicate is skipped, a gap makes the
// leader resubscribe from its last cursor (the server replays) and a follower tab refetch.
import { type Api, PigeonClientError } from './api.ts';
import * as doc from './documents.ts';
import type { InboxFilter as GqlInboxFilter, PigeonInboxChangeFragment, PigeonInboxItemFragment } from './gql/graphql.ts';
import { TabCoordinator } from './leader.ts';
import { type ConnectionState, type InboxEventData, LiveStream } from './stream.ts';
import type { TokenManager } from './token.ts';

/** One notification of the inbox. `title` and `body` are HTML with escaped text (see `plainText`). */
export type InboxItem = PigeonInboxItemFragment;

/** Which notifications a list shows. Unset `archived` (or false) hides archived ones. */
export type InboxFilter = GqlInboxFilter;

/** What `useNotifications` returns, minus the actions. */
export interface InboxSnapshot {
  /** Newest first. Objects keep their identity until that notification changes. */
  items: readonly InboxItem[];
  unreadCount: number;
  unseenCount: number;
  connection: ConnectionState;
  /** True until the first page has loaded. */
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  /** Why the list could not load (null when it did). */
  error: PigeonClientError | null;
  /** The last refused change (rolled back), until the next change succeeds. */
  mutationError: PigeonClientError | null;
}

interface Entry {
  item: InboxItem;
  stateSeq: number;
}

type OpKind = 'read' | 'unread' | 'seen' | 'archive' | 'unarchive' | 'allRead' | 'allSeen';

interface PendingOp {
  kind: OpKind;
  /** The notifications it changes (by-id operations). */
  targets: ReadonlySet<string>;
  /** All-operations: notifications delivered at or before this sequence number. */
  upToSeq: number;
  /** Effect on the counts not yet confirmed by an event, per notification (or '*' for all-operations). */
  unread: Map<string, number>;
  unseen: Map<string, number>;
}

const OVERLAY: Record<OpKind, Partial<InboxItem>> = {
  read: { read: true, seen: true },
  unread: { read: false },
  seen: { seen: true },
  archive: { archived: true },
  unarchive: { archived: false },
  allRead: { read: true, seen: true },
  allSeen: { seen: true },
};

/** The event type that confirms each operation for one notification. */
const CONFIRMED_BY: Record<string, OpKind[]> = {
  READ: ['read'],
  UNREAD: ['unread'],
  SEEN: ['seen'],
  ARCHIVED: ['archive'],
  UNARCHIVED: ['unarchive'],
};

function matches(item: InboxItem, filter: InboxFilter): boolean {
  if (item.archived !== (filter.archived === true)) return false;
  if (filter.unread != null && item.read === filter.unread) return false;
  if (filter.category != null && item.category !== filter.category) return false;
  return true;
}

function sameItem(a: InboxItem, b: InboxItem): boolean {
  for (const key of Object.keys(b) as (keyof InboxItem)[]) {
    if (key === 'data' ? JSON.stringify(a.data) !== JSON.stringify(b.data) : a[key] !== b[key]) return false;
  }
  return true;
}

/** Newest first: ids are UUIDv7, so their text order is their time order. */
function newerFirst(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

export function filterKey(filter: InboxFilter = {}): string {
  return JSON.stringify([filter.archived === true, filter.unread ?? null, filter.category ?? null]);
}

export interface InboxOptions {
  baseUrl: string;
  api: Api;
  tokens: TokenManager;
  /** Share one stream among the tabs of this browser (default true). */
  shareStream: boolean;
}

/**
 * One user's inbox in this tab: the store, the live stream (or the leader tab's), the actions.
 * `<PigeonProvider>` creates it; reach it with `usePigeonInbox()` for what the hook does not cover.
 *
 * @example
 * ```tsx
 * const inbox = usePigeonInbox();
 * <button onClick={() => inbox.refresh()}>Refresh</button>
 * ```
 */
export class PigeonInbox {
  readonly #options: InboxOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #views = new Map<string, InboxView>();
  #pending: PendingOp[] = [];
  #counts = { unread: 0, unseen: 0, seq: -1 };
  #lastSeq: number | null = null;
  #lastCursor: string | null = null;
  #connection: ConnectionState = 'connecting';
  #everLive = false;
  #mutationError: PigeonClientError | null = null;
  #stream: LiveStream | null = null;
  #tabs: TabCoordinator | null = null;
  #started = false;
  #startError: PigeonClientError | null = null;
  #lastRefresh = 0;
  #generation = 0;

  constructor(options: InboxOptions) {
    this.#options = options;
  }

  // ---- lifecycle ----

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const generation = ++this.#generation;
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', this.#onVisibility);
    void this.#begin(generation);
  }

  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#generation++;
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this.#onVisibility);
    this.#stream?.stop();
    this.#stream = null;
    this.#tabs?.stop();
    this.#tabs = null;
  }

  async #begin(generation: number): Promise<void> {
    let failures = 0;
    // The stream resumes from the cursor read here, so nothing between this read and the stream is missed.
    while (this.#started && generation === this.#generation) {
      try {
        const token = await this.#options.tokens.get();
        const { inbox } = await this.#options.api.run(doc.InboxHeadDocument, {});
        if (generation !== this.#generation) return;
        if (this.#lastSeq === null || inbox.seq > this.#lastSeq) {
          this.#lastSeq = inbox.seq;
          this.#lastCursor = inbox.cursor;
        }
        this.#setCounts(inbox.seq, inbox.unreadCount, inbox.unseenCount);
        this.#startError = null;
        this.#startLive(`pigeon-inbox:${this.#options.baseUrl}:${token.audience}:${token.subject}`);
        for (const view of this.#views.values()) void view.refetch();
        this.#emit();
        return;
      } catch (error) {
        this.#startError = asClientError(error);
        this.#connection = 'reconnecting';
        this.#emit();
        failures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** failures)));
      }
    }
  }

  #startLive(lockKey: string): void {
    const stream = new LiveStream(this.#options.baseUrl, this.#options.tokens, {
      cursor: () => this.#lastCursor,
      onEvent: (event) => {
        const outcome = this.#apply(event, 'stream');
        if (outcome === 'ok') this.#tabs?.broadcast({ kind: 'event', event });
        return outcome;
      },
      onState: (state) => {
        this.#setConnection(state);
        this.#tabs?.broadcast({ kind: 'state', state });
      },
    });
    if (!this.#options.shareStream) {
      this.#stream = stream;
      stream.start();
      return;
    }
    this.#tabs = new TabCoordinator(lockKey, {
      lead: () => {
        // Became the leader (first tab, or the previous leader closed): catch up, then go live.
        this.#stream = stream;
        stream.start();
      },
      relayed: (event) => this.#apply(event, 'relay'),
      leaderState: (state) => this.#setConnection(state),
      greeted: () => this.#tabs?.broadcast({ kind: 'state', state: this.#connection }),
    });
    this.#tabs.start();
  }

  readonly #onVisibility = (): void => {
    if (document.visibilityState !== 'visible') return;
    // A hidden tab may have been frozen or throttled: refetch, and reconnect now if waiting.
    this.#stream?.reconnectNow();
    if (Date.now() - this.#lastRefresh > 2_000) void this.refresh();
  };

  /** Refetches the counts and every list's first page. */
  async refresh(): Promise<void> {
    this.#lastRefresh = Date.now();
    await Promise.all([...this.#views.values()].map((view) => view.refetch()));
  }

  // ---- views ----

  /** The list for one filter, shared by every hook using the same filter; hooks `retain` it while mounted. */
  view(filter: InboxFilter, pageSize: number): InboxView {
    const key = `${filterKey(filter)}:${pageSize}`;
    let view = this.#views.get(key);
    if (!view) {
      view = new InboxView(this, key, filter, pageSize);
      this.#views.set(key, view);
      this.#dropLater(view);
      if (this.#started && this.#lastSeq !== null) void view.refetch();
    }
    return view;
  }

  /** Keeps a view alive and updated; returns its release. */
  retain(view: InboxView): () => void {
    view.refs++;
    if (this.#views.get(view.key) !== view) {
      this.#views.set(view.key, view);
      if (this.#started && this.#lastSeq !== null) void view.refetch();
    }
    return () => {
      view.refs--;
      this.#dropLater(view);
    };
  }

  /** Forgets a view nobody retains, after a delay so a remount (StrictMode, a route change) reuses it. */
  #dropLater(view: InboxView): void {
    setTimeout(() => {
      if (view.refs === 0 && this.#views.get(view.key) === view) this.#views.delete(view.key);
    }, 5_000);
  }

  // ---- state read by views ----

  /** Whether this tab holds the live stream (false in a follower tab, which gets the leader's events). */
  get holdsStream(): boolean {
    return this.#stream?.running ?? false;
  }

  get connection(): ConnectionState {
    return this.#connection;
  }
  get mutationError(): PigeonClientError | null {
    return this.#mutationError;
  }
  get startError(): PigeonClientError | null {
    return this.#startError;
  }

  /** The counts as shown: confirmed counts plus pending operations' unconfirmed effects. */
  get counts(): { unread: number; unseen: number } {
    let unread = this.#counts.unread;
    let unseen = this.#counts.unseen;
    for (const op of this.#pending) {
      for (const delta of op.unread.values()) unread += delta;
      for (const delta of op.unseen.values()) unseen += delta;
    }
    return { unread: Math.max(0, unread), unseen: Math.max(0, unseen) };
  }

  entry(id: string): Entry | undefined {
    return this.#entries.get(id);
  }

  /**
   * What pending operations change in this notification: the fields that differ from it, with a
   * stable signature of them. Null when they change nothing here (e.g. "mark all seen" over an item
   * already seen), so the item keeps its identity and its row does not re-render.
   */
  overlay(item: InboxItem): { signature: string; fields: Partial<InboxItem> } | null {
    let fields: Partial<InboxItem> = {};
    for (const op of this.#pending) {
      const applies =
        op.kind === 'allRead' || op.kind === 'allSeen' ? item.inboxSeq !== null && item.inboxSeq <= op.upToSeq : op.targets.has(item.id);
      if (applies) fields = { ...fields, ...OVERLAY[op.kind] };
    }
    const changed = (Object.entries(fields) as [keyof InboxItem, unknown][]).filter(([key, value]) => item[key] !== value);
    if (changed.length === 0) return null;
    return { signature: changed.map(([key, value]) => `${key}=${String(value)}`).join(';'), fields: Object.fromEntries(changed) };
  }

  async fetchPage(filter: InboxFilter, first: number, after: string | null) {
    const { inbox } = await this.#options.api.run(doc.InboxPageDocument, { first, after, filter });
    const snapshotSeq = inbox.seq;
    this.#setCounts(snapshotSeq, inbox.unreadCount, inbox.unseenCount);
    const ids: string[] = [];
    for (const { node } of inbox.notifications.edges) {
      this.#upsert(node, snapshotSeq);
      ids.push(node.id);
    }
    return {
      ids,
      snapshotSeq,
      hasMore: inbox.notifications.pageInfo.hasNextPage,
      endCursor: inbox.notifications.pageInfo.endCursor ?? null,
    };
  }

  // ---- applying what the server says ----

  #upsert(item: InboxItem, seq: number): boolean {
    const existing = this.#entries.get(item.id);
    if (existing && seq < existing.stateSeq) return false;
    if (existing && sameItem(existing.item, item)) {
      existing.stateSeq = seq;
      return false;
    }
    this.#entries.set(item.id, { item, stateSeq: seq });
    return true;
  }

  #setCounts(seq: number, unread: number, unseen: number): void {
    if (seq < this.#counts.seq) return;
    this.#counts = { unread, unseen, seq };
  }

  #setConnection(state: ConnectionState): void {
    if (state === this.#connection) return;
    const back = state === 'live' && this.#everLive;
    if (state === 'live') this.#everLive = true;
    this.#connection = state;
    this.#emit();
    // Back after an outage of the leader tab's stream: it replays what was missed and relays it,
    // but a follower refetches too, in case it was frozen while the relay went by.
    if (back && !this.#stream?.running) void this.refresh();
  }

  /** Applies one inbox event. From the stream a gap returns 'gap' (resubscribe); relayed, it refetches. */
  #apply(event: InboxEventData, from: 'stream' | 'relay'): 'ok' | 'gap' {
    if (this.#lastSeq !== null && event.seq <= this.#lastSeq && event.type !== 'RESYNC') return 'ok';
    if (event.type === 'RESYNC') {
      this.#lastSeq = event.seq;
      this.#lastCursor = event.cursor;
      this.#setCounts(event.seq, event.unreadCount, event.unseenCount);
      void this.refresh();
      this.#emit();
      return 'ok';
    }
    if (this.#lastSeq !== null && event.seq > this.#lastSeq + 1 && event.type !== 'CONNECTED') {
      if (from === 'stream') return 'gap';
      // A follower tab missed relayed events (it joined late, or was frozen): refetch its lists.
      void this.refresh();
    }
    this.#lastSeq = event.seq;
    this.#lastCursor = event.cursor;
    this.#setCounts(event.seq, event.unreadCount, event.unseenCount);
    const changed: string[] = [];
    if (event.notification && this.#upsert(event.notification, event.seq)) changed.push(event.notification.id);
    if ((event.type === 'ALL_READ' || event.type === 'ALL_SEEN') && event.upToSeq != null) {
      changed.push(...this.#applyAll(event.type, event.upToSeq, event.seq, event.occurredAt));
    }
    this.#confirm(event);
    for (const view of this.#views.values()) view.reconcile(changed);
    this.#emit();
    return 'ok';
  }

  /** Marks every known notification delivered at or before `upToSeq` read (and seen) or seen, as of `seq`. */
  #applyAll(type: 'ALL_READ' | 'ALL_SEEN', upToSeq: number, seq: number, at: string): string[] {
    const fields: Partial<InboxItem> = type === 'ALL_READ' ? { read: true, seen: true } : { seen: true };
    const changed: string[] = [];
    for (const [id, entry] of this.#entries) {
      const { item } = entry;
      if (item.inboxSeq === null || item.inboxSeq > upToSeq || entry.stateSeq >= seq) continue;
      const next = { ...item, ...fields, readAt: type === 'ALL_READ' ? (item.readAt ?? at) : item.readAt, seenAt: item.seenAt ?? at };
      if (this.#upsert(next, seq)) changed.push(id);
    }
    return changed;
  }

  /** Drops the count effects of pending operations that this event confirms. */
  #confirm(event: InboxEventData): void {
    const id = event.notification?.id;
    for (const op of this.#pending) {
      if (id && CONFIRMED_BY[event.type]?.includes(op.kind)) {
        op.unread.delete(id);
        op.unseen.delete(id);
      }
      // markRead also marks seen; its SEEN half is confirmed with the READ event.
      if (id && event.type === 'READ' && op.kind === 'seen') op.unseen.delete(id);
      if (event.upToSeq != null && event.upToSeq >= op.upToSeq) {
        // markAllRead marks seen too. By-id operations made before the line are covered by it.
        if (event.type === 'ALL_READ' && (op.kind === 'allRead' || op.kind === 'read')) op.unread.clear();
        if (op.kind === 'allSeen' || op.kind === 'seen' || (event.type === 'ALL_READ' && (op.kind === 'allRead' || op.kind === 'read'))) {
          op.unseen.clear();
        }
      }
    }
  }

  /**
   * Applies a confirmed change. By-id answers list the notifications they changed; "mark all" answers
   * list none (they may cover thousands), so their effect on what this tab knows is applied here, as
   * the ALL_READ / ALL_SEEN event will be — otherwise the rows would flip back until the event arrives.
   */
  #applyChange(change: PigeonInboxChangeFragment, kind: OpKind, upToSeq: number): void {
    this.#setCounts(change.seq, change.unreadCount, change.unseenCount);
    const changed = change.changed.filter((item) => this.#upsert(item, change.seq)).map((item) => item.id);
    if (kind === 'allRead' || kind === 'allSeen') {
      changed.push(...this.#applyAll(kind === 'allRead' ? 'ALL_READ' : 'ALL_SEEN', upToSeq, change.seq, new Date().toISOString()));
    }
    for (const view of this.#views.values()) view.reconcile(changed);
  }

  // ---- actions ----

  /** Runs an inbox mutation optimistically: shown at once, rolled back if the server refuses. */
  async mutate(kind: OpKind, ids: readonly string[] = []): Promise<void> {
    const targets = new Set(ids);
    const op: PendingOp = { kind, targets, upToSeq: this.#lastSeq ?? 0, unread: new Map(), unseen: new Map() };
    const counts = this.counts;
    if (kind === 'allRead') {
      op.unread.set('*', -counts.unread);
      op.unseen.set('*', -counts.unseen);
    } else if (kind === 'allSeen') {
      op.unseen.set('*', -counts.unseen);
    } else {
      for (const id of targets) {
        const entry = this.#entries.get(id);
        if (!entry) continue;
        const shown = this.#shown(entry.item);
        const [unread, unseen] = countEffect(kind, shown);
        if (unread) op.unread.set(id, unread);
        if (unseen) op.unseen.set(id, unseen);
      }
    }
    this.#pending = [...this.#pending, op];
    this.#emit();
    try {
      const change = await this.#send(kind, [...targets], op.upToSeq);
      this.#mutationError = null;
      this.#applyChange(change, kind, op.upToSeq);
    } catch (error) {
      this.#mutationError = asClientError(error);
      throw this.#mutationError;
    } finally {
      this.#pending = this.#pending.filter((p) => p !== op);
      this.#emit();
    }
  }

  #shown(item: InboxItem): InboxItem {
    const overlay = this.overlay(item);
    return overlay ? { ...item, ...overlay.fields } : item;
  }

  async #send(kind: OpKind, ids: string[], upToSeq: number): Promise<PigeonInboxChangeFragment> {
    const api = this.#options.api;
    const upTo = upToSeq === this.#lastSeq ? this.#lastCursor : null;
    const result =
      kind === 'read'
        ? (await api.run(doc.MarkReadDocument, { ids })).markRead
        : kind === 'unread'
          ? (await api.run(doc.MarkUnreadDocument, { ids })).markUnread
          : kind === 'seen'
            ? (await api.run(doc.MarkSeenDocument, { ids })).markSeen
            : kind === 'archive'
              ? (await api.run(doc.ArchiveDocument, { ids })).archive
              : kind === 'unarchive'
                ? (await api.run(doc.UnarchiveDocument, { ids })).unarchive
                : kind === 'allRead'
                  ? (await api.run(doc.MarkAllReadDocument, { upTo })).markAllRead
                  : (await api.run(doc.MarkAllSeenDocument, { upTo })).markAllSeen;
    if (result.__typename !== 'InboxChange') {
      const failure = result as { code?: string; message?: string };
      throw new PigeonClientError(failure.code ?? 'UNEXPECTED_RESPONSE', failure.message ?? 'The change was refused.');
    }
    return result as PigeonInboxChangeFragment;
  }

  // ---- change notification ----

  readonly #listeners = new Set<() => void>();
  #version = 0;

  get version(): number {
    return this.#version;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }

  /** For views: something of theirs changed (loading state, a page arrived). */
  changed(): void {
    this.#emit();
  }
}

/** How an operation moves the counts for one notification as currently shown: [unread, unseen]. */
function countEffect(kind: OpKind, item: InboxItem): [number, number] {
  if (item.archived && kind !== 'unarchive') return [0, 0];
  switch (kind) {
    case 'read':
      return [item.read ? 0 : -1, item.seen ? 0 : -1];
    case 'unread':
      return [item.read ? 1 : 0, 0];
    case 'seen':
      return [0, item.seen ? 0 : -1];
    case 'archive':
      return [item.read ? 0 : -1, item.seen ? 0 : -1];
    case 'unarchive':
      return item.archived ? [item.read ? 0 : 1, item.seen ? 0 : 1] : [0, 0];
    default:
      return [0, 0];
  }
}

function asClientError(error: unknown): PigeonClientError {
  if (error instanceof PigeonClientError) return error;
  return new PigeonClientError('CLIENT_ERROR', error instanceof Error ? error.message : String(error));
}

/** One filtered, paginated list over the shared store. */
export class InboxView {
  readonly #inbox: PigeonInbox;
  readonly key: string;
  readonly filter: InboxFilter;
  readonly #pageSize: number;
  refs = 0;
  #ids: string[] = [];
  #hasMore = false;
  #endCursor: string | null = null;
  #loading = true;
  #loadingMore = false;
  #error: PigeonClientError | null = null;
  #fetching: Promise<void> | null = null;
  #snapshot: InboxSnapshot | null = null;
  #snapshotVersion = -1;
  readonly #shown = new Map<string, { base: InboxItem; signature: string; item: InboxItem }>();

  constructor(inbox: PigeonInbox, key: string, filter: InboxFilter, pageSize: number) {
    this.#inbox = inbox;
    this.key = key;
    this.filter = filter;
    this.#pageSize = pageSize;
  }

  subscribe = (listener: () => void): (() => void) => this.#inbox.subscribe(listener);

  /** Refetches the first page (merging: notifications that arrived after the snapshot stay). */
  refetch(): Promise<void> {
    if (this.#fetching) return this.#fetching;
    const fetching = (async () => {
      try {
        const page = await this.#inbox.fetchPage(this.filter, this.#pageSize, null);
        const newer = this.#ids.filter((id) => {
          const seq = this.#inbox.entry(id)?.item.inboxSeq;
          return seq != null && seq > page.snapshotSeq && !page.ids.includes(id);
        });
        this.#ids = [...newer, ...page.ids].sort(newerFirst);
        this.#hasMore = page.hasMore;
        this.#endCursor = page.endCursor;
        this.#error = null;
      } catch (error) {
        this.#error = asClientError(error);
      } finally {
        this.#loading = false;
        this.#fetching = null;
        this.#inbox.changed();
      }
    })();
    this.#fetching = fetching;
    return fetching;
  }

  async loadMore(): Promise<void> {
    if (!this.#hasMore || this.#loadingMore) return;
    this.#loadingMore = true;
    this.#inbox.changed();
    try {
      const page = await this.#inbox.fetchPage(this.filter, this.#pageSize, this.#endCursor);
      const known = new Set(this.#ids);
      this.#ids = [...this.#ids, ...page.ids.filter((id) => !known.has(id))].sort(newerFirst);
      this.#hasMore = page.hasMore;
      this.#endCursor = page.endCursor;
    } catch (error) {
      this.#error = asClientError(error);
    } finally {
      this.#loadingMore = false;
      this.#inbox.changed();
    }
  }

  /** Re-evaluates membership of notifications whose confirmed state changed. */
  reconcile(changed: readonly string[]): void {
    if (changed.length === 0) return;
    const present = new Set(this.#ids);
    const oldest = this.#ids[this.#ids.length - 1];
    let ids = this.#ids;
    for (const id of changed) {
      const entry = this.#inbox.entry(id);
      if (!entry) continue;
      const belongs = matches(entry.item, this.filter);
      if (belongs && !present.has(id)) {
        // Only within the loaded range: an older one appears when its page is loaded.
        if (!this.#hasMore || oldest === undefined || id > oldest) ids = [...ids, id];
      } else if (!belongs && present.has(id)) {
        ids = ids.filter((x) => x !== id);
      }
    }
    if (ids !== this.#ids) this.#ids = ids.sort(newerFirst);
  }

  getSnapshot = (): InboxSnapshot => {
    const version = this.#inbox.version;
    if (this.#snapshot && this.#snapshotVersion === version) return this.#snapshot;
    const items: InboxItem[] = [];
    for (const id of this.#ids) {
      const entry = this.#inbox.entry(id);
      if (!entry) continue;
      const item = this.#present(entry.item);
      if (matches(item, this.filter)) items.push(item);
    }
    const previous = this.#snapshot;
    const sameItems = previous && previous.items.length === items.length && previous.items.every((item, i) => item === items[i]);
    const counts = this.#inbox.counts;
    const next: InboxSnapshot = {
      items: sameItems ? previous.items : items,
      unreadCount: counts.unread,
      unseenCount: counts.unseen,
      connection: this.#inbox.connection,
      loading: this.#loading && !this.#inbox.startError,
      loadingMore: this.#loadingMore,
      hasMore: this.#hasMore,
      error: this.#error ?? this.#inbox.startError,
      mutationError: this.#inbox.mutationError,
    };
    const unchanged = previous && (Object.keys(next) as (keyof InboxSnapshot)[]).every((key) => next[key] === previous[key]);
    this.#snapshot = unchanged ? previous : next;
    this.#snapshotVersion = version;
    return this.#snapshot;
  };

  /** The item as shown (with pending changes), the same object as last time when nothing changed. */
  #present(base: InboxItem): InboxItem {
    const overlay = this.#inbox.overlay(base);
    if (!overlay) {
      this.#shown.delete(base.id);
      return base;
    }
    const cached = this.#shown.get(base.id);
    if (cached && cached.base === base && cached.signature === overlay.signature) return cached.item;
    const item = { ...base, ...overlay.fields };
    this.#shown.set(base.id, { base, signature: overlay.signature, item });
    return item;
  }
}
