// The inbox as a client token sees it: its own recipient's notifications and counters, the
// mutations that change them, and the live stream of inbox events (GraphQL over SSE).
import type { Prisma } from '@pigeon/schema';
import { enqueueOrLeave } from '@pigeon/worker';
import { GraphQLError } from 'graphql';
import { builder, ID_PAGES } from '../builder.ts';
import type { Context } from '../context.ts';
import { NotFoundError, unauthenticated, ValidationError } from '../errors.ts';
import { encodeInboxCursor } from '../inbox/cursor.ts';
import { announce, changeNotifications, type InboxAction, type InboxChange, type InboxOwner, markAllUpTo } from '../inbox/state.ts';
import { type InboxEventView, inboxEventStream, type StreamConnection } from '../inbox/stream.ts';
import { NotificationRef } from './notification.ts';

const RECIPIENT_GONE = "The client token's recipient does not exist in its environment; mint a new token.";

function ownerOf(ctx: Context): InboxOwner {
  const p = ctx.principal;
  // The clientToken auth scope runs first; this only narrows the type.
  if (p?.kind !== 'clientToken') throw unauthenticated('A client token is required.');
  return { environmentId: p.environmentId, recipientId: p.recipientId };
}

const InboxFilter = builder.inputType('InboxFilter', {
  fields: (t) => ({
    unread: t.boolean({ description: 'true: only unread; false: only read; unset: both.' }),
    category: t.string(),
    archived: t.boolean({ description: 'true: only archived; false or unset: only those not archived (the inbox view).' }),
  }),
});

export const InboxRef = builder.prismaObject('Recipient', {
  variant: 'Inbox',
  description: "One recipient's inbox, as its client token sees it.",
  fields: (t) => ({
    recipientId: t.exposeID('id'),
    externalId: t.exposeString('externalId'),
    unreadCount: t.exposeInt('unreadCount', { description: 'Delivered notifications neither read nor archived. Exact.' }),
    unseenCount: t.exposeInt('unseenCount', { description: 'Delivered notifications neither seen nor archived. Exact.' }),
    cursor: t.string({
      description:
        'The position of the newest inbox event: subscribe with inboxEvents(after: cursor) to continue from here, or pass it to markAllRead.',
      select: { lastSeq: true },
      resolve: (r) => encodeInboxCursor({ recipientId: r.id, seq: r.lastSeq }),
    }),
    seq: t.exposeInt('lastSeq', { description: 'The sequence number of the newest inbox event (0: none yet).' }),
    notifications: t.relatedConnection('notifications', {
      ...ID_PAGES,
      description: 'Delivered notifications, newest first. Cursors are opaque; ids are unique, so pages never skip or repeat a row.',
      args: { filter: t.arg({ type: InboxFilter }) },
      query: (args) => {
        const where: Prisma.NotificationWhereInput = { status: 'DELIVERED', archivedAt: args.filter?.archived ? { not: null } : null };
        if (args.filter?.unread != null) where.readAt = args.filter.unread ? null : { not: null };
        if (args.filter?.category != null) where.category = args.filter.category;
        return { where, orderBy: { id: 'desc' } };
      },
    }),
  }),
});

builder.queryField('inbox', (t) =>
  t.prismaField({
    type: InboxRef,
    description: "The client token's own inbox.",
    authScopes: { clientToken: true },
    resolve: async (query, _root, _args, ctx) => {
      const owner = ownerOf(ctx);
      const inbox = await ctx.prisma.recipient.findFirst({
        ...query,
        where: { id: owner.recipientId, environmentId: owner.environmentId },
      });
      if (!inbox) throw unauthenticated(RECIPIENT_GONE);
      return inbox;
    },
  }),
);

const InboxChangeRef = builder.objectRef<InboxChange>('InboxChange').implement({
  description: 'The outcome of an inbox mutation: what changed and the inbox right after it.',
  fields: (t) => ({
    changed: t.field({
      type: [NotificationRef],
      description: 'Notifications whose state changed (empty for markAllRead/markAllSeen: see changedCount).',
      resolve: (c) => c.changed,
    }),
    changedCount: t.exposeInt('changedCount'),
    cursor: t.string({
      description: 'The inbox position after this change.',
      resolve: (c) => encodeInboxCursor({ recipientId: c.inbox.recipientId, seq: c.inbox.lastSeq }),
    }),
    seq: t.int({ resolve: (c) => c.inbox.lastSeq }),
    unreadCount: t.int({ resolve: (c) => c.inbox.unreadCount }),
    unseenCount: t.int({ resolve: (c) => c.inbox.unseenCount }),
  }),
});

async function finish(ctx: Context, change: InboxChange): Promise<InboxChange> {
  announce(ctx.inbox.wakeUps, change, (error) => ctx.log.warn('inbox wake-up publish failed', { error }));
  await enqueueOrLeave({ queue: ctx.webhookQueue, log: ctx.log }, change.webhooks);
  return change;
}

const byIdMutations: [field: string, action: InboxAction, description: string][] = [
  ['markRead', 'READ', 'Marks notifications read (and seen).'],
  ['markUnread', 'UNREAD', 'Marks notifications unread again.'],
  ['markSeen', 'SEEN', 'Marks notifications seen (e.g. shown in an open bell).'],
  ['archive', 'ARCHIVED', 'Archives notifications: they leave the inbox view and the counts.'],
  ['unarchive', 'UNARCHIVED', 'Brings archived notifications back.'],
];

for (const [field, action, description] of byIdMutations) {
  builder.mutationField(field, (t) =>
    t.field({
      type: InboxChangeRef,
      description: `${description} One inbox event per notification changed. Ids that are not delivered notifications of this inbox reject the whole call (NotFoundError) and change nothing.`,
      args: { ids: t.arg.idList({ required: true }) },
      authScopes: { clientToken: true },
      errors: { types: [ValidationError, NotFoundError], directResult: true },
      resolve: async (_root, args, ctx) =>
        finish(
          ctx,
          await changeNotifications(
            ctx.prisma,
            ownerOf(ctx),
            action,
            args.ids.map((id) => String(id)),
          ),
        ),
    }),
  );
}

for (const [field, kind] of [
  ['markAllRead', 'ALL_READ'],
  ['markAllSeen', 'ALL_SEEN'],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: InboxChangeRef,
      description: `Marks every notification delivered at or before \`upTo\` (an inbox cursor; default: all delivered so far) ${
        kind === 'ALL_READ' ? 'read' : 'seen'
      }. A notification delivered after that position stays as it is, even one arriving during the call. One ${kind} event.`,
      args: { upTo: t.arg.string() },
      authScopes: { clientToken: true },
      errors: { types: [ValidationError, NotFoundError], directResult: true },
      resolve: async (_root, args, ctx) => finish(ctx, await markAllUpTo(ctx.prisma, ownerOf(ctx), kind, args.upTo)),
    }),
  );
}

const InboxEventTypeEnum = builder.enumType('InboxEventType', {
  values: {
    DELIVERED: { description: 'A notification arrived (`notification` is it).' },
    READ: {},
    UNREAD: {},
    SEEN: {},
    ARCHIVED: {},
    UNARCHIVED: {},
    ALL_READ: { description: 'Every notification delivered at or before `upToSeq` is now read.' },
    ALL_SEEN: { description: 'Every notification delivered at or before `upToSeq` is now seen.' },
    RESYNC: {
      description: 'The stream cannot replay from the given cursor (see `reason`): refetch the inbox; the stream goes on from `cursor`.',
    },
    CONNECTED: { description: 'First event of a stream started without `after`: the current cursor and counts. Nothing changed.' },
  } as const,
});

const InboxEventRef = builder.objectRef<InboxEventView>('InboxEvent').implement({
  description: 'One change to an inbox. `seq` values of one stream are contiguous; the counts are those right after the event.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Resubscribe with inboxEvents(after: cursor) to continue after this event.',
      resolve: (e) => encodeInboxCursor({ recipientId: e.recipientId, seq: e.seq }),
    }),
    seq: t.exposeInt('seq'),
    type: t.field({ type: InboxEventTypeEnum, resolve: (e) => e.type }),
    notification: t.field({ type: NotificationRef, nullable: true, resolve: (e) => e.notification }),
    unreadCount: t.exposeInt('unreadCount'),
    unseenCount: t.exposeInt('unseenCount'),
    upToSeq: t.exposeInt('upToSeq', { nullable: true }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    reason: t.exposeString('reason', { nullable: true }),
  }),
});

builder.subscriptionField('inboxEvents', (t) =>
  t.field({
    type: InboxEventRef,
    description:
      "The client token's inbox events: every event after `after` (replayed from the database), then live, each exactly once and in order. " +
      'Without `after` the first event is CONNECTED with the current cursor. Resubscribe with the last cursor after any disconnect. ' +
      'When the token expires the stream ends with an UNAUTHENTICATED error: mint a new token and resubscribe.',
    args: { after: t.arg.string({ description: 'A cursor from inbox.cursor or from an earlier event.' }) },
    authScopes: { clientToken: true },
    subscribe: (_root, args, ctx) => {
      const p = ctx.principal;
      // The clientToken auth scope has run; this narrows the type for `expiresAt`.
      if (p?.kind !== 'clientToken') throw unauthenticated('A client token is required.');
      return inboxEventStream({
        prisma: ctx.prisma,
        hub: ctx.inbox.hub,
        log: ctx.log,
        owner: { environmentId: p.environmentId, recipientId: p.recipientId },
        after: args.after,
        expiresAt: p.expiresAt,
        hooks: ctx.inbox.hooks,
        // Yoga's context carries Node's response when the request came through node:http.
        connection: (ctx as { res?: StreamConnection }).res,
      });
    },
    resolve: (item) => {
      if (item.kind === 'expired')
        throw unauthenticated('The client token has expired: mint a new one and resubscribe from your last cursor.');
      if (item.kind === 'gone') throw unauthenticated(RECIPIENT_GONE);
      if (item.kind === 'error') {
        throw new GraphQLError('Unexpected error: resubscribe with your last cursor.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      }
      return item.view;
    },
  }),
);
