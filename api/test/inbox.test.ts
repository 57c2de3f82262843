// The inbox as a client token sees it, in-process through yoga.fetch, with notifications delivered by
// the real render worker: client tokens, the inbox query (counters, cursor, pagination, filters), the
// state mutations with their inbox events, mark-all up to a cursor — also while deliveries race it —
// and the Redis wake-up each change publishes. Counters and event rows are checked in SQL.
import { randomUUID } from 'node:crypto';
import { inboxChannel, type WorkerRuntime } from '@pigeon/worker';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeInboxCursor, encodeInboxCursor } from '../src/inbox/cursor.ts';
import { bearer, createTenant, createTestApi, mintClientToken, startTestWorker, type Tenant, type TestApi, uniqueName } from './harness.ts';
import { seededRandom } from './random.ts';

let api: TestApi;
let tenant: Tenant;
let worker: WorkerRuntime;
/** Our own connection to the test database, for SQL checks and for holding row locks. */
let sql: pg.Client;
const WORKER_CONCURRENCY = 4;

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
  // The reconciler never re-enqueues during this file: a notification left ACCEPTED on purpose stays so.
  worker = await startTestWorker(api, { concurrency: WORKER_CONCURRENCY, reconcileAfterMs: 3_600_000 });
  sql = new pg.Client({ connectionString: api.databaseUrl });
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
  await worker?.stop();
  await api?.close();
});

function seedFor(name: string): number {
  const fromEnv = Number(process.env.PIGEON_TEST_SEED);
  const seed = Number.isFinite(fromEnv) && process.env.PIGEON_TEST_SEED ? fromEnv : Math.floor(Math.random() * 2 ** 31);
  console.info(`${name}: seed ${seed} (replay with PIGEON_TEST_SEED=${seed})`);
  return seed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(to: string, extra: Record<string, unknown> = {}, apiKey = tenant.apiKey): Promise<string> {
  const { body } = await api.gql(
    `mutation($input: SendInput!) { send(input: $input) { __typename ... on SendSuccess { notification { id } } ... on Error { code message } } }`,
    { input: { to, title: 'Hello', body: 'there', ...extra } },
    bearer(apiKey),
  );
  if (body.data?.send?.__typename !== 'SendSuccess') throw new Error(`send failed: ${JSON.stringify(body)}`);
  return body.data.send.notification.id as string;
}

/** Waits until every id has left ACCEPTED; returns their statuses. */
async function settled(ids: string[], timeoutMs = 15_000): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await sql.query<{ id: string; status: string }>(
      `SELECT id::text, status::text FROM notifications WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    if (rows.length === ids.length && rows.every((r) => r.status !== 'ACCEPTED')) return new Map(rows.map((r) => [r.id, r.status]));
    if (Date.now() > deadline) throw new Error(`notifications still ACCEPTED after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
}

/** Sends `n` notifications one after another and waits until the worker delivered them all. */
async function deliver(to: string, n: number, extra: (i: number) => Record<string, unknown> = () => ({}), apiKey = tenant.apiKey) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await send(to, extra(i), apiKey));
  const statuses = await settled(ids);
  for (const id of ids) expect(statuses.get(id), `notification ${id}`).toBe('DELIVERED');
  return ids;
}

async function recipientIdOf(externalId: string, environmentId = tenant.developmentId): Promise<string> {
  const { rows } = await sql.query<{ id: string }>(`SELECT id::text FROM recipients WHERE environment_id = $1 AND external_id = $2`, [
    environmentId,
    externalId,
  ]);
  if (!rows[0]) throw new Error(`no recipient ${externalId}`);
  return rows[0].id;
}

/** A fresh recipient with a client token. */
async function inboxUser(label: string, apiKey = tenant.apiKey) {
  const externalId = uniqueName(label);
  const minted = await mintClientToken(api, apiKey, externalId);
  return { externalId, recipientId: minted.recipientId, token: minted.token, headers: bearer(minted.token) };
}
type InboxUser = Awaited<ReturnType<typeof inboxUser>>;

const CHANGE_SELECTION = `__typename
  ... on InboxChange { changedCount seq cursor unreadCount unseenCount changed { id read seen archived readAt seenAt archivedAt } }
  ... on Error { code message }`;

type Action = 'markRead' | 'markUnread' | 'markSeen' | 'archive' | 'unarchive';

async function change(user: InboxUser, action: Action, ids: string[]) {
  const { body } = await api.gql(`mutation($ids: [ID!]!) { r: ${action}(ids: $ids) { ${CHANGE_SELECTION} } }`, { ids }, user.headers);
  if (!body.data?.r) throw new Error(`${action} failed: ${JSON.stringify(body)}`);
  return body.data.r;
}

async function markAll(user: InboxUser, field: 'markAllRead' | 'markAllSeen', upTo?: string | null) {
  const { body } = await api.gql(`mutation($upTo: String) { r: ${field}(upTo: $upTo) { ${CHANGE_SELECTION} } }`, { upTo }, user.headers);
  if (!body.data?.r) throw new Error(`${field} failed: ${JSON.stringify(body)}`);
  return body.data.r;
}

async function inbox(user: InboxUser) {
  const { body } = await api.gql(`{ inbox { recipientId externalId unreadCount unseenCount cursor seq } }`, {}, user.headers);
  if (!body.data?.inbox) throw new Error(`inbox failed: ${JSON.stringify(body)}`);
  return body.data.inbox as {
    recipientId: string;
    externalId: string;
    unreadCount: number;
    unseenCount: number;
    cursor: string;
    seq: number;
  };
}

/** One page of the inbox's notifications (ids, newest first). */
async function page(user: InboxUser, args: { first?: number; after?: string | null; filter?: Record<string, unknown> }) {
  const { body } = await api.gql(
    `query($first: Int, $after: String, $filter: InboxFilter) {
       inbox { notifications(first: $first, after: $after, filter: $filter) {
         edges { cursor node { id status read seen archived category inboxSeq } }
         pageInfo { hasNextPage endCursor } } } }`,
    args,
    user.headers,
  );
  const connection = body.data?.inbox?.notifications;
  if (!connection) throw new Error(`inbox.notifications failed: ${JSON.stringify(body)}`);
  return connection as {
    edges: { cursor: string; node: { id: string; status: string; read: boolean; category: string | null; inboxSeq: number } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

async function allPages(user: InboxUser, first: number, filter?: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 1_000; guard++) {
    const p = await page(user, { first, after, filter });
    expect(p.edges.length).toBeLessThanOrEqual(first);
    ids.push(...p.edges.map((e) => e.node.id));
    if (!p.pageInfo.hasNextPage) return ids;
    after = p.pageInfo.endCursor;
  }
  throw new Error('pagination did not end');
}

interface EventRow {
  seq: number;
  type: string;
  notification_id: string | null;
  unread_count: number;
  unseen_count: number;
  up_to_seq: number | null;
}

async function events(recipientId: string, afterSeq = 0): Promise<EventRow[]> {
  const { rows } = await sql.query<EventRow>(
    `SELECT seq, type::text, notification_id::text, unread_count, unseen_count, up_to_seq
       FROM inbox_events WHERE recipient_id = $1 AND seq > $2 ORDER BY seq`,
    [recipientId, afterSeq],
  );
  return rows;
}

interface NotificationRow {
  id: string;
  read: boolean;
  seen: boolean;
  archived: boolean;
  delivered_seq: number | null;
}

async function notificationRows(recipientId: string): Promise<NotificationRow[]> {
  const { rows } = await sql.query<NotificationRow>(
    `SELECT id::text, read_at IS NOT NULL AS read, seen_at IS NOT NULL AS seen, archived_at IS NOT NULL AS archived, delivered_seq
       FROM notifications WHERE recipient_id = $1 AND status = 'DELIVERED' ORDER BY delivered_seq`,
    [recipientId],
  );
  return rows;
}

/**
 * The invariants of api/src/inbox/state.ts, checked in SQL: the stored counters equal the exact
 * counts (unread = DELIVERED, read_at NULL, archived_at NULL; unseen likewise with seen_at), the
 * events are exactly 1..last_seq, the newest event carries the stored counters, and every delivered
 * notification has its DELIVERED event at its delivered_seq.
 */
async function expectConsistent(recipientId: string, context = '') {
  const {
    rows: [r],
  } = await sql.query<{ last_seq: number; unread_count: number; unseen_count: number; unread: number; unseen: number }>(
    `SELECT last_seq, unread_count, unseen_count,
            (SELECT count(*)::int FROM notifications n WHERE n.recipient_id = r.id AND n.status = 'DELIVERED'
                AND n.read_at IS NULL AND n.archived_at IS NULL) AS unread,
            (SELECT count(*)::int FROM notifications n WHERE n.recipient_id = r.id AND n.status = 'DELIVERED'
                AND n.seen_at IS NULL AND n.archived_at IS NULL) AS unseen
       FROM recipients r WHERE r.id = $1`,
    [recipientId],
  );
  if (!r) throw new Error(`no recipient ${recipientId}`);
  expect({ unread: r.unread_count, unseen: r.unseen_count }, `stored counters vs exact counts ${context}`).toEqual({
    unread: r.unread,
    unseen: r.unseen,
  });
  const rows = await events(recipientId);
  expect(
    rows.map((e) => e.seq),
    `inbox events contiguous 1..${r.last_seq} ${context}`,
  ).toEqual(Array.from({ length: r.last_seq }, (_, i) => i + 1));
  const newest = rows.at(-1);
  if (newest)
    expect({ unread: newest.unread_count, unseen: newest.unseen_count }, `newest event's counts ${context}`).toEqual({
      unread: r.unread_count,
      unseen: r.unseen_count,
    });
  const delivered = new Map(rows.filter((e) => e.type === 'DELIVERED').map((e) => [e.notification_id, e.seq]));
  const notifications = await notificationRows(recipientId);
  expect(delivered.size, `one DELIVERED event per delivered notification ${context}`).toBe(notifications.length);
  for (const n of notifications) expect(delivered.get(n.id), `DELIVERED event of ${n.id} ${context}`).toBe(n.delivered_seq);
  return r;
}

describe('createClientToken', () => {
  it('creates the recipient when it does not exist yet, with an empty inbox', async () => {
    const externalId = uniqueName('newcomer');
    const { rowCount } = await sql.query(`SELECT 1 FROM recipients WHERE external_id = $1`, [externalId]);
    expect(rowCount).toBe(0);
    const minted = await mintClientToken(api, tenant.apiKey, externalId);
    expect(await recipientIdOf(externalId)).toBe(minted.recipientId);
    const user = { externalId, recipientId: minted.recipientId, token: minted.token, headers: bearer(minted.token) };
    expect(await inbox(user)).toEqual({
      recipientId: minted.recipientId,
      externalId,
      unreadCount: 0,
      unseenCount: 0,
      seq: 0,
      cursor: encodeInboxCursor({ recipientId: minted.recipientId, seq: 0 }),
    });
    expect((await page(user, {})).edges).toEqual([]);
    // Minting again for the same user finds the same recipient.
    expect((await mintClientToken(api, tenant.apiKey, externalId)).recipientId).toBe(minted.recipientId);
  });

  it('gives concurrent first mints for one new user the same recipient, with a time-ordered (v7) id', async () => {
    const externalId = uniqueName('rush');
    const minted = await Promise.all(Array.from({ length: 8 }, () => mintClientToken(api, tenant.apiKey, externalId)));
    const ids = new Set(minted.map((m) => m.recipientId));
    expect(ids.size).toBe(1);
    const { rows } = await sql.query(`SELECT id::text AS id FROM recipients WHERE external_id = $1`, [externalId]);
    expect(rows.map((r) => r.id)).toEqual([...ids]);
    expect(rows[0].id[14]).toBe('7');
  });

  it('lasts one hour by default; 60 s and 24 h are accepted', async () => {
    const before = Date.now();
    const minted = await mintClientToken(api, tenant.apiKey, 'ttl-user');
    const claims = decodeJwt(minted.token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    expect(new Date(minted.expiresAt).getTime()).toBe((claims.exp as number) * 1000);
    expect(new Date(minted.expiresAt).getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
    for (const ttl of [60, 86_400]) {
      const c = decodeJwt((await mintClientToken(api, tenant.apiKey, 'ttl-user', ttl)).token);
      expect((c.exp as number) - (c.iat as number)).toBe(ttl);
    }
  });

  it('refuses a ttlSeconds outside 60..86400 (and an empty recipient) with extensions.code VALIDATION, creating nothing', async () => {
    for (const [recipient, ttl, mentions] of [
      [uniqueName('ttl'), 59, /ttlSeconds/],
      [uniqueName('ttl'), 86_401, /ttlSeconds/],
      [uniqueName('ttl'), -1, /ttlSeconds/],
      [uniqueName('ttl'), 0, /ttlSeconds/],
      ['', 600, /recipient/],
    ] as const) {
      const { body } = await api.gql(
        `mutation($r: String!, $ttl: Int) { createClientToken(recipient: $r, ttlSeconds: $ttl) { token } }`,
        { r: recipient, ttl },
        bearer(tenant.apiKey),
      );
      expect(body.data ?? null, `ttl ${ttl}`).toBeNull();
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body)).toBe('VALIDATION');
      expect(body.errors?.[0]?.message).toMatch(mentions);
      const { rowCount } = await sql.query(`SELECT 1 FROM recipients WHERE external_id = $1`, [recipient]);
      expect(rowCount, `no recipient created for ttl ${ttl}`).toBe(0);
    }
  });

  it('may be called only with an API key', async () => {
    const user = await inboxUser('minter');
    const query = `mutation { createClientToken(recipient: "someone-else") { token } }`;
    const asToken = await api.gql(query, {}, user.headers);
    expect(asToken.body.errors?.[0]?.extensions?.code, JSON.stringify(asToken.body)).toBe('FORBIDDEN');
    const asSession = await api.gql(query, {}, tenant.sessionHeaders);
    expect(asSession.body.errors?.[0]?.extensions?.code, JSON.stringify(asSession.body)).toBe('FORBIDDEN');
    const anonymous = await api.gql(query, {});
    expect(anonymous.body.errors?.[0]?.extensions?.code, JSON.stringify(anonymous.body)).toBe('UNAUTHENTICATED');
    for (const r of [asToken, asSession, anonymous]) expect(r.body.data ?? null).toBeNull();
    const { rowCount } = await sql.query(`SELECT 1 FROM recipients WHERE external_id = 'someone-else'`);
    expect(rowCount).toBe(0);
  });
});

describe('inbox query', () => {
  it('reports unreadCount, unseenCount, seq and a cursor naming the newest event', async () => {
    const user = await inboxUser('counts');
    const ids = await deliver(user.externalId, 3);
    let view = await inbox(user);
    expect(view).toMatchObject({ recipientId: user.recipientId, unreadCount: 3, unseenCount: 3, seq: 3 });
    expect(decodeInboxCursor(view.cursor)).toEqual({ recipientId: user.recipientId, seq: 3 });
    await change(user, 'markSeen', [ids[0] as string]);
    await change(user, 'markRead', [ids[1] as string]);
    view = await inbox(user);
    expect(view).toMatchObject({ unreadCount: 2, unseenCount: 1, seq: 5 });
    expect(decodeInboxCursor(view.cursor)).toEqual({ recipientId: user.recipientId, seq: 5 });
    await expectConsistent(user.recipientId);
  });

  it('pages newest first and never skips or repeats a row, even with identical created_at timestamps', async () => {
    const user = await inboxUser('pager');
    const sent = await deliver(user.externalId, 45);
    // Every row at the same instant: order and cursors must not lean on the clock.
    await sql.query(
      `UPDATE notifications SET created_at = '2026-01-01T00:00:00Z', delivered_at = '2026-01-01T00:00:01Z' WHERE recipient_id = $1`,
      [user.recipientId],
    );
    const newestFirst = [...sent].reverse();
    for (const size of [1, 7, 10, 44, 45, 100]) {
      const ids = await allPages(user, size);
      expect(ids, `page size ${size}`).toEqual(newestFirst);
    }
    // Pagination over a filter, with the filtered set changing shape in between pages.
    const readOnes = sent.filter((_, i) => i % 3 === 0);
    await change(user, 'markRead', readOnes);
    expect(await allPages(user, 4, { unread: false })).toEqual(newestFirst.filter((id) => readOnes.includes(id)));
    expect(await allPages(user, 4, { unread: true })).toEqual(newestFirst.filter((id) => !readOnes.includes(id)));
    // A page boundary stays put when a notification arrives after the first page was read.
    const first = await page(user, { first: 10 });
    const newcomer = (await deliver(user.externalId, 1))[0] as string;
    await sql.query(`UPDATE notifications SET created_at = '2026-01-01T00:00:00Z' WHERE id = $1`, [newcomer]);
    const rest: string[] = [];
    let after = first.pageInfo.endCursor;
    for (;;) {
      const p = await page(user, { first: 10, after });
      rest.push(...p.edges.map((e) => e.node.id));
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    expect([...first.edges.map((e) => e.node.id), ...rest]).toEqual(newestFirst);
    expect((await page(user, { first: 1 })).edges[0]?.node.id).toBe(newcomer);
  });

  it('filters by unread, category and archived (archived hidden by default)', async () => {
    const user = await inboxUser('filters');
    const categories = ['billing', 'billing', 'social', 'social', null, null];
    const n = await deliver(user.externalId, 6, (i) => (categories[i] ? { category: categories[i] } : {}));
    const [n0, n1, n2, n3, n4, n5] = n as [string, string, string, string, string, string];
    await change(user, 'markRead', [n0, n2]);
    await change(user, 'archive', [n1, n4]);
    const ids = async (filter?: Record<string, unknown>) => (await page(user, { first: 50, filter })).edges.map((e) => e.node.id);
    expect(await ids()).toEqual([n5, n3, n2, n0]);
    expect(await ids({ archived: false })).toEqual([n5, n3, n2, n0]);
    expect(await ids({ unread: true })).toEqual([n5, n3]);
    expect(await ids({ unread: false })).toEqual([n2, n0]);
    expect(await ids({ category: 'billing' })).toEqual([n0]);
    expect(await ids({ category: 'social', unread: true })).toEqual([n3]);
    expect(await ids({ category: 'nope' })).toEqual([]);
    expect(await ids({ archived: true })).toEqual([n4, n1]);
    expect(await ids({ archived: true, category: 'billing' })).toEqual([n1]);
    expect(await ids({ archived: true, unread: false })).toEqual([]);
    const nodes = (await page(user, { first: 50, filter: { archived: true } })).edges.map((e) => e.node);
    expect(nodes.every((node) => node.status === 'DELIVERED')).toBe(true);
    expect(await inbox(user)).toMatchObject({ unreadCount: 2, unseenCount: 2 });
    await expectConsistent(user.recipientId);
  });

  it('shows only DELIVERED notifications: ACCEPTED and FAILED ones are not in the inbox (nor can they be changed)', async () => {
    const user = await inboxUser('statuses');
    const { body: created } = await api.gql(
      `mutation { createTemplate(input: { key: "needs-name", title: "Hello {{ name }}", body: "x" }) { __typename ... on Error { message } } }`,
      {},
      bearer(tenant.apiKey),
    );
    expect(created.data?.createTemplate?.__typename, JSON.stringify(created)).toBe('CreateTemplateSuccess');

    // Left ACCEPTED: queued while the queue is paused, and its job removed (the reconciler is off).
    await api.renderQueue.pause();
    let accepted: string;
    try {
      accepted = await send(user.externalId, { title: 'never rendered' });
      await api.renderQueue.drain();
    } finally {
      await api.renderQueue.resume();
    }
    const failed = await send(user.externalId, { title: undefined, body: undefined, template: 'needs-name', data: {} });
    const [delivered] = (await deliver(user.externalId, 1)) as [string];
    expect((await settled([failed])).get(failed)).toBe('FAILED');
    const { rows } = await sql.query(`SELECT status::text FROM notifications WHERE id = $1`, [accepted]);
    expect(rows[0]?.status).toBe('ACCEPTED');

    for (const filter of [undefined, { unread: true }, { archived: true }]) {
      const ids = (await page(user, { first: 50, filter })).edges.map((e) => e.node.id);
      expect(ids, JSON.stringify(filter)).toEqual(filter?.archived ? [] : [delivered]);
    }
    expect(await inbox(user)).toMatchObject({ unreadCount: 1, unseenCount: 1, seq: 1 });
    for (const id of [accepted, failed]) {
      const r = await change(user, 'markRead', [id]);
      expect(r).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    }
    await expectConsistent(user.recipientId);
  });
});

describe('inbox mutations', () => {
  it('change the state fields and append exactly one event per change, with the counts after it', async () => {
    const user = await inboxUser('fields');
    // One at a time, so a is delivered (seq 1) before b (seq 2): the worker runs jobs concurrently.
    const [a] = (await deliver(user.externalId, 1)) as [string];
    const [b] = (await deliver(user.externalId, 1)) as [string];

    const seen = await change(user, 'markSeen', [a]);
    expect(seen).toMatchObject({ __typename: 'InboxChange', changedCount: 1, seq: 3, unreadCount: 2, unseenCount: 1 });
    expect(seen.changed).toEqual([expect.objectContaining({ id: a, seen: true, read: false, archived: false, readAt: null })]);
    expect(seen.changed[0].seenAt).toEqual(expect.any(String));

    const read = await change(user, 'markRead', [a]);
    expect(read).toMatchObject({ changedCount: 1, seq: 4, unreadCount: 1, unseenCount: 1 });
    expect(read.changed[0]).toMatchObject({ id: a, read: true, seen: true, seenAt: seen.changed[0].seenAt });
    expect(read.changed[0].readAt).toEqual(expect.any(String));

    // Reading an unseen notification also sees it.
    const readB = await change(user, 'markRead', [b]);
    expect(readB).toMatchObject({ changedCount: 1, seq: 5, unreadCount: 0, unseenCount: 0 });
    expect(readB.changed[0]).toMatchObject({ id: b, read: true, seen: true });

    const unread = await change(user, 'markUnread', [a]);
    expect(unread).toMatchObject({ changedCount: 1, seq: 6, unreadCount: 1, unseenCount: 0 });
    expect(unread.changed[0]).toMatchObject({ id: a, read: false, readAt: null, seen: true });

    const archived = await change(user, 'archive', [a]);
    expect(archived).toMatchObject({ changedCount: 1, seq: 7, unreadCount: 0, unseenCount: 0 });
    expect(archived.changed[0]).toMatchObject({ id: a, archived: true, read: false });
    expect(archived.changed[0].archivedAt).toEqual(expect.any(String));

    const unarchived = await change(user, 'unarchive', [a]);
    expect(unarchived).toMatchObject({ changedCount: 1, seq: 8, unreadCount: 1, unseenCount: 0 });
    expect(unarchived.changed[0]).toMatchObject({ id: a, archived: false, archivedAt: null });
    expect(decodeInboxCursor(unarchived.cursor)).toEqual({ recipientId: user.recipientId, seq: 8 });

    expect(await events(user.recipientId)).toEqual([
      { seq: 1, type: 'DELIVERED', notification_id: a, unread_count: 1, unseen_count: 1, up_to_seq: null },
      { seq: 2, type: 'DELIVERED', notification_id: b, unread_count: 2, unseen_count: 2, up_to_seq: null },
      { seq: 3, type: 'SEEN', notification_id: a, unread_count: 2, unseen_count: 1, up_to_seq: null },
      { seq: 4, type: 'READ', notification_id: a, unread_count: 1, unseen_count: 1, up_to_seq: null },
      { seq: 5, type: 'READ', notification_id: b, unread_count: 0, unseen_count: 0, up_to_seq: null },
      { seq: 6, type: 'UNREAD', notification_id: a, unread_count: 1, unseen_count: 0, up_to_seq: null },
      { seq: 7, type: 'ARCHIVED', notification_id: a, unread_count: 0, unseen_count: 0, up_to_seq: null },
      { seq: 8, type: 'UNARCHIVED', notification_id: a, unread_count: 1, unseen_count: 0, up_to_seq: null },
    ]);
    await expectConsistent(user.recipientId);
  });

  it('are idempotent: repeating a change changes nothing and appends no event', async () => {
    const user = await inboxUser('idempotent');
    const [a, b] = (await deliver(user.externalId, 2)) as [string, string];
    await change(user, 'markRead', [a]);
    await change(user, 'archive', [b]);
    const before = await inbox(user);
    const eventsBefore = await events(user.recipientId);
    for (const [action, ids] of [
      ['markRead', [a]],
      ['markSeen', [a]],
      ['markUnread', [b]],
      ['archive', [b]],
      ['unarchive', [a]],
      ['markRead', [a, a]],
    ] as [Action, string[]][]) {
      const r = await change(user, action, ids);
      expect(r, `${action} again`).toMatchObject({
        __typename: 'InboxChange',
        changedCount: 0,
        changed: [],
        seq: before.seq,
        cursor: before.cursor,
        unreadCount: before.unreadCount,
        unseenCount: before.unseenCount,
      });
    }
    expect(await events(user.recipientId)).toEqual(eventsBefore);
    expect(await inbox(user)).toEqual(before);
  });

  it('count duplicate ids once', async () => {
    const user = await inboxUser('duplicates');
    const [a, b] = (await deliver(user.externalId, 2)) as [string, string];
    const r = await change(user, 'markRead', [a, a, a.toUpperCase(), b, b]);
    expect(r).toMatchObject({ changedCount: 2, seq: 4, unreadCount: 0, unseenCount: 0 });
    expect(r.changed.map((n: { id: string }) => n.id).sort()).toEqual([a, b].sort());
    const appended = await events(user.recipientId, 2);
    expect(appended.map((e) => [e.type, e.notification_id]).sort()).toEqual(
      [
        ['READ', a],
        ['READ', b],
      ].sort(),
    );
    await expectConsistent(user.recipientId);
  });

  it('refuse ids that are not delivered notifications of this inbox with NotFoundError, changing nothing', async () => {
    const owner = await inboxUser('owner');
    const stranger = await inboxUser('stranger');
    const otherEnvironment = await inboxUser('owner-prod', tenant.productionApiKey);
    const [o1, o2] = (await deliver(owner.externalId, 2)) as [string, string];
    const [s1] = (await deliver(stranger.externalId, 1)) as [string];
    const [p1] = (await deliver(otherEnvironment.externalId, 1, () => ({}), tenant.productionApiKey)) as [string];
    await change(owner, 'markRead', [o2]);

    const snapshot = async () => ({
      recipients: (
        await sql.query(`SELECT id, last_seq, unread_count, unseen_count FROM recipients WHERE id = ANY($1::uuid[]) ORDER BY id`, [
          [owner.recipientId, stranger.recipientId, otherEnvironment.recipientId],
        ])
      ).rows,
      notifications: (
        await sql.query(`SELECT id, read_at, seen_at, archived_at, updated_at FROM notifications WHERE id = ANY($1::uuid[]) ORDER BY id`, [
          [o1, o2, s1, p1],
        ])
      ).rows,
      events: (await sql.query(`SELECT count(*)::int AS n FROM inbox_events`)).rows[0].n,
    });
    const before = await snapshot();
    const randomId = randomUUID();
    const cases: [string[], string][] = [
      [[s1], s1],
      [[p1], p1],
      [[randomId], randomId],
      [['not-a-uuid'], 'not-a-uuid'],
      [[o1, s1], s1],
      [[o1, p1], p1],
      [[o1, randomId], randomId],
      [[o1, "'; DROP TABLE notifications; --"], "'; DROP TABLE notifications; --"],
    ];
    for (const action of ['markRead', 'markUnread', 'markSeen', 'archive', 'unarchive'] as Action[]) {
      for (const [ids, culprit] of cases) {
        const r = await change(owner, action, ids);
        expect(r, `${action}(${ids.join(', ')})`).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
        // (Ids are compared case-insensitively; the message names the id lower-cased.)
        expect(r.message.toLowerCase()).toContain(culprit.toLowerCase());
      }
    }
    // The stranger cannot touch the owner's notifications either.
    expect(await change(stranger, 'markRead', [o1])).toMatchObject({ __typename: 'NotFoundError' });
    expect(await snapshot()).toEqual(before);
    for (const user of [owner, stranger, otherEnvironment]) await expectConsistent(user.recipientId);
  });

  it('refuse more than 100 ids with ValidationError, changing nothing', async () => {
    const user = await inboxUser('many-ids');
    const [a] = (await deliver(user.externalId, 1)) as [string];
    const before = await inbox(user);
    const ids = [a, ...Array.from({ length: 100 }, () => randomUUID())];
    for (const action of ['markRead', 'markSeen', 'archive'] as Action[]) {
      const r = await change(user, action, ids);
      expect(r, action).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
      expect(r.message).toMatch(/100/);
    }
    expect(await change(user, 'markRead', [])).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
    expect(await inbox(user)).toEqual(before);
    expect(await events(user.recipientId)).toHaveLength(1);
  });

  it('keep the counters exact through a long seeded random sequence of changes and deliveries', async () => {
    const seed = seedFor('random inbox changes');
    const random = seededRandom(seed);
    const user = await inboxUser('random');
    interface State {
      read: boolean;
      seen: boolean;
      archived: boolean;
      seq: number;
    }
    const model = new Map<string, State>();
    const addDelivered = async (n: number) => {
      const ids = await deliver(user.externalId, n);
      const { rows } = await sql.query<{ id: string; delivered_seq: number }>(
        `SELECT id::text, delivered_seq FROM notifications WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      for (const r of rows) model.set(r.id, { read: false, seen: false, archived: false, seq: r.delivered_seq });
    };
    await addDelivered(10);
    let expectedSeq = 10;
    const cursors: string[] = [(await inbox(user)).cursor];
    const counts = () => {
      let unread = 0;
      let unseen = 0;
      for (const s of model.values()) {
        if (!s.archived && !s.read) unread++;
        if (!s.archived && !s.seen) unseen++;
      }
      return { unread, unseen };
    };
    /** Applies an action to the model; true when it changed the notification. */
    const apply: Record<Action, (s: State) => boolean> = {
      markRead: (s) => {
        if (s.read) return false;
        s.read = true;
        s.seen = true;
        return true;
      },
      markUnread: (s) => {
        if (!s.read) return false;
        s.read = false;
        return true;
      },
      markSeen: (s) => {
        if (s.seen) return false;
        s.seen = true;
        return true;
      },
      archive: (s) => {
        if (s.archived) return false;
        s.archived = true;
        return true;
      },
      unarchive: (s) => {
        if (!s.archived) return false;
        s.archived = false;
        return true;
      },
    };

    for (let step = 0; step < 150; step++) {
      const roll = random.next();
      const context = `(seed ${seed}, step ${step})`;
      let description: string;
      let result: { changedCount: number; seq: number; unreadCount: number; unseenCount: number; cursor: string };
      let expectedChanged: number;
      let expectedEvents: number;
      if (roll < 0.05) {
        const n = 1 + random.int(2);
        description = `deliver ${n}`;
        await addDelivered(n);
        expectedSeq += n;
        const view = await inbox(user);
        result = { changedCount: n, seq: view.seq, unreadCount: view.unreadCount, unseenCount: view.unseenCount, cursor: view.cursor };
        expectedChanged = n;
        expectedEvents = n;
      } else if (roll < 0.15) {
        const field = random.next() < 0.5 ? 'markAllRead' : 'markAllSeen';
        const upTo = random.next() < 0.5 ? null : random.pick(cursors);
        const limit = upTo ? (decodeInboxCursor(upTo)?.seq ?? -1) : expectedSeq;
        description = `${field}(upTo: ${upTo ? `seq ${limit}` : 'none'})`;
        expectedChanged = 0;
        for (const s of model.values()) {
          if (s.seq > limit) continue;
          if (field === 'markAllRead' ? apply.markRead(s) : apply.markSeen(s)) expectedChanged++;
        }
        expectedEvents = expectedChanged > 0 ? 1 : 0;
        result = await markAll(user, field, upTo);
        if (expectedEvents) {
          const [event] = await events(user.recipientId, expectedSeq);
          expect(event, `${description} ${context}`).toMatchObject({
            type: field === 'markAllRead' ? 'ALL_READ' : 'ALL_SEEN',
            up_to_seq: limit,
            notification_id: null,
          });
        }
      } else {
        const action = random.pick(['markRead', 'markUnread', 'markSeen', 'archive', 'unarchive'] as const);
        const all = [...model.keys()];
        const ids = Array.from({ length: 1 + random.int(4) }, () => random.pick(all));
        description = `${action}(${ids.map((id) => all.indexOf(id)).join(',')})`;
        expectedChanged = 0;
        for (const id of new Set(ids)) if (apply[action](model.get(id) as State)) expectedChanged++;
        expectedEvents = expectedChanged;
        result = await change(user, action, ids);
      }
      expectedSeq += description.startsWith('deliver') ? 0 : expectedEvents;
      const { unread, unseen } = counts();
      expect(result, `${description} ${context}`).toMatchObject({
        changedCount: expectedChanged,
        seq: expectedSeq,
        unreadCount: unread,
        unseenCount: unseen,
      });
      if (random.next() < 0.3) cursors.push(result.cursor);
      await expectConsistent(user.recipientId, `after ${description} ${context}`);
    }

    const stored = new Map((await notificationRows(user.recipientId)).map((r) => [r.id, r]));
    for (const [id, s] of model) {
      expect(stored.get(id), `notification ${id} (seed ${seed})`).toMatchObject({ read: s.read, seen: s.seen, archived: s.archived });
    }
  });

  it('publish a wake-up with the new sequence number on the recipient channel', async () => {
    const user = await inboxUser('wake');
    const [a, b] = (await deliver(user.externalId, 2)) as [string, string];
    const subscriber = new Redis(api.env.REDIS_URL);
    try {
      const messages: { channel: string; message: { environmentId: string; recipientId: string; seq: number } }[] = [];
      subscriber.on('pmessage', (_pattern, channel, message) => messages.push({ channel, message: JSON.parse(message) }));
      await subscriber.psubscribe(`${api.env.REDIS_PREFIX}:inbox:*`);
      const channel = inboxChannel(api.env.REDIS_PREFIX, tenant.developmentId, user.recipientId);
      // The worker's wake-ups for the two deliveries (seq 1, 2) may still arrive after subscribing.
      const mine = () => messages.filter((m) => m.channel === channel && m.message.seq > 2).map((m) => m.message);
      const expected = (seq: number) => ({ environmentId: tenant.developmentId, recipientId: user.recipientId, seq });

      const read = await change(user, 'markRead', [a]);
      await expect.poll(mine).toEqual([expected(read.seq)]);
      const archived = await change(user, 'archive', [a, b]);
      await expect.poll(mine).toEqual([expected(read.seq), expected(archived.seq)]);
      const unarchived = await change(user, 'unarchive', [b]);
      // A change that changes nothing publishes nothing: messages of one publisher arrive in order,
      // so had the no-op published, its message would come before the next real one.
      await change(user, 'markRead', [a]);
      const all = await markAll(user, 'markAllRead');
      await expect.poll(mine).toEqual([expected(read.seq), expected(archived.seq), expected(unarchived.seq), expected(all.seq)]);
      expect(all.seq).toBe(unarchived.seq + 1);
    } finally {
      await subscriber.quit();
    }
  });
});

describe('markAllRead / markAllSeen up to a cursor', () => {
  it('marks read only what was delivered at or before the cursor, with one ALL_READ event', async () => {
    const user = await inboxUser('upto');
    const early = await deliver(user.externalId, 3);
    const { cursor } = await inbox(user);
    const late = await deliver(user.externalId, 2);

    const r = await markAll(user, 'markAllRead', cursor);
    expect(r).toMatchObject({ __typename: 'InboxChange', changedCount: 3, changed: [], seq: 6, unreadCount: 2, unseenCount: 2 });
    const rows = new Map((await notificationRows(user.recipientId)).map((n) => [n.id, n]));
    for (const id of early) expect(rows.get(id)).toMatchObject({ read: true, seen: true });
    for (const id of late) expect(rows.get(id)).toMatchObject({ read: false, seen: false });
    expect(await events(user.recipientId, 5)).toEqual([
      { seq: 6, type: 'ALL_READ', notification_id: null, unread_count: 2, unseen_count: 2, up_to_seq: 3 },
    ]);

    // Without upTo: everything delivered so far, and nothing delivered afterwards.
    const all = await markAll(user, 'markAllRead');
    expect(all).toMatchObject({ changedCount: 2, seq: 7, unreadCount: 0, unseenCount: 0 });
    expect(await events(user.recipientId, 6)).toEqual([
      { seq: 7, type: 'ALL_READ', notification_id: null, unread_count: 0, unseen_count: 0, up_to_seq: 6 },
    ]);
    const [later] = (await deliver(user.externalId, 1)) as [string];
    expect(await inbox(user)).toMatchObject({ unreadCount: 1, seq: 8 });
    expect((await notificationRows(user.recipientId)).find((n) => n.id === later)).toMatchObject({ read: false });

    // Nothing left to mark up to the old cursor: no event.
    expect(await markAll(user, 'markAllRead', cursor)).toMatchObject({ changedCount: 0, seq: 8, unreadCount: 1 });
    expect(await events(user.recipientId, 8)).toEqual([]);
    await expectConsistent(user.recipientId);
  });

  it('counts archived notifications out of the counters but still marks them', async () => {
    const user = await inboxUser('upto-archived');
    const [a, b] = (await deliver(user.externalId, 2)) as [string, string];
    await change(user, 'archive', [a]);
    const r = await markAll(user, 'markAllRead');
    expect(r).toMatchObject({ changedCount: 2, unreadCount: 0, unseenCount: 0 });
    const rows = await notificationRows(user.recipientId);
    expect(new Map(rows.map((n) => [n.id, n.read]))).toEqual(
      new Map([
        [a, true],
        [b, true],
      ]),
    );
    await expectConsistent(user.recipientId);
  });

  it('refuses a cursor of another recipient, a malformed one and one ahead of the inbox with ValidationError', async () => {
    const user = await inboxUser('bad-cursors');
    const other = await inboxUser('bad-cursors-other');
    await deliver(user.externalId, 2);
    await deliver(other.externalId, 1);
    const before = await inbox(user);
    const otherCursor = (await inbox(other)).cursor;
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const bad = [
      otherCursor,
      encodeInboxCursor({ recipientId: randomUUID(), seq: 1 }),
      'garbage!',
      '',
      'AAAA',
      b64(`i1:${user.recipientId}`),
      b64(`i1:${user.recipientId}:-1`),
      b64(`i1:${user.recipientId}:1:2`),
      b64(`i2:${user.recipientId}:1`),
      b64(`i1:not-a-uuid:1`),
      b64(`i1:${user.recipientId}:99999999999`),
      'x'.repeat(500),
      encodeInboxCursor({ recipientId: user.recipientId, seq: before.seq + 1 }),
    ];
    for (const field of ['markAllRead', 'markAllSeen'] as const) {
      for (const upTo of bad) {
        const r = await markAll(user, field, upTo);
        expect(r, `${field}(${upTo.slice(0, 60)})`).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
        expect(r.message).toMatch(/upTo/);
      }
    }
    const ahead = await markAll(user, 'markAllRead', encodeInboxCursor({ recipientId: user.recipientId, seq: before.seq + 1 }));
    expect(ahead.message).toMatch(/ahead/);
    expect(await inbox(user)).toEqual(before);
    expect(await events(user.recipientId)).toHaveLength(2);
  });

  it('markAllSeen marks seen (not read) up to the cursor, with one ALL_SEEN event', async () => {
    const user = await inboxUser('seen-upto');
    const early = await deliver(user.externalId, 3);
    const { cursor } = await inbox(user);
    const late = await deliver(user.externalId, 2);
    await change(user, 'markRead', [early[0] as string]);
    const r = await markAll(user, 'markAllSeen', cursor);
    expect(r).toMatchObject({ __typename: 'InboxChange', changedCount: 2, seq: 7, unreadCount: 4, unseenCount: 2 });
    const rows = new Map((await notificationRows(user.recipientId)).map((n) => [n.id, n]));
    expect(rows.get(early[0] as string)).toMatchObject({ read: true, seen: true });
    for (const id of early.slice(1)) expect(rows.get(id)).toMatchObject({ read: false, seen: true });
    for (const id of late) expect(rows.get(id)).toMatchObject({ read: false, seen: false });
    expect(await events(user.recipientId, 6)).toEqual([
      { seq: 7, type: 'ALL_SEEN', notification_id: null, unread_count: 4, unseen_count: 2, up_to_seq: 3 },
    ]);
    const all = await markAll(user, 'markAllSeen');
    expect(all).toMatchObject({ changedCount: 2, seq: 8, unreadCount: 4, unseenCount: 0 });
    await expectConsistent(user.recipientId);
  });

  it('with concurrent deliveries: what is delivered after the line stays unread, counters stay exact, events have no holes', async () => {
    const seed = seedFor('markAllRead racing deliveries');
    const random = seededRandom(seed);
    const user = await inboxUser('race');
    await deliver(user.externalId, 2);
    /** Backends of this database waiting for a lock (the blocked deliveries and markAllRead). */
    const lockWaiters = async () =>
      (
        await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      ).rows[0]?.n ?? 0;
    // Prisma ends an interactive transaction after 5 s: the lock is never held for more than ~2 s.
    let roundDeadline = 0;
    const waitForWaiters = async (n: number) => {
      const deadline = roundDeadline;
      for (;;) {
        if ((await lockWaiters()) >= n) return true;
        // A slow machine only weakens the round (less interleaving); the invariants hold either way.
        if (Date.now() > deadline) return false;
        await sleep(5);
      }
    };
    let fullyQueuedRounds = 0;
    let deliveredBeforeTheLine = 0;
    let deliveredAfterTheLine = 0;

    for (let round = 0; round < 30; round++) {
      const context = `(seed ${seed}, round ${round})`;
      const withCursor = round % 2 === 1;
      const { cursor, seq: seqAtStart } = await inbox(user);
      const upTo = withCursor ? cursor : null;
      const k = 1 + random.int(WORKER_CONCURRENCY);
      const held = round % 3 !== 2;
      const order = random.pick(['mark-first', 'deliveries-first', 'mixed'] as const);
      let blocker: pg.Client | null = null;
      roundDeadline = Date.now() + 2_000;
      if (held) {
        // Hold the recipient row lock the deliveries and markAllRead both need, and let them queue
        // up behind it in a chosen order: their commits then interleave right at the line.
        blocker = new pg.Client({ connectionString: api.databaseUrl });
        await blocker.connect();
        await blocker.query('BEGIN');
        await blocker.query(`SELECT 1 FROM recipients WHERE id = $1 FOR NO KEY UPDATE`, [user.recipientId]);
      }
      const sends: Promise<string>[] = [];
      const startSends = (n: number) => {
        for (let i = 0; i < n; i++) sends.push(send(user.externalId, { title: `round ${round} #${sends.length}` }));
      };
      let marking: Promise<Awaited<ReturnType<typeof markAll>>>;
      try {
        if (order === 'mark-first') {
          marking = markAll(user, 'markAllRead', upTo);
          if (held) await waitForWaiters(1);
          else await sleep(random.int(5));
          startSends(k);
        } else if (order === 'deliveries-first') {
          startSends(k);
          if (held) await waitForWaiters(k);
          else await sleep(random.int(15));
          marking = markAll(user, 'markAllRead', upTo);
        } else {
          const firstHalf = Math.ceil(k / 2);
          startSends(firstHalf);
          if (held) await waitForWaiters(firstHalf);
          else await sleep(random.int(10));
          marking = markAll(user, 'markAllRead', upTo);
          if (held) await waitForWaiters(firstHalf + 1);
          startSends(k - firstHalf);
        }
        if (held && (await waitForWaiters(k + 1))) fullyQueuedRounds++;
      } finally {
        if (blocker) {
          await blocker.query('COMMIT');
          await blocker.end();
        }
      }
      const result = await marking;
      const ids = await Promise.all(sends);
      const statuses = await settled(ids);
      for (const id of ids) expect(statuses.get(id), `${id} ${context}`).toBe('DELIVERED');

      expect(result.__typename, `${JSON.stringify(result)} ${context}`).toBe('InboxChange');
      // Where the line was drawn: the cursor's sequence, or the inbox's last sequence when the call
      // took the lock (recorded in its ALL_READ event; with nothing to mark, the result's seq).
      let line: number;
      if (result.changedCount > 0) {
        const [event] = await events(user.recipientId, result.seq - 1);
        expect(event, context).toMatchObject({ seq: result.seq, type: 'ALL_READ', notification_id: null });
        line = event?.up_to_seq as number;
        // Without a cursor the line is the last sequence when the call took the lock.
        if (!withCursor) expect(line, context).toBe(result.seq - 1);
      } else {
        line = withCursor ? seqAtStart : result.seq;
      }
      if (withCursor) expect(line, context).toBe(seqAtStart);

      // Exactly the notifications at or before the line are read; every later one is unread.
      const rows = await notificationRows(user.recipientId);
      const wrong = rows.filter((n) => n.read !== (n.delivered_seq as number) <= line);
      expect(wrong, `line ${line} ${context}`).toEqual([]);
      const mine = rows.filter((n) => ids.includes(n.id));
      deliveredBeforeTheLine += mine.filter((n) => (n.delivered_seq as number) <= line).length;
      deliveredAfterTheLine += mine.filter((n) => (n.delivered_seq as number) > line).length;
      const view = await inbox(user);
      expect(view.unreadCount, context).toBe(rows.filter((n) => !n.read).length);
      await expectConsistent(user.recipientId, context);
    }
    console.info(
      `race: ${fullyQueuedRounds} rounds with markAllRead and every delivery queued on the lock; ` +
        `${deliveredBeforeTheLine} deliveries landed before the line, ${deliveredAfterTheLine} after`,
    );
    // Both sides of the line were exercised by notifications sent during the rounds.
    expect(fullyQueuedRounds, `seed ${seed}`).toBeGreaterThan(0);
    expect(deliveredBeforeTheLine, `seed ${seed}`).toBeGreaterThan(0);
    expect(deliveredAfterTheLine, `seed ${seed}`).toBeGreaterThan(0);
  });
});
