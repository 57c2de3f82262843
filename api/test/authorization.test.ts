// The authorization matrix: every root field of the schema, called as every kind of principal (and as
// nobody), checked against DESIGN's principals table. The fields come from the schema object, never
// from a list here, so a new root field fails this file until it is classified in `expected`.
import { createHash, randomBytes } from 'node:crypto';
import type {
  GraphQLEnumType,
  GraphQLField,
  GraphQLInputObjectType,
  GraphQLInputType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNamedType,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLType,
  GraphQLUnionType,
} from 'graphql';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_TOKEN_ALGORITHM, CLIENT_TOKEN_ISSUER, clientTokenAudience } from '../src/auth/client-token.ts';
import { decodeInboxCursor } from '../src/inbox/cursor.ts';
import { schema } from '../src/schema/index.ts';
import {
  bearer,
  createTenant,
  createTestApi,
  mintClientToken,
  signUp,
  startTestWorker,
  type Tenant,
  type TestApi,
  uniqueName,
} from './harness.ts';

// ---------------------------------------------------------------------------------------------------
// The expected table. Columns are DESIGN's principals, seen from project P's environment A (its
// DEVELOPMENT environment), which every call targets:
//   none                 no credentials at all
//   apiKey               an API key of environment A
//   foreignApiKey        an API key of another project's environment B, naming A where the field takes
//                        an environment (fields without one act on B's own environment)
//   clientToken          a client token of environment A for recipient R, whose inbox holds a delivered
//                        notification; the inbox fields name R's objects
//   otherRecipientToken  a client token of environment A for another recipient, R2 (with its own)
//   foreignClientToken   a client token of environment B for its recipient RB (with its own)
//   outsider             a dashboard session of a user who is not a member of P
//   member/admin/owner   dashboard sessions of P's members with that role
// ---------------------------------------------------------------------------------------------------
type Column =
  | 'none'
  | 'apiKey'
  | 'foreignApiKey'
  | 'clientToken'
  | 'otherRecipientToken'
  | 'foreignClientToken'
  | 'outsider'
  | 'member'
  | 'admin'
  | 'owner';

const everyone: readonly Column[] = [
  'none',
  'apiKey',
  'foreignApiKey',
  'clientToken',
  'otherRecipientToken',
  'foreignClientToken',
  'outsider',
  'member',
  'admin',
  'owner',
];
const anySession: readonly Column[] = ['outsider', 'member', 'admin', 'owner'];
/** MEMBER reads. */
const readers: readonly Column[] = ['member', 'admin', 'owner'];
/** ADMIN also manages keys, templates, webhooks and environments; OWNER can do everything ADMIN can. */
const managers: readonly Column[] = ['admin', 'owner'];
/** Any client token, each on its own recipient's inbox: R2's and RB's tokens never reach R's. */
const clientTokens: readonly Column[] = ['clientToken', 'otherRecipientToken', 'foreignClientToken'];

const expected: Record<string, readonly Column[]> = {
  // Public: `me` answers null without a session; signing up and logging in need no principal.
  'Query.me': everyone,
  'Mutation.signUp': everyone,
  'Mutation.logIn': everyone,
  // Dashboard sessions only, whatever their memberships.
  'Query.projects': anySession,
  'Mutation.createProject': anySession,
  'Mutation.logOut': anySession,
  // The project itself: its members.
  'Query.project': readers,
  // Members and invitations: every member sees them; only OWNERs manage them. An invitation link
  // is previewed without logging in and accepted by any logged-in user (the email decides).
  'Query.invitations': readers,
  'Query.invitation': everyone,
  'Mutation.inviteMember': ['owner'],
  'Mutation.revokeInvitation': ['owner'],
  'Mutation.updateMemberRole': ['owner'],
  'Mutation.removeMember': ['owner'],
  'Mutation.acceptInvitation': anySession,
  // API keys are managed from the dashboard only: a key never lists or mints keys.
  'Query.apiKeys': readers,
  'Mutation.createApiKey': managers,
  'Mutation.revokeApiKey': managers,
  // An environment's settings and its client-token signing secret: admins, never keys or tokens.
  'Mutation.updateEnvironment': managers,
  'Mutation.rotateClientTokenSecret': managers,
  // Templates: the environment's own API keys, or members (read) and admins (write).
  'Query.templates': ['apiKey', ...readers],
  'Query.template': ['apiKey', ...readers],
  'Mutation.createTemplate': ['apiKey', ...managers],
  'Mutation.updateTemplate': ['apiKey', ...managers],
  'Mutation.deleteTemplate': ['apiKey', ...managers],
  // Previews change nothing: whoever may read templates may preview them.
  'Mutation.previewTemplate': ['apiKey', ...readers],
  // Webhooks, like templates: the environment's own API keys, or members (read) and admins (manage,
  // which includes revealing a secret and sending test events).
  'Query.webhookEventTypes': ['apiKey', ...readers],
  'Query.webhookEndpoints': ['apiKey', ...readers],
  'Query.webhookEndpoint': ['apiKey', ...readers],
  'Query.webhookDelivery': ['apiKey', ...readers],
  'Query.webhookDeliveries': ['apiKey', ...readers],
  'Query.webhookEndpointEvents': ['apiKey', ...readers],
  'Mutation.createWebhookEndpoint': ['apiKey', ...managers],
  'Mutation.updateWebhookEndpoint': ['apiKey', ...managers],
  'Mutation.deleteWebhookEndpoint': ['apiKey', ...managers],
  'Mutation.revealWebhookEndpointSecret': ['apiKey', ...managers],
  'Mutation.rotateWebhookEndpointSecret': ['apiKey', ...managers],
  'Mutation.disableWebhookEndpoint': ['apiKey', ...managers],
  'Mutation.enableWebhookEndpoint': ['apiKey', ...managers],
  'Mutation.sendWebhookTestEvent': ['apiKey', ...managers],
  'Mutation.redeliverWebhook': ['apiKey', ...managers],
  'Mutation.recoverWebhookDeliveries': ['apiKey', ...managers],
  // What was sent, and to whom: the environment's own API keys, or any member.
  'Query.notifications': ['apiKey', ...readers],
  'Query.notification': ['apiKey', ...readers],
  'Query.recipients': ['apiKey', ...readers],
  'Query.recipient': ['apiKey', ...readers],
  // Erasing a recipient (a data-deletion request): the environment's keys, or its admins.
  'Mutation.deleteRecipient': ['apiKey', ...managers],
  // The dashboard's test send: admins act as the environment's API key would.
  'Mutation.sendTestNotification': managers,
  // `send` and `createClientToken` name no environment: any valid API key acts in its own (B's key
  // sends into B and mints B's tokens; see "createClientToken with another project's key").
  'Mutation.send': ['apiKey', 'foreignApiKey'],
  'Mutation.createClientToken': ['apiKey', 'foreignApiKey'],
  // The inbox: client tokens only, each on its own recipient's inbox.
  'Query.inbox': clientTokens,
  'Mutation.markRead': clientTokens,
  'Mutation.markUnread': clientTokens,
  'Mutation.markSeen': clientTokens,
  'Mutation.archive': clientTokens,
  'Mutation.unarchive': clientTokens,
  'Mutation.markAllRead': clientTokens,
  'Mutation.markAllSeen': clientTokens,
  'Subscription.inboxEvents': clientTokens,
};

/** Fields only client tokens may call: each token's own inbox, so R2's and RB's calls must not touch R's. */
const inboxFields = new Set(
  Object.entries(expected)
    .filter(([, allowed]) => allowed.length > 0 && allowed.every((c) => clientTokens.includes(c)))
    .map(([coordinate]) => coordinate),
);

/**
 * Nested fields with auth scopes of their own: who may read them where they reach the parent object.
 * A client token reaches notifications through its inbox, but not the webhook deliveries reporting them.
 */
const expectedNested: Record<string, readonly Column[]> = {
  'Notification.webhookDeliveries': ['apiKey', ...readers],
};

/** Who calls: every column, plus callers that must count as nobody or be refused outright. */
type Caller = Column | 'sessionWithoutCsrf' | 'invalidBearer' | 'expiredClientToken' | 'forgedClientToken';

// Other recipients' tokens come before R's own, so they meet R's inbox before R's calls change it.
const callerLabels: Record<Caller, string> = {
  none: 'no credentials',
  apiKey: 'API key of A',
  foreignApiKey: 'API key of another project naming A',
  otherRecipientToken: 'client token of A for another recipient (R2)',
  foreignClientToken: "client token of another project's environment (RB)",
  clientToken: 'client token of A for R',
  outsider: 'session of a non-member',
  member: "P's MEMBER",
  admin: "P's ADMIN",
  owner: "P's OWNER",
  sessionWithoutCsrf: "OWNER's cookie without X-CSRF-Token",
  invalidBearer: '"Bearer not-a-key"',
  expiredClientToken: "R's client token, expired (signed with A's secret)",
  forgedClientToken: "R's client token claims, signed with the wrong secret",
};
const callers = Object.keys(callerLabels) as Caller[];

type Outcome = 'allowed' | 'its own inbox only' | 'UNAUTHENTICATED' | 'FORBIDDEN';

function outcomeFor(coordinate: string, allowed: readonly Column[], caller: Caller): Outcome {
  // Bad bearer tokens (malformed, expired, forged) are refused before any field runs, public ones included.
  if (caller === 'invalidBearer' || caller === 'expiredClientToken' || caller === 'forgedClientToken') return 'UNAUTHENTICATED';
  // A session cookie without its CSRF header is ignored: the request is anonymous.
  const column: Column = caller === 'sessionWithoutCsrf' ? 'none' : caller;
  if (allowed.includes(column)) return inboxFields.has(coordinate) && column !== 'clientToken' ? 'its own inbox only' : 'allowed';
  return column === 'none' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
}

// ---------------------------------------------------------------------------------------------------
// The root fields, from the schema.
// ---------------------------------------------------------------------------------------------------

// graphql-js's isXType() predicates use instanceof, and this file gets graphql's ESM build while the
// schema was built with its CJS one ("Cannot use GraphQLNonNull from another module or realm"); the
// types' Symbol.toStringTag says the same without caring which copy made them.
const tagOf = (type: unknown) => Object.prototype.toString.call(type).slice(8, -1);
const isNonNullType = (t: unknown): t is GraphQLNonNull<any> => tagOf(t) === 'GraphQLNonNull';
const isListType = (t: unknown): t is GraphQLList<any> => tagOf(t) === 'GraphQLList';
const isObjectType = (t: unknown): t is GraphQLObjectType => tagOf(t) === 'GraphQLObjectType';
const isInterfaceType = (t: unknown): t is GraphQLInterfaceType => tagOf(t) === 'GraphQLInterfaceType';
const isUnionType = (t: unknown): t is GraphQLUnionType => tagOf(t) === 'GraphQLUnionType';
const isInputObjectType = (t: unknown): t is GraphQLInputObjectType => tagOf(t) === 'GraphQLInputObjectType';
const isEnumType = (t: unknown): t is GraphQLEnumType => tagOf(t) === 'GraphQLEnumType';
const isScalarType = (t: unknown): t is GraphQLScalarType => tagOf(t) === 'GraphQLScalarType';

function getNamedType(type: GraphQLType): GraphQLNamedType {
  return isNonNullType(type) || isListType(type) ? getNamedType(type.ofType) : type;
}

interface RootField {
  coordinate: string;
  operation: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
}

function fieldsOf(type: GraphQLObjectType | null | undefined, operation: RootField['operation']): RootField[] {
  if (!type) return [];
  return Object.values(type.getFields()).map((field) => ({ coordinate: `${type.name}.${field.name}`, operation, field }));
}

const rootFields = [
  ...fieldsOf(schema.getQueryType(), 'query'),
  ...fieldsOf(schema.getMutationType(), 'mutation'),
  ...fieldsOf(schema.getSubscriptionType(), 'subscription'),
];
/** Non-root fields that declare auth scopes of their own (Pothos keeps a field's options in its extensions). */
const rootTypeNames = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((t) => t?.name));
const scopedNestedFields = Object.values(schema.getTypeMap())
  .filter((type): type is GraphQLObjectType => isObjectType(type) && !rootTypeNames.has(type.name))
  .flatMap((type) =>
    Object.values(type.getFields())
      .filter((f) => (f.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes !== undefined)
      .map((f) => `${type.name}.${f.name}`),
  );

/** Fields that end the caller's own session: each such call gets a session of its own. */
const sessionEnding = new Set(['Mutation.logOut']);

const PASSWORD = 'matrix password: long enough, not guessable';
/** Whom createClientToken mints for in the matrix: B's key mints too, and must not create B's twin of R. */
const TOKEN_TARGET = 'matrix-token-target';
/**
 * Where A's webhook endpoints point: a public address (the API refuses others by default), written as
 * an IP so checking it needs no DNS. Nothing is ever sent there: the only worker this file runs has
 * stopped before the first endpoint is created.
 */
const WEBHOOK_URL = 'https://93.184.216.34/hook';
/**
 * What A's endpoints subscribe to: R marking its notification read gives it a delivery (see
 * "Notification.webhookDeliveries" at the end).
 */
const WEBHOOK_EVENTS = ['notification.read'];

// ---------------------------------------------------------------------------------------------------
// Fixtures: project P (environment A) with an owner, an admin and a member added as memberships; an
// unrelated user; another tenant (environment B); one object of each kind in A (a webhook endpoint
// and a delivery to it among them); and three inboxes, each with a notification delivered by the
// render worker: R's and R2's in A, RB's in B.
// ---------------------------------------------------------------------------------------------------
interface User {
  email: string;
  headers: Record<string, string>;
}

interface InboxReader {
  label: string;
  externalId: string;
  recipientId: string;
  /** A notification delivered to this recipient. */
  notificationId: string;
  /** The API key that mints this recipient's tokens (its environment's). */
  apiKey: string;
  environmentId: string;
}

interface Fixtures {
  tenantA: Tenant;
  tenantB: Tenant;
  users: Record<'owner' | 'admin' | 'member' | 'outsider' | 'loginTarget', User>;
  apiKeyId: string;
  templateId: string;
  templateKey: string;
  webhookEndpointId: string;
  /** A `webhook.test` delivery to the endpoint, never attempted. */
  webhookDeliveryId: string;
  notificationId: string;
  recipientId: string;
  recipientExternalId: string;
  inboxes: Record<'R' | 'R2' | 'RB', InboxReader>;
  /** R's inbox cursor before its notification was delivered (sequence 0). */
  cursorBeforeDelivery: string;
}

let api: TestApi;
let fx: Fixtures;

function must<T>(value: T | null | undefined, what: string): T {
  if (value == null) throw new Error(`fixture: ${what} is missing`);
  return value;
}

async function logIn(email: string): Promise<Record<string, string>> {
  const { body, response } = await api.gql(
    `mutation($input: LogInInput!) { logIn(input: $input) { __typename ... on AuthPayload { csrfToken } } }`,
    { input: { email, password: PASSWORD } },
  );
  const csrfToken = must(body.data?.logIn?.csrfToken as string | undefined, `logIn of ${email}: ${JSON.stringify(body)}`);
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, 'x-csrf-token': csrfToken };
}

async function createTemplateInA(): Promise<{ id: string; key: string }> {
  const { body } = await api.gql(
    `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { ... on CreateTemplateSuccess { template { id key } } } }`,
    { input: { key: uniqueName('tpl'), title: 'Hello {{ name }}', body: 'Body' } },
    bearer(fx.tenantA.apiKey),
  );
  return must(body.data?.createTemplate?.template, `createTemplate: ${JSON.stringify(body)}`);
}

function invitationRow() {
  return {
    projectId: fx.tenantA.projectId,
    email: `${uniqueName('invitee')}@example.com`,
    role: 'MEMBER' as const,
    tokenHash: randomBytes(16).toString('hex'),
    expiresAt: new Date(Date.now() + 3600_000),
  };
}

/**
 * A valid invitation link for the caller's email, to a project of its own (accepting it must not make
 * the outsider a member of P).
 */
async function invitationFor(caller: Caller): Promise<string> {
  const token = randomBytes(16).toString('base64url');
  const users = fx.users as Record<string, { email: string } | undefined>;
  const email = users[caller === 'sessionWithoutCsrf' ? 'owner' : caller]?.email ?? `${uniqueName('nobody')}@example.com`;
  await api.db.prisma.project.create({
    data: {
      name: 'Invited to',
      invitations: {
        create: {
          email,
          role: 'MEMBER',
          tokenHash: createHash('sha256').update(token).digest('hex'),
          expiresAt: new Date(Date.now() + 3600_000),
        },
      },
    },
  });
  return token;
}

/** A user who signed up nobody knows how, made a MEMBER of P for one call. */
async function freshMemberOfA(): Promise<string> {
  const user = await api.db.prisma.user.create({
    data: {
      email: `${uniqueName('throwaway')}@example.com`,
      passwordHash: 'unusable',
      memberships: { create: { projectId: fx.tenantA.projectId, role: 'MEMBER' } },
    },
  });
  return user.id;
}

async function createApiKeyInA(): Promise<string> {
  const { body } = await api.gql(
    `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "fresh" }) { ... on CreatedApiKey { apiKey { id } } } }`,
    { e: fx.tenantA.developmentId },
    fx.tenantA.sessionHeaders,
  );
  return must(body.data?.createApiKey?.apiKey?.id as string | undefined, `createApiKey: ${JSON.stringify(body)}`);
}

async function sendWith(apiKey: string, to: string): Promise<{ id: string; recipient: { id: string } }> {
  const { body } = await api.gql(
    `mutation($input: SendInput!) { send(input: $input) { ... on SendSuccess { notification { id recipient { id } } } } }`,
    { input: { to, title: 'Hello', body: `for ${to}` } },
    bearer(apiKey),
  );
  return must(body.data?.send?.notification, `send: ${JSON.stringify(body)}`);
}

const sendInA = (to: string) => sendWith(fx.tenantA.apiKey, to);

/** Runs a webhook mutation with A's key and returns its result, failing on an error or Error result. */
async function webhookCallInA(field: string, text: string, variables: Record<string, unknown>): Promise<any> {
  const { body } = await api.gql(text, variables, bearer(fx.tenantA.apiKey));
  const result = body.data?.[field];
  if (body.errors || !result || result.code) throw new Error(`fixture: ${field}: ${JSON.stringify(body)}`);
  return result;
}

async function createWebhookEndpointInA(): Promise<string> {
  const result = await webhookCallInA(
    'createWebhookEndpoint',
    `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { ... on CreatedWebhookEndpoint { endpoint { id } } ... on Error { code message } } }`,
    { input: { url: WEBHOOK_URL, eventTypes: WEBHOOK_EVENTS } },
  );
  return must(result.endpoint?.id as string | undefined, 'createWebhookEndpoint');
}

async function sendWebhookTestEventInA(endpointId: string): Promise<string> {
  const result = await webhookCallInA(
    'sendWebhookTestEvent',
    `mutation($id: ID!) { sendWebhookTestEvent(id: $id) { ... on SendWebhookTestEventSuccess { delivery { id } } ... on Error { code message } } }`,
    { id: endpointId },
  );
  return must(result.delivery?.id as string | undefined, 'sendWebhookTestEvent');
}

async function disableWebhookEndpointInA(endpointId: string): Promise<void> {
  await webhookCallInA(
    'disableWebhookEndpoint',
    `mutation($id: ID!) { disableWebhookEndpoint(id: $id) { __typename ... on Error { code message } } }`,
    { id: endpointId },
  );
}

/**
 * Fresh endpoints, deleted after each test: A may hold only 50 endpoints, and the matrix makes one for
 * nearly every webhook mutation case.
 */
const freshEndpoints: string[] = [];

/**
 * A fresh endpoint of A, in the state `coordinate` changes, so that a refused call which went through
 * would show in the fingerprint: disabled for enableWebhookEndpoint; with a FAILED delivery for
 * recoverWebhookDeliveries.
 */
async function freshWebhookEndpointInA(coordinate: string): Promise<string> {
  const id = await createWebhookEndpointInA();
  freshEndpoints.push(id);
  if (coordinate === 'Mutation.enableWebhookEndpoint') await disableWebhookEndpointInA(id);
  if (coordinate === 'Mutation.recoverWebhookDeliveries') {
    // Only a worker's attempts fail a delivery, and none runs here: the row is written as the worker
    // leaves a delivery whose schedule is exhausted.
    const deliveryId = await sendWebhookTestEventInA(id);
    await api.db.prisma.webhookDelivery.update({
      where: { id: deliveryId },
      data: { status: 'FAILED', failureReason: 'Exhausted (fixture).', nextAttemptAt: null, completedAt: new Date() },
    });
  }
  return id;
}

afterEach(async () => {
  for (const id of freshEndpoints.splice(0)) {
    // NOT_FOUND when the test itself deleted it.
    await api.gql('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }', { id }, bearer(fx.tenantA.apiKey));
  }
});

/** Runs the real render worker until the given notifications are DELIVERED, then stops it. */
async function deliver(ids: string[]): Promise<void> {
  const worker = await startTestWorker(api);
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await api.db.prisma.notification.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
      if (rows.length === ids.length && rows.every((r) => r.status === 'DELIVERED')) break;
      if (Date.now() > deadline) throw new Error(`fixture: notifications not delivered: ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    // Stopped before the matrix runs: later sends stay ACCEPTED, so nothing changes behind a
    // refused call's back and the before/after fingerprints compare like for like.
    await worker.stop();
  }
}

/** A client token signed here, as the API would sign it but with the expiry and secret chosen. */
async function signClientToken(args: { secret: string; environmentId: string; recipientId: string; expiresInSeconds: number }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: CLIENT_TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(CLIENT_TOKEN_ISSUER)
    .setAudience(clientTokenAudience(args.environmentId))
    .setSubject(args.recipientId)
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + args.expiresInSeconds)
    .sign(new TextEncoder().encode(args.secret));
}

/** A's current signing secret, read fresh: the matrix rotates it (rotateClientTokenSecret). */
async function secretOfA(): Promise<string> {
  const environment = await api.db.prisma.environment.findUniqueOrThrow({
    where: { id: fx.tenantA.developmentId },
    select: { clientTokenSecret: true },
  });
  return environment.clientTokenSecret;
}

beforeAll(async () => {
  api = await createTestApi();
  const [tenantA, tenantB] = await Promise.all([createTenant(api), createTenant(api)]);
  const user = (name: string) => signUp(api, `${uniqueName(name)}@example.com`, PASSWORD);
  const [owner, admin, member, outsider, loginTarget] = await Promise.all([
    user('owner'),
    user('admin'),
    user('member'),
    user('outsider'),
    user('login-target'),
  ]);
  // Memberships are fixture rows for users who signed up through the API (members.test.ts covers invitations).
  await api.db.prisma.membership.createMany({
    data: [
      { projectId: tenantA.projectId, userId: owner.userId, role: 'OWNER' },
      { projectId: tenantA.projectId, userId: admin.userId, role: 'ADMIN' },
      { projectId: tenantA.projectId, userId: member.userId, role: 'MEMBER' },
    ],
  });
  const apiKey = await api.db.prisma.apiKey.findFirstOrThrow({ where: { environmentId: tenantA.developmentId } });
  fx = {
    tenantA,
    tenantB,
    users: { owner, admin, member, outsider, loginTarget },
    apiKeyId: apiKey.id,
    templateId: '',
    templateKey: '',
    webhookEndpointId: '',
    webhookDeliveryId: '',
    notificationId: '',
    recipientId: '',
    recipientExternalId: uniqueName('recipient-a'),
    inboxes: {} as Fixtures['inboxes'],
    cursorBeforeDelivery: '',
  };
  const template = await createTemplateInA();
  fx.templateId = template.id;
  fx.templateKey = template.key;

  const reader = async (label: string, apiKey: string, environmentId: string, externalId: string): Promise<InboxReader> => {
    const sent = await sendWith(apiKey, externalId);
    return { label, externalId, recipientId: sent.recipient.id, notificationId: sent.id, apiKey, environmentId };
  };
  const [r, r2, rB] = await Promise.all([
    reader('R', tenantA.apiKey, tenantA.developmentId, fx.recipientExternalId),
    reader('R2', tenantA.apiKey, tenantA.developmentId, uniqueName('recipient-a2')),
    reader('RB', tenantB.apiKey, tenantB.developmentId, uniqueName('recipient-b')),
  ]);
  fx.inboxes = { R: r, R2: r2, RB: rB };
  fx.notificationId = r.notificationId;
  fx.recipientId = r.recipientId;

  const before = await api.gql('{ inbox { cursor } }', {}, bearer((await mintClientToken(api, r.apiKey, r.externalId)).token));
  fx.cursorBeforeDelivery = must(before.body.data?.inbox?.cursor as string | undefined, `R's inbox cursor: ${JSON.stringify(before.body)}`);
  await deliver([r.notificationId, r2.notificationId, rB.notificationId]);

  // After the worker has stopped: nothing ever attempts a delivery, so no request to the endpoint's
  // address can slow the file, and no attempt changes a delivery behind a refused call's back.
  fx.webhookEndpointId = await createWebhookEndpointInA();
  fx.webhookDeliveryId = await sendWebhookTestEventInA(fx.webhookEndpointId);
});

afterAll(async () => {
  await api?.close();
});

// ---------------------------------------------------------------------------------------------------
// Building a call from the field's arguments.
// ---------------------------------------------------------------------------------------------------

let environmentEdits = 0;

/** Minimal valid values for input types whose required fields alone would not pass validation. */
const sampleInputs: Record<string, () => Record<string, unknown>> = {
  SignUpInput: () => ({ email: `${uniqueName('matrix')}@example.com`, password: PASSWORD }),
  LogInInput: () => ({ email: fx.users.loginTarget.email, password: PASSWORD }),
  CreateProjectInput: () => ({ name: 'Matrix project' }),
  CreateApiKeyInput: () => ({ name: 'matrix key' }),
  InviteMemberInput: () => ({ email: `${uniqueName('invitee')}@example.com`, role: 'MEMBER' }),
  CreateTemplateInput: () => ({ key: uniqueName('matrix'), title: 'Title', body: 'Body' }),
  UpdateTemplateInput: () => ({ name: 'Renamed by the matrix' }),
  CreateWebhookEndpointInput: () => ({ url: WEBHOOK_URL, eventTypes: WEBHOOK_EVENTS }),
  UpdateWebhookEndpointInput: () => ({ description: 'Described by the matrix' }),
  // Not the fixture recipient: B's key sends too, and must not create B's twin of A's recipient.
  SendInput: () => ({ to: 'matrix-send-target', title: 'Hello', body: 'World' }),
  // A new value each time (never below the default), so a refused edit would show in the fingerprint.
  UpdateEnvironmentInput: () => ({ apiKeyOpsPerMinute: 60_000 + ++environmentEdits }),
};

const scalarSamples: Record<string, () => unknown> = {
  String: () => 'sample',
  ID: () => 'sample',
  Int: () => 1,
  Float: () => 1,
  Boolean: () => false,
  JSON: () => ({}),
  // In the past: `since` arguments must not be in the future, and must cover fixtures made just now.
  DateTime: () => new Date(Date.now() - 3_600_000).toISOString(),
};

function sampleValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return [sampleValue(type.ofType)];
  if (isInputObjectType(type)) {
    const sample = sampleInputs[type.name];
    if (sample) return sample();
    const value: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type)) value[f.name] = sampleValue(f.type);
    return value;
  }
  if (isEnumType(type)) return must(type.getValues()[0], `a value of enum ${type.name}`).value;
  if (isScalarType(type)) {
    const sample = scalarSamples[type.name];
    if (sample) return sample();
  }
  throw new Error(`No sample value for ${String(type)}: add one to the authorization matrix`);
}

type Entity =
  | 'project'
  | 'apikey'
  | 'template'
  | 'notification'
  | 'recipient'
  | 'inboxNotification'
  | 'webhookEndpoint'
  | 'webhookDelivery'
  | 'invitation'
  | 'member';

/** The kind of object a field's `id` names, from the field's name (`revokeApiKey` → apikey). */
function entityOf(name: string): Entity | undefined {
  if (name === 'webhookDelivery' || name === 'redeliverWebhook') return 'webhookDelivery';
  if (/invitation/i.test(name)) return 'invitation';
  if (/member/i.test(name)) return 'member';
  // Every other webhook field names an endpoint (recoverWebhookDeliveries and sendWebhookTestEvent too).
  if (/webhook/i.test(name)) return 'webhookEndpoint';
  return /apiKey|template|notification|recipient|project/i.exec(name)?.[0].toLowerCase() as Entity | undefined;
}

/** Inbox fields (`markRead(ids)`) name notifications of the caller's inbox: here R's. */
function entityFor(root: RootField): Entity | undefined {
  return entityOf(root.field.name) ?? (inboxFields.has(root.coordinate) ? 'inboxNotification' : undefined);
}

/** An object of environment A; a fresh one when the call may change or destroy it. */
async function objectId(entity: Entity | undefined, fresh: boolean, coordinate: string): Promise<string> {
  switch (entity) {
    case 'project':
      return fx.tenantA.projectId;
    case 'apikey':
      return fresh ? createApiKeyInA() : fx.apiKeyId;
    case 'template':
      return fresh ? (await createTemplateInA()).id : fx.templateId;
    case 'notification':
      return fresh ? (await sendInA(uniqueName('fresh'))).id : fx.notificationId;
    case 'recipient':
      return fx.recipientId;
    case 'webhookEndpoint':
      return fresh ? freshWebhookEndpointInA(coordinate) : fx.webhookEndpointId;
    case 'webhookDelivery':
      return fresh ? sendWebhookTestEventInA(await freshWebhookEndpointInA(coordinate)) : fx.webhookDeliveryId;
    // Inbox changes are reversible and idempotent (marking a read notification read again changes
    // nothing and succeeds), so R's delivered notification serves every call.
    case 'inboxNotification':
      return fx.inboxes.R.notificationId;
    // A throwaway invitation, or member, of P: removing or demoting one never touches the callers.
    case 'invitation':
      return (await api.db.prisma.invitation.create({ data: invitationRow() })).id;
    case 'member':
      return freshMemberOfA();
    default:
      throw new Error(`${coordinate}: no fixture for the object its id names; teach objectId about it`);
  }
}

async function referenceValue(root: RootField, argName: string, fresh: boolean): Promise<unknown> {
  const entity = entityFor(root);
  if (argName === 'projectId') return fx.tenantA.projectId;
  if (argName === 'id') return objectId(entity, fresh, root.coordinate);
  if (argName === 'ids') return [await objectId(entity, fresh, root.coordinate)];
  if (argName === 'key' && entity === 'template') return fx.templateKey;
  // Erasing names a fresh recipient of A (sent to just now), never R.
  if (argName === 'externalId' && fresh && root.coordinate === 'Mutation.deleteRecipient') {
    const to = uniqueName('erasable');
    await sendInA(to);
    return to;
  }
  if (argName === 'externalId') return fx.recipientExternalId;
  if (argName === 'userId') return objectId('member', fresh, root.coordinate);
  if (argName === 'recipient') return TOKEN_TARGET;
  const named = /^(\w+)Id$/.exec(argName)?.[1];
  if (named) return objectId(entityOf(named), fresh, root.coordinate);
  return undefined;
}

/**
 * Every field without required arguments, nested `depth` levels (every member of a union): what an
 * inbox field returns is selected whole, so anything of another recipient it let through would show.
 * Nested fields client tokens may not read are left out: they are checked on their own (see
 * "Notification.webhookDeliveries" below).
 */
function selectAll(type: GraphQLNamedType, depth: number): string {
  if (isUnionType(type))
    return `{ __typename ${type
      .getTypes()
      .map((t) => `... on ${t.name} ${selectAll(t, depth)}`)
      .join(' ')} }`;
  if (!isObjectType(type) && !isInterfaceType(type)) return '';
  const parts = ['__typename'];
  for (const f of Object.values(type.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    if (!(expectedNested[`${type.name}.${f.name}`] ?? clientTokens).includes('clientToken')) continue;
    const inner = getNamedType(f.type);
    const composite = isObjectType(inner) || isInterfaceType(inner) || isUnionType(inner);
    if (!composite) parts.push(f.name);
    else if (depth > 1) parts.push(`${f.name} ${selectAll(inner, depth - 1)}`);
  }
  return `{ ${parts.join(' ')} }`;
}

interface Call {
  text: string;
  variables: Record<string, unknown>;
}

/**
 * The field's operation with its required arguments (and `environmentId`, which sessions need) filled
 * from fixtures. `environmentId: null` leaves an optional environment out, as an API key may. Without
 * a `selection`, object results select `__typename` (and an Error member's code); inbox fields select
 * everything.
 */
async function planCall(
  root: RootField,
  target: { environmentId: string | null; fresh?: boolean; selection?: string; extra?: Record<string, unknown> },
): Promise<Call> {
  const definitions: string[] = [];
  const uses: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of root.field.args) {
    const required = isNonNullType(arg.type);
    let value: unknown;
    if (target.extra && arg.name in target.extra) {
      value = target.extra[arg.name];
    } else if (arg.name === 'environmentId') {
      if (target.environmentId === null && !required) continue;
      value = target.environmentId ?? fx.tenantA.developmentId;
    } else if (required) {
      value = (await referenceValue(root, arg.name, target.fresh ?? false)) ?? sampleValue(arg.type);
    } else {
      continue;
    }
    variables[arg.name] = value;
    definitions.push(`$${arg.name}: ${String(arg.type)}`);
    uses.push(`${arg.name}: $${arg.name}`);
  }
  const named = getNamedType(root.field.type);
  let selection = target.selection ? ` { ${target.selection} }` : '';
  if (!target.selection && inboxFields.has(root.coordinate)) {
    selection = ` ${selectAll(named, 4)}`;
  } else if (!target.selection && (isObjectType(named) || isInterfaceType(named) || isUnionType(named))) {
    const errorInterface = schema.getType('Error');
    const canBeError = isUnionType(named) && named.getTypes().some((t) => t.getInterfaces().some((i) => i === errorInterface));
    selection = ` { __typename${canBeError ? ' ... on Error { code message }' : ''} }`;
  }
  const head = definitions.length ? `${root.operation} Matrix(${definitions.join(', ')})` : `${root.operation} Matrix`;
  const call = uses.length ? `${root.field.name}(${uses.join(', ')})` : root.field.name;
  return { text: `${head} { ${call}${selection} }`, variables };
}

const tokenReader: Partial<Record<Caller, 'R' | 'R2' | 'RB'>> = {
  clientToken: 'R',
  otherRecipientToken: 'R2',
  foreignClientToken: 'RB',
};

/**
 * The caller's request headers; `ownSession` logs in anew instead of reusing the shared session.
 * Client tokens are minted for each call: the matrix rotates A's signing secret (twice, which retires
 * the secret older tokens were signed with), and a token must stay valid for the calls after that.
 */
async function headersFor(caller: Caller, ownSession: boolean): Promise<Record<string, string>> {
  const minted = async (inbox: InboxReader) => bearer((await mintClientToken(api, inbox.apiKey, inbox.externalId)).token);
  switch (caller) {
    case 'clientToken':
      return minted(fx.inboxes.R);
    case 'otherRecipientToken':
      return minted(fx.inboxes.R2);
    case 'foreignClientToken':
      return minted(fx.inboxes.RB);
    case 'none':
      return {};
    case 'apiKey':
      return bearer(fx.tenantA.apiKey);
    case 'foreignApiKey':
      return bearer(fx.tenantB.apiKey);
    case 'invalidBearer':
      return { authorization: 'Bearer not-a-key' };
    case 'expiredClientToken':
      return bearer(
        await signClientToken({
          secret: await secretOfA(),
          environmentId: fx.tenantA.developmentId,
          recipientId: fx.inboxes.R.recipientId,
          expiresInSeconds: -60,
        }),
      );
    case 'forgedClientToken':
      return bearer(
        await signClientToken({
          secret: randomBytes(32).toString('base64url'),
          environmentId: fx.tenantA.developmentId,
          recipientId: fx.inboxes.R.recipientId,
          expiresInSeconds: 3600,
        }),
      );
    case 'sessionWithoutCsrf': {
      const { cookie } = ownSession ? await logIn(fx.users.owner.email) : fx.users.owner.headers;
      return { cookie: must(cookie, 'owner cookie') };
    }
    default:
      return ownSession ? logIn(fx.users[caller].email) : fx.users[caller].headers;
  }
}

/**
 * What a refused call must not have changed: cheap counts that every mutation here would move (but
 * revealWebhookEndpointSecret, which changes nothing: its refusal shows in the answer alone).
 */
async function fingerprint() {
  const p = api.db.prisma;
  const [
    users,
    sessions,
    projects,
    memberships,
    apiKeys,
    revokedApiKeys,
    templates,
    templateEdit,
    notifications,
    recipients,
    inboxEvents,
    inboxSeqs,
    read,
    seen,
    archived,
    environments,
    webhookEndpoints,
    webhookEndpointEdit,
    webhookEndpointEvents,
    webhookDeliveries,
    webhookDeliveryEdit,
  ] = await Promise.all([
    p.user.count(),
    p.session.count(),
    p.project.count(),
    p.membership.count(),
    p.apiKey.count(),
    p.apiKey.count({ where: { revokedAt: { not: null } } }),
    p.template.count(),
    p.template.aggregate({ _max: { updatedAt: true } }),
    p.notification.count(),
    p.recipient.count(),
    p.inboxEvent.count(),
    p.recipient.aggregate({ _sum: { lastSeq: true, unreadCount: true, unseenCount: true } }),
    p.notification.count({ where: { readAt: { not: null } } }),
    p.notification.count({ where: { seenAt: { not: null } } }),
    p.notification.count({ where: { archivedAt: { not: null } } }),
    p.environment.findMany({
      select: {
        id: true,
        clientTokenSecret: true,
        previousClientTokenSecret: true,
        apiKeyOpsPerMinute: true,
        clientTokenOpsPerMinute: true,
      },
      orderBy: { id: 'asc' },
    }),
    p.webhookEndpoint.count(),
    p.webhookEndpoint.aggregate({ _max: { updatedAt: true } }),
    p.webhookEndpointEvent.count(),
    p.webhookDelivery.count(),
    p.webhookDelivery.aggregate({ _max: { updatedAt: true } }),
  ]);
  const lastTemplateEdit = templateEdit._max.updatedAt?.toISOString() ?? null;
  return {
    users,
    sessions,
    projects,
    memberships,
    apiKeys,
    revokedApiKeys,
    templates,
    lastTemplateEdit,
    notifications,
    recipients,
    inbox: { events: inboxEvents, sums: inboxSeqs._sum, read, seen, archived },
    environments,
    webhooks: {
      endpoints: webhookEndpoints,
      lastEndpointEdit: webhookEndpointEdit._max.updatedAt?.toISOString() ?? null,
      endpointEvents: webhookEndpointEvents,
      deliveries: webhookDeliveries,
      lastDeliveryEdit: webhookDeliveryEdit._max.updatedAt?.toISOString() ?? null,
    },
  };
}

/** One inbox as the database holds it: any change to it moves its sequence or a notification's state. */
async function inboxState(reader: InboxReader) {
  const p = api.db.prisma;
  const [recipient, notifications, events] = await Promise.all([
    p.recipient.findUniqueOrThrow({
      where: { id: reader.recipientId },
      select: { lastSeq: true, unreadCount: true, unseenCount: true },
    }),
    p.notification.findMany({
      where: { recipientId: reader.recipientId },
      select: { id: true, status: true, readAt: true, seenAt: true, archivedAt: true },
      orderBy: { id: 'asc' },
    }),
    p.inboxEvent.count({ where: { recipientId: reader.recipientId } }),
  ]);
  return { recipient, notifications, events };
}

type Body = { data?: any; errors?: any[] };

function errorCodes(body: Body): unknown[] {
  return (body.errors ?? []).map((e) => e?.extensions?.code);
}

/** Every string in a response, plus the recipient each inbox cursor in it names. */
function namesIn(body: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      names.add(value);
      const position = decodeInboxCursor(value);
      if (position) names.add(position.recipientId);
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value && typeof value === 'object') {
      for (const item of Object.values(value)) walk(item);
    }
  };
  walk(body);
  return names;
}

const identifiersOf = (reader: InboxReader) => [reader.recipientId, reader.externalId, reader.notificationId];

// ---------------------------------------------------------------------------------------------------
// Calling: queries and mutations as JSON POSTs; subscriptions as SSE streams over both transports the
// API serves — Yoga's own (`accept: text/event-stream` at /graphql) and the graphql-sse protocol at
// /graphql/stream, the one the SDKs use — reading the first event (or the error) and hanging up.
// ---------------------------------------------------------------------------------------------------
const SUBSCRIPTION_PATHS = ['/graphql', '/graphql/stream'] as const;
type SubscriptionPath = (typeof SUBSCRIPTION_PATHS)[number];
/** Only bounds a stream that never answers (the test then fails saying so); nothing is timed. */
const FIRST_EVENT_DEADLINE_MS = 10_000;

async function firstEvent(path: SubscriptionPath, call: Call, headers: Record<string, string>): Promise<Body> {
  let response: Response;
  try {
    response = await api.app.yoga.fetch(`http://pigeon.test${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: JSON.stringify({ query: call.text, variables: call.variables }),
    });
  } catch (error) {
    // Over HTTP this is a 500 whose body is the exception's stack, not a typed GraphQL error.
    throw new Error(`${path} threw instead of answering (a 500 over HTTP): ${String(error)}`);
  }
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    // An answer without a stream (e.g. a 400 of the protocol handler): its body is what the client gets.
    const text = await response.text();
    try {
      return JSON.parse(text) as Body;
    } catch {
      throw new Error(`${path} answered ${response.status} without a stream or JSON: ${text.slice(0, 500)}`);
    }
  }
  const reader = must(response.body, `${path} stream body`).getReader();
  const deadline = setTimeout(() => void reader.cancel().catch(() => {}), FIRST_EVENT_DEADLINE_MS);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const event = lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim();
        const data = lines
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (event === 'complete') throw new Error(`${path}: the stream completed without an event`);
        if (data && (event === undefined || event === 'next')) return JSON.parse(data) as Body;
        continue; // a keep-alive comment
      }
      const { done, value } = await reader.read();
      if (done) throw new Error(`${path}: the stream ended without an event: ${JSON.stringify(buffer)}`);
      buffer += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(deadline);
    // Hanging up ends the subscription on the server (nothing stays attached to the inbox hub).
    await reader.cancel().catch(() => {});
  }
}

async function execute(root: RootField, call: Call, headers: Record<string, string>, path: SubscriptionPath | null): Promise<Body> {
  if (root.operation === 'subscription') return firstEvent(must(path, 'subscription transport'), call, headers);
  return (await api.gql(call.text, call.variables, headers)).body;
}

/**
 * A client token's allowed call on an inbox field: it sees and changes its own inbox only. Nothing of
 * the other recipients appears in the answer; naming R's notifications from another inbox rejects the
 * whole call (NOT_FOUND); otherwise the call succeeds on the caller's own inbox.
 */
function expectOwnInboxOnly(caller: Caller, call: Call, body: Body, value: any) {
  const own = fx.inboxes[must(tokenReader[caller], `the inbox of ${caller}`)];
  const names = namesIn(body);
  for (const other of Object.values(fx.inboxes).filter((r) => r !== own)) {
    const leaked = identifiersOf(other).filter((id) => names.has(id));
    expect(leaked, `${own.label}'s token saw ${other.label}'s ${leaked.join(', ')}: ${JSON.stringify(body)}`).toEqual([]);
  }
  const namesForeignObjects = Object.values(fx.inboxes).some((r) => r !== own && JSON.stringify(call.variables).includes(r.notificationId));
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  if (namesForeignObjects) {
    expect(value?.code, `${own.label}'s token named another inbox's notification: ${JSON.stringify(value)}`).toBe('NOT_FOUND');
    return;
  }
  expect(value?.code, JSON.stringify(value)).toBeUndefined();
  expect(names.has(own.recipientId), `the answer is not about ${own.label}'s inbox: ${JSON.stringify(body)}`).toBe(true);
}

// ---------------------------------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------------------------------
describe('the expected table', () => {
  it('classifies every root field of the schema, and names no field that does not exist', () => {
    const coordinates = rootFields.map((f) => f.coordinate);
    expect(coordinates.filter((c) => !(c in expected))).toEqual([]);
    expect(Object.keys(expected).filter((c) => !coordinates.includes(c))).toEqual([]);
  });

  it('classifies every nested field with auth scopes of its own, and no other', () => {
    expect(scopedNestedFields.filter((c) => !(c in expectedNested))).toEqual([]);
    expect(Object.keys(expectedNested).filter((c) => !scopedNestedFields.includes(c))).toEqual([]);
  });
});

describe.each(rootFields)('$coordinate', (root) => {
  const allowed = expected[root.coordinate];
  if (!allowed) {
    it('has an entry in the expected table', () => {
      expect.fail(`${root.coordinate} is not classified: add it to \`expected\` in authorization.test.ts`);
    });
    return;
  }
  const paths: (SubscriptionPath | null)[] = root.operation === 'subscription' ? [...SUBSCRIPTION_PATHS] : [null];
  const cases = paths.flatMap((path) =>
    callers.map((caller) => ({
      caller,
      path,
      label: callerLabels[caller],
      outcome: outcomeFor(root.coordinate, allowed, caller),
      title: `${callerLabels[caller]} → ${outcomeFor(root.coordinate, allowed, caller)}${path ? ` (SSE at ${path})` : ''}`,
    })),
  );

  it.each(cases)('$title', async ({ caller, outcome, path }) => {
    // Mutations act on fresh objects, and a call that ends its session gets a session of its own, so
    // an allowed destructive call never spoils a later case.
    const call = await planCall(root, {
      environmentId: fx.tenantA.developmentId,
      fresh: root.operation === 'mutation',
      ...(root.coordinate === 'Mutation.acceptInvitation' ? { extra: { token: await invitationFor(caller) } } : {}),
    });
    const headers = await headersFor(caller, sessionEnding.has(root.coordinate));
    const refused = outcome === 'UNAUTHENTICATED' || outcome === 'FORBIDDEN';
    const before = root.operation === 'mutation' && refused ? await fingerprint() : null;
    const inboxOfR = outcome === 'its own inbox only' ? await inboxState(fx.inboxes.R) : null;
    const body = await execute(root, call, headers, path);
    const value = body.data?.[root.field.name] ?? null;

    if (!refused) {
      expect(errorCodes(body)).not.toContain('UNAUTHENTICATED');
      expect(errorCodes(body)).not.toContain('FORBIDDEN');
      if (tokenReader[caller] && inboxFields.has(root.coordinate)) {
        expectOwnInboxOnly(caller, call, body, value);
      } else {
        // Fixtures are valid, so an allowed call succeeds outright: no error, and no Error result.
        expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
        expect(value?.code, JSON.stringify(value)).toBeUndefined();
      }
      if (inboxOfR) expect(await inboxState(fx.inboxes.R), "R's inbox changed").toEqual(inboxOfR);
      return;
    }
    expect(value, JSON.stringify(body)).toBeNull();
    expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body.errors)).toBe(outcome);
    if (before) expect(await fingerprint()).toEqual(before);
  });
});

describe('who `me` is', () => {
  const sessions = ['outsider', 'member', 'admin', 'owner'] as const;
  const anonymous: Caller[] = ['none', 'apiKey', 'foreignApiKey', 'sessionWithoutCsrf', ...(clientTokens as Caller[])];
  it.each(sessions.map((caller) => ({ caller, label: callerLabels[caller] })))('is the user for $label', async ({ caller }) => {
    const { body } = await api.gql('{ me { email } }', {}, await headersFor(caller, false));
    expect(body).toEqual({ data: { me: { email: fx.users[caller].email } } });
  });
  it.each(anonymous.map((caller) => ({ caller, label: callerLabels[caller] })))('is null for $label', async ({ caller }) => {
    const { body } = await api.gql('{ me { email } }', {}, await headersFor(caller, false));
    expect(body).toEqual({ data: { me: null } });
  });
});

describe('logging out', () => {
  it('ends only the session it was called with', async () => {
    const ended = await logIn(fx.users.member.email);
    const kept = await logIn(fx.users.member.email);
    const { body } = await api.gql('mutation { logOut }', {}, ended);
    expect(body).toEqual({ data: { logOut: true } });
    expect((await api.gql('{ me { email } }', {}, ended)).body.data.me).toBeNull();
    expect((await api.gql('{ me { email } }', {}, kept)).body.data.me).toEqual({ email: fx.users.member.email });
  });
});

describe('client tokens', () => {
  it("a token signed like the expired and forged ones, but valid, is R's: they are refused for their expiry and signature alone", async () => {
    const token = await signClientToken({
      secret: await secretOfA(),
      environmentId: fx.tenantA.developmentId,
      recipientId: fx.inboxes.R.recipientId,
      expiresInSeconds: 3600,
    });
    const { body } = await api.gql('{ inbox { recipientId } }', {}, bearer(token));
    expect(body).toEqual({ data: { inbox: { recipientId: fx.inboxes.R.recipientId } } });
  });

  it("createClientToken with another project's key mints a token of that key's environment (B), never A's", async () => {
    const { body } = await api.gql(
      'mutation($r: String!) { createClientToken(recipient: $r) { token recipient { id } } }',
      { r: TOKEN_TARGET },
      bearer(fx.tenantB.apiKey),
    );
    const minted = must(body.data?.createClientToken, `createClientToken: ${JSON.stringify(body)}`);
    const claims = decodeJwt(minted.token);
    expect(claims.aud).toBe(clientTokenAudience(fx.tenantB.developmentId));
    expect(claims.sub).toBe(minted.recipient.id);
    const recipient = await api.db.prisma.recipient.findUniqueOrThrow({ where: { id: minted.recipient.id } });
    expect(recipient).toMatchObject({ environmentId: fx.tenantB.developmentId, externalId: TOKEN_TARGET });
    const inbox = await api.gql('{ inbox { recipientId externalId } }', {}, bearer(minted.token));
    expect(inbox.body).toEqual({ data: { inbox: { recipientId: minted.recipient.id, externalId: TOKEN_TARGET } } });
  });
});

// ---------------------------------------------------------------------------------------------------
// Another tenant naming A's objects by id (or key) gets nothing of A: null, NOT_FOUND or FORBIDDEN,
// and nothing changes; so do other recipients' client tokens naming R's notifications. A control call
// by A itself (or R's own token) shows the same arguments do reach A's object.
// ---------------------------------------------------------------------------------------------------
const referenceArgs = /^(id|ids|key|externalId)$|^(?!environment|project)\w+Id$/;
const objectFields = rootFields.filter(
  (root) => entityOf(root.field.name) !== 'project' && root.field.args.some((a) => isNonNullType(a.type) && referenceArgs.test(a.name)),
);

describe.each(objectFields)("$coordinate with A's object", (root) => {
  const allowed = expected[root.coordinate] ?? [];
  // The key leaves an optional environment out (it acts on its own); the session names its own.
  const attackers: { label: string; caller: 'foreignApiKey' | 'foreignOwner' | 'otherRecipientToken' | 'foreignClientToken' }[] = [
    { label: "another project's API key", caller: 'foreignApiKey' },
    { label: "another project's OWNER", caller: 'foreignOwner' },
  ];
  for (const caller of ['otherRecipientToken', 'foreignClientToken'] as const) {
    if (allowed.includes(caller)) attackers.push({ label: callerLabels[caller], caller });
  }

  it.each(attackers)('$label gets nothing of A', async ({ caller }) => {
    const environmentB = fx.tenantB.developmentId;
    const call = await planCall(root, {
      environmentId: caller === 'foreignOwner' ? environmentB : null,
      fresh: root.operation === 'mutation',
    });
    // An API key that must name an environment names its own.
    if (caller === 'foreignApiKey' && 'environmentId' in call.variables) call.variables.environmentId = environmentB;
    const headers =
      caller === 'foreignApiKey'
        ? bearer(fx.tenantB.apiKey)
        : caller === 'foreignOwner'
          ? fx.tenantB.sessionHeaders
          : await headersFor(caller, false);
    const before = await fingerprint();
    const { body } = await api.gql(call.text, call.variables, headers);
    const value = body.data?.[root.field.name] ?? null;
    const refused = errorCodes(body).some((c) => c === 'FORBIDDEN' || c === 'NOT_FOUND');
    if (!refused) {
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      if (value !== null) expect(value.code, `${root.coordinate} returned ${JSON.stringify(value)}`).toBe('NOT_FOUND');
    } else {
      expect(value).toBeNull();
    }
    const leaked = identifiersOf(fx.inboxes.R).filter((id) => namesIn(value).has(id));
    expect(leaked, JSON.stringify(value)).toEqual([]);
    expect(await fingerprint()).toEqual(before);
  });

  const control = (['apiKey', 'owner', 'clientToken'] as const).find((c) => allowed.includes(c));
  if (control) {
    it(`reaches A's object when called by A (${callerLabels[control]})`, async () => {
      const call = await planCall(root, {
        environmentId: control === 'owner' ? fx.tenantA.developmentId : null,
        fresh: root.operation === 'mutation',
      });
      const { body } = await api.gql(call.text, call.variables, await headersFor(control, false));
      const value = body.data?.[root.field.name] ?? null;
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      expect(value, JSON.stringify(body)).not.toBeNull();
      expect(value.code, JSON.stringify(value)).toBeUndefined();
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Subscriptions that resume from a cursor: R's cursor replays R's events to R's token only; another
// recipient's token handed R's cursor starts over on its own inbox (RESYNC) and sees nothing of R.
// ---------------------------------------------------------------------------------------------------
const resumableFields = rootFields.filter(
  (root) => root.operation === 'subscription' && inboxFields.has(root.coordinate) && root.field.args.some((a) => a.name === 'after'),
);

describe.each(resumableFields)("$coordinate from R's cursor", (root) => {
  const cases = SUBSCRIPTION_PATHS.flatMap((path) =>
    (['clientToken', 'otherRecipientToken', 'foreignClientToken'] as const).map((caller) => ({
      caller,
      path,
      label: callerLabels[caller],
    })),
  );

  it.each(cases)('$label (SSE at $path)', async ({ caller, path }) => {
    const own = fx.inboxes[must(tokenReader[caller], caller)];
    const call = await planCall(root, { environmentId: null, extra: { after: fx.cursorBeforeDelivery } });
    const body = await firstEvent(path, call, await headersFor(caller, false));
    const value = body.data?.[root.field.name];
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    const names = namesIn(body);
    if (own === fx.inboxes.R) {
      // The first event after sequence 0: R's notification arriving.
      expect(value, JSON.stringify(body)).toMatchObject({ type: 'DELIVERED', seq: 1, notification: { id: own.notificationId } });
    } else {
      expect(value?.type, JSON.stringify(body)).toBe('RESYNC');
      expect(names.has(own.recipientId), `the RESYNC is not on ${own.label}'s inbox: ${JSON.stringify(body)}`).toBe(true);
    }
    for (const other of Object.values(fx.inboxes).filter((r) => r !== own)) {
      const leaked = identifiersOf(other).filter((id) => names.has(id));
      expect(leaked, `${own.label}'s token saw ${other.label}'s ${leaked.join(', ')}: ${JSON.stringify(body)}`).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Webhook deliveries filtered by A's ids: another tenant's key or OWNER lists nothing of A (the
// filter is optional, so the reference-argument checks above do not reach it).
// ---------------------------------------------------------------------------------------------------
describe("webhookDeliveries filtered by A's endpoint", () => {
  const query = `query($e: ID, $filter: WebhookDeliveryFilter) { webhookDeliveries(environmentId: $e, filter: $filter) { edges { node { id } } } }`;
  const cases = [
    { label: "another project's API key", environment: () => null, headers: () => bearer(fx.tenantB.apiKey) },
    { label: "another project's OWNER", environment: () => fx.tenantB.developmentId, headers: () => fx.tenantB.sessionHeaders },
  ];

  it.each(cases)('$label lists nothing of A', async ({ environment, headers }) => {
    const { body } = await api.gql(query, { e: environment(), filter: { endpointId: fx.webhookEndpointId } }, headers());
    expect(body).toEqual({ data: { webhookDeliveries: { edges: [] } } });
  });

  it("A's API key lists the endpoint's delivery", async () => {
    const { body } = await api.gql(query, { filter: { endpointId: fx.webhookEndpointId } }, bearer(fx.tenantA.apiKey));
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data.webhookDeliveries.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(fx.webhookDeliveryId);
  });
});

// ---------------------------------------------------------------------------------------------------
// Nested fields with auth scopes of their own (`expectedNested`). Notification.webhookDeliveries: R's
// token reaches R's notification through its inbox (the query and the live stream), but not the
// webhook deliveries reporting it; A's key and P's members reach both.
// ---------------------------------------------------------------------------------------------------
describe('Notification.webhookDeliveries', () => {
  const deliveries = 'webhookDeliveries { edges { node { id eventType } } }';
  /** The deliveries reporting R's notification, as A's key reads them. */
  let deliveryIds: string[] = [];

  beforeAll(async () => {
    // Whatever the matrix left, R's notification ends up in the inbox view, unread, then read: A's
    // endpoints subscribe to notification.read, so it has a delivery for the token not to see.
    const { body } = await api.gql(
      `mutation($ids: [ID!]!) {
        unarchive(ids: $ids) { __typename ... on Error { code } }
        markUnread(ids: $ids) { __typename ... on Error { code } }
        markRead(ids: $ids) { __typename ... on Error { code } }
      }`,
      { ids: [fx.inboxes.R.notificationId] },
      await headersFor('clientToken', false),
    );
    expect(body).toEqual({
      data: {
        unarchive: { __typename: 'InboxChange' },
        markUnread: { __typename: 'InboxChange' },
        markRead: { __typename: 'InboxChange' },
      },
    });
    const read = await api.gql(
      `query($id: ID!) { notification(id: $id) { ${deliveries} } }`,
      { id: fx.inboxes.R.notificationId },
      bearer(fx.tenantA.apiKey),
    );
    const edges = must(
      read.body.data?.notification?.webhookDeliveries?.edges,
      `deliveries of R's notification: ${JSON.stringify(read.body)}`,
    );
    deliveryIds = edges.map((e: { node: { id: string } }) => e.node.id);
  });

  const deliveryReaders = [
    { label: callerLabels.apiKey, caller: 'apiKey' as const, environmentId: () => undefined },
    { label: callerLabels.member, caller: 'member' as const, environmentId: () => fx.tenantA.developmentId },
  ];

  it.each(deliveryReaders)("$label reads the deliveries reporting A's notification", async ({ caller, environmentId }) => {
    const { body } = await api.gql(
      `query($e: ID, $id: ID!) { notification(environmentId: $e, id: $id) { id ${deliveries} } }`,
      { e: environmentId(), id: fx.inboxes.R.notificationId },
      await headersFor(caller, false),
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    const nodes = body.data.notification.webhookDeliveries.edges.map((e: { node: unknown }) => e.node);
    expect(nodes, JSON.stringify(body)).toContainEqual({ id: expect.any(String), eventType: 'notification.read' });
    expect(nodes.map((n: { id: string }) => n.id)).toEqual(deliveryIds);
  });

  /** The token's answer holds R's notification, without deliveries: FORBIDDEN for that field alone. */
  function expectRefusedForToken(body: Body, notification: any) {
    expect(deliveryIds.length).toBeGreaterThan(0);
    expect(notification, JSON.stringify(body)).toEqual({ id: fx.inboxes.R.notificationId, webhookDeliveries: null });
    expect(body.errors?.length, JSON.stringify(body)).toBeGreaterThan(0);
    for (const error of body.errors ?? []) {
      expect(error.extensions?.code, JSON.stringify(error)).toBe('FORBIDDEN');
      expect(error.path?.at(-1), JSON.stringify(error)).toBe('webhookDeliveries');
    }
    const leaked = deliveryIds.filter((id) => namesIn(body).has(id));
    expect(leaked, JSON.stringify(body)).toEqual([]);
  }

  it("R's client token gets its inbox notification, but not its deliveries", async () => {
    const { body } = await api.gql(
      `{ inbox { notifications { edges { node { id webhookDeliveries { edges { node { id } } } } } } } }`,
      {},
      await headersFor('clientToken', false),
    );
    const node = body.data?.inbox?.notifications?.edges?.find(
      (e: { node: { id: string } }) => e.node.id === fx.inboxes.R.notificationId,
    )?.node;
    expectRefusedForToken(body, node);
  });

  it.each(SUBSCRIPTION_PATHS)("R's client token gets its notification's inbox event, but not its deliveries (SSE at %s)", async (path) => {
    const body = await firstEvent(
      path,
      {
        text: 'subscription($after: String) { inboxEvents(after: $after) { type notification { id webhookDeliveries { edges { node { id } } } } } }',
        variables: { after: fx.cursorBeforeDelivery },
      },
      await headersFor('clientToken', false),
    );
    expect(body.data?.inboxEvents?.type, JSON.stringify(body)).toBe('DELIVERED');
    expectRefusedForToken(body, body.data?.inboxEvents?.notification);
  });
});
