// A notification's life as one time-ordered list: its own timestamps plus every webhook delivery
// and attempt that reported it.
import type { AttemptFieldsFragment, NotificationDetailQuery } from '../../gql/graphql.ts';

type Detail = NonNullable<NotificationDetailQuery['notification']>;
export type Delivery = NonNullable<Detail['webhookDeliveries']>['edges'][number]['node'];

export type TimelineEntry =
  | { kind: 'state'; at: string | null; sort: number; tone: string; title: string; detail?: string }
  | { kind: 'delivery'; at: string; sort: number; delivery: Delivery }
  | { kind: 'attempt'; at: string; sort: number; delivery: Delivery; attempt: AttemptFieldsFragment; number: number }
  | { kind: 'scheduled'; at: string; sort: number; delivery: Delivery };

const t = (value: string) => new Date(value).getTime();

export function buildTimeline(n: Detail): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const deliveries = n.webhookDeliveries?.edges.map((e) => e.node) ?? [];
  entries.push({
    kind: 'state',
    at: n.createdAt,
    sort: t(n.createdAt),
    tone: 'info',
    title: 'Accepted',
    detail: 'Stored by send and queued for rendering.',
  });
  if (n.deliveredAt) {
    entries.push({
      kind: 'state',
      at: n.deliveredAt,
      sort: t(n.deliveredAt),
      tone: 'success',
      title: 'Delivered',
      detail: `Rendered and put in ${n.recipient.externalId}'s inbox${n.inboxSeq ? ` (inbox event #${n.inboxSeq})` : ''}.`,
    });
  }
  if (n.status === 'FAILED') {
    // The notification keeps no failure time; its notification.failed delivery (if any) was written with it.
    const failedEvent = deliveries.find((d) => d.eventType === 'notification.failed');
    const at = failedEvent?.createdAt ?? null;
    entries.push({
      kind: 'state',
      at,
      sort: at ? t(at) : t(n.createdAt) + 1,
      tone: 'danger',
      title: 'Failed',
      detail: n.failureReason ?? 'It will not be delivered.',
    });
  }
  if (n.seenAt)
    entries.push({ kind: 'state', at: n.seenAt, sort: t(n.seenAt), tone: 'neutral', title: 'Seen', detail: 'Shown to the recipient.' });
  if (n.readAt) entries.push({ kind: 'state', at: n.readAt, sort: t(n.readAt), tone: 'success', title: 'Read' });
  if (n.archivedAt) entries.push({ kind: 'state', at: n.archivedAt, sort: t(n.archivedAt), tone: 'neutral', title: 'Archived' });
  for (const delivery of deliveries) {
    entries.push({ kind: 'delivery', at: delivery.createdAt, sort: t(delivery.createdAt), delivery });
    delivery.attempts.edges.forEach(({ node }, i) => {
      entries.push({ kind: 'attempt', at: node.startedAt, sort: t(node.startedAt), delivery, attempt: node, number: i + 1 });
    });
    if (delivery.status === 'PENDING' && delivery.nextAttemptAt) {
      entries.push({ kind: 'scheduled', at: delivery.nextAttemptAt, sort: t(delivery.nextAttemptAt), delivery });
    }
  }
  // Stable for equal times: state changes first, then deliveries, then their attempts.
  const rank = { state: 0, delivery: 1, attempt: 2, scheduled: 3 } as const;
  return entries.sort((a, b) => a.sort - b.sort || rank[a.kind] - rank[b.kind]);
}
