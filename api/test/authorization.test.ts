// The authorization matrix: every root field of the schema, called as every kind of principal (and as
// nobody), checked against DESIGN's principals table. The fields come from the schema object, never
// from a list here, so a new root field fails this file until it is classified in `expected`.
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.ts';
import { bearer, createTenant, createTestApi, signUp, type Tenant, type TestApi, uniqueName } from './harness.ts';

// ---------------------------------------------------------------------------------------------------
// The expected table. Columns are DESIGN's principals, seen from project P's environment A (its
// DEVELOPMENT environment), which every call targets:
//   none           no credentials at all
//   apiKey         an API key of environment A
//   foreignApiKey  an API key of another project's environment B, naming A where the field takes an
//                  environment (fields without one act on B's own environment)
//   clientToken    a client token of environment A
//   outsider       a dashboard session of a user who is not a member of P
//   member/admin/owner  dashboard sessions of P's members with that role
// ---------------------------------------------------------------------------------------------------
type Column = 'none' | 'apiKey' | 'foreignApiKey' | 'clientToken' | 'outsider' | 'member' | 'admin' | 'owner';

const everyone: readonly Column[] = ['none', 'apiKey', 'foreignApiKey', 'clientToken', 'outsider', 'member', 'admin', 'owner'];
const anySession: readonly Column[] = ['outsider', 'member', 'admin', 'owner'];
/** MEMBER reads. */
const readers: readonly Column[] = ['member', 'admin', 'owner'];
/** ADMIN also manages keys and templates; OWNER can do everything ADMIN can. */
const managers: readonly Column[] = ['admin', 'owner'];

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
  // API keys are managed from the dashboard only: a key never lists or mints keys.
  'Query.apiKeys': readers,
  'Mutation.createApiKey': managers,
  'Mutation.revokeApiKey': managers,
  // Templates: the environment's own API keys, or members (read) and admins (write).
  'Query.templates': ['apiKey', ...readers],
  'Query.template': ['apiKey', ...readers],
  'Mutation.createTemplate': ['apiKey', ...managers],
  'Mutation.updateTemplate': ['apiKey', ...managers],
  'Mutation.deleteTemplate': ['apiKey', ...managers],
  // What was sent, and to whom: the environment's own API keys, or any member.
  'Query.notifications': ['apiKey', ...readers],
  'Query.notification': ['apiKey', ...readers],
  'Query.recipients': ['apiKey', ...readers],
  'Query.recipient': ['apiKey', ...readers],
  // `send` names no environment: any valid API key sends into its own (B's key into B).
  'Mutation.send': ['apiKey', 'foreignApiKey'],
};

/** Who calls: every column, plus two callers that must count as nobody or be refused outright. */
type Caller = Column | 'sessionWithoutCsrf' | 'invalidBearer';

const callerLabels: Record<Caller, string> = {
  none: 'no credentials',
  apiKey: 'API key of A',
  foreignApiKey: 'API key of another project naming A',
  clientToken: 'client token of A',
  outsider: 'session of a non-member',
  member: "P's MEMBER",
  admin: "P's ADMIN",
  owner: "P's OWNER",
  sessionWithoutCsrf: "OWNER's cookie without X-CSRF-Token",
  invalidBearer: '"Bearer not-a-key"',
};
const callers = Object.keys(callerLabels) as Caller[];

type Outcome = 'allowed' | 'UNAUTHENTICATED' | 'FORBIDDEN';

function outcomeFor(allowed: readonly Column[], caller: Caller): Outcome {
  // A malformed or unknown bearer token is refused before any field runs, public ones included.
  if (caller === 'invalidBearer') return 'UNAUTHENTICATED';
  // A session cookie without its CSRF header is ignored: the request is anonymous.
  const column: Column = caller === 'sessionWithoutCsrf' ? 'none' : caller;
  if (allowed.includes(column)) return 'allowed';
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
  operation: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
}

function fieldsOf(type: GraphQLObjectType | null | undefined, operation: RootField['operation']): RootField[] {
  if (!type) return [];
  return Object.values(type.getFields()).map((field) => ({ coordinate: `${type.name}.${field.name}`, operation, field }));
}

const rootFields = [...fieldsOf(schema.getQueryType(), 'query'), ...fieldsOf(schema.getMutationType(), 'mutation')];
const mintField = schema.getMutationType()?.getFields().createClientToken;
/** Fields that end the caller's own session: each such call gets a session of its own. */
const sessionEnding = new Set(['Mutation.logOut']);

const PASSWORD = 'matrix password: long enough, not guessable';

// ---------------------------------------------------------------------------------------------------
// Fixtures: project P (environment A) with an owner, an admin and a member added as memberships; an
// unrelated user; another tenant (environment B); and one object of each kind in A.
// ---------------------------------------------------------------------------------------------------
interface User {
  email: string;
  headers: Record<string, string>;
}

interface Fixtures {
  tenantA: Tenant;
  tenantB: Tenant;
  users: Record<'owner' | 'admin' | 'member' | 'outsider' | 'loginTarget', User>;
  clientTokenHeaders: Record<string, string> | null;
  apiKeyId: string;
  templateId: string;
  templateKey: string;
  notificationId: string;
  recipientId: string;
  recipientExternalId: string;
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

async function createApiKeyInA(): Promise<string> {
  const { body } = await api.gql(
    `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "fresh" }) { ... on CreatedApiKey { apiKey { id } } } }`,
    { e: fx.tenantA.developmentId },
    fx.tenantA.sessionHeaders,
  );
  return must(body.data?.createApiKey?.apiKey?.id as string | undefined, `createApiKey: ${JSON.stringify(body)}`);
}

async function sendInA(to: string): Promise<{ id: string; recipient: { id: string } }> {
  const { body } = await api.gql(
    `mutation($input: SendInput!) { send(input: $input) { ... on SendSuccess { notification { id recipient { id } } } } }`,
    { input: { to, title: 'Hello', body: 'from A' } },
    bearer(fx.tenantA.apiKey),
  );
  return must(body.data?.send?.notification, `send: ${JSON.stringify(body)}`);
}

/** A client token of environment A, minted the way the schema offers (once `createClientToken` exists). */
async function mintClientToken(field: GraphQLField<unknown, unknown>): Promise<Record<string, string>> {
  const named = getNamedType(field.type);
  const holders = isUnionType(named) ? named.getTypes() : isObjectType(named) ? [named] : [];
  const withToken = holders.filter((t) => 'token' in t.getFields());
  if (withToken.length === 0) throw new Error('createClientToken returns no type with a `token` field: update mintClientToken');
  const selection = withToken.map((t) => `... on ${t.name} { token }`).join(' ');
  const root: RootField = { coordinate: 'Mutation.createClientToken', operation: 'mutation', field };
  const call = await planCall(root, { environmentId: null, selection });
  const { body } = await api.gql(call.text, call.variables, bearer(fx.tenantA.apiKey));
  return bearer(must(body.data?.createClientToken?.token as string | undefined, `createClientToken: ${JSON.stringify(body)}`));
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
  // No invite mutation yet: memberships are fixture rows for users who signed up through the API.
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
    clientTokenHeaders: null,
    apiKeyId: apiKey.id,
    templateId: '',
    templateKey: '',
    notificationId: '',
    recipientId: '',
    recipientExternalId: uniqueName('recipient-a'),
  };
  const template = await createTemplateInA();
  const notification = await sendInA(fx.recipientExternalId);
  fx.templateId = template.id;
  fx.templateKey = template.key;
  fx.notificationId = notification.id;
  fx.recipientId = notification.recipient.id;
  if (mintField) fx.clientTokenHeaders = await mintClientToken(mintField);
});

afterAll(async () => {
  await api?.close();
});

// ---------------------------------------------------------------------------------------------------
// Building a call from the field's arguments.
// ---------------------------------------------------------------------------------------------------

/** Minimal valid values for input types whose required fields alone would not pass validation. */
const sampleInputs: Record<string, () => Record<string, unknown>> = {
  SignUpInput: () => ({ email: `${uniqueName('matrix')}@example.com`, password: PASSWORD }),
  LogInInput: () => ({ email: fx.users.loginTarget.email, password: PASSWORD }),
  CreateProjectInput: () => ({ name: 'Matrix project' }),
  CreateApiKeyInput: () => ({ name: 'matrix key' }),
  CreateTemplateInput: () => ({ key: uniqueName('matrix'), title: 'Title', body: 'Body' }),
  UpdateTemplateInput: () => ({ name: 'Renamed by the matrix' }),
  // Not the fixture recipient: B's key sends too, and must not create B's twin of A's recipient.
  SendInput: () => ({ to: 'matrix-send-target', title: 'Hello', body: 'World' }),
};

const scalarSamples: Record<string, () => unknown> = {
  String: () => 'sample',
  ID: () => 'sample',
  Int: () => 1,
  Float: () => 1,
  Boolean: () => false,
  JSON: () => ({}),
  DateTime: () => new Date().toISOString(),
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

type Entity = 'project' | 'apikey' | 'template' | 'notification' | 'recipient';

/** The kind of object a field's `id` names, from the field's name (`revokeApiKey` → apikey). */
function entityOf(name: string): Entity | undefined {
  return /apiKey|template|notification|recipient|project/i.exec(name)?.[0].toLowerCase() as Entity | undefined;
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
    default:
      throw new Error(`${coordinate}: no fixture for the object its id names; teach objectId about it`);
  }
}

async function referenceValue(root: RootField, argName: string, fresh: boolean): Promise<unknown> {
  const entity = entityOf(root.field.name);
  if (argName === 'projectId') return fx.tenantA.projectId;
  if (argName === 'id') return objectId(entity, fresh, root.coordinate);
  if (argName === 'ids') return [await objectId(entity, fresh, root.coordinate)];
  if (argName === 'key' && entity === 'template') return fx.templateKey;
  if (argName === 'externalId' || argName === 'recipient') return fx.recipientExternalId;
  const named = /^(\w+)Id$/.exec(argName)?.[1];
  if (named) return objectId(entityOf(named), fresh, root.coordinate);
  return undefined;
}

interface Call {
  text: string;
  variables: Record<string, unknown>;
}

/**
 * The field's operation with its required arguments (and `environmentId`, which sessions need) filled
 * from fixtures. `environmentId: null` leaves an optional environment out, as an API key may. Without
 * a `selection`, object results select `__typename` (and an Error member's code).
 */
async function planCall(root: RootField, target: { environmentId: string | null; fresh?: boolean; selection?: string }): Promise<Call> {
  const definitions: string[] = [];
  const uses: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of root.field.args) {
    const required = isNonNullType(arg.type);
    let value: unknown;
    if (arg.name === 'environmentId') {
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
  if (!target.selection && (isObjectType(named) || isInterfaceType(named) || isUnionType(named))) {
    const errorInterface = schema.getType('Error');
    const canBeError = isUnionType(named) && named.getTypes().some((t) => t.getInterfaces().some((i) => i === errorInterface));
    selection = ` { __typename${canBeError ? ' ... on Error { code message }' : ''} }`;
  }
  const head = definitions.length ? `${root.operation} Matrix(${definitions.join(', ')})` : `${root.operation} Matrix`;
  const call = uses.length ? `${root.field.name}(${uses.join(', ')})` : root.field.name;
  return { text: `${head} { ${call}${selection} }`, variables };
}

/** The caller's request headers; `ownSession` logs in anew instead of reusing the shared session. */
async function headersFor(caller: Caller, ownSession: boolean): Promise<Record<string, string>> {
  switch (caller) {
    case 'none':
      return {};
    case 'apiKey':
      return bearer(fx.tenantA.apiKey);
    case 'foreignApiKey':
      return bearer(fx.tenantB.apiKey);
    case 'clientToken':
      return must(fx.clientTokenHeaders, 'client token');
    case 'invalidBearer':
      return { authorization: 'Bearer not-a-key' };
    case 'sessionWithoutCsrf': {
      const { cookie } = ownSession ? await logIn(fx.users.owner.email) : fx.users.owner.headers;
      return { cookie: must(cookie, 'owner cookie') };
    }
    default:
      return ownSession ? logIn(fx.users[caller].email) : fx.users[caller].headers;
  }
}

/** What a refused call must not have changed: cheap counts that every mutation here would move. */
async function fingerprint() {
  const p = api.db.prisma;
  const [users, sessions, projects, memberships, apiKeys, revokedApiKeys, templates, templateEdit, notifications, recipients] =
    await Promise.all([
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
    ]);
  const lastTemplateEdit = templateEdit._max.updatedAt?.toISOString() ?? null;
  return { users, sessions, projects, memberships, apiKeys, revokedApiKeys, templates, lastTemplateEdit, notifications, recipients };
}

type Body = { data?: any; errors?: any[] };

function errorCodes(body: Body): unknown[] {
  return (body.errors ?? []).map((e) => e?.extensions?.code);
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
});

describe.each(rootFields)('$coordinate', (root) => {
  const allowed = expected[root.coordinate];
  if (!allowed) {
    it('has an entry in the expected table', () => {
      expect.fail(`${root.coordinate} is not classified: add it to \`expected\` in authorization.test.ts`);
    });
    return;
  }
  const cases = callers.map((caller) => ({ caller, label: callerLabels[caller], outcome: outcomeFor(allowed, caller) }));
  // Client-token cases run as soon as the schema can mint one (the live-inbox issue adds
  // createClientToken); until then that principal cannot exist, so there is nothing to call with.
  const runnable = mintField ? cases : cases.filter((c) => c.caller !== 'clientToken');

  it.each(runnable)('$label → $outcome', async ({ caller, outcome }) => {
    // Mutations act on fresh objects, and a call that ends its session gets a session of its own, so
    // an allowed destructive call never spoils a later case.
    const call = await planCall(root, { environmentId: fx.tenantA.developmentId, fresh: root.operation === 'mutation' });
    const headers = await headersFor(caller, sessionEnding.has(root.coordinate));
    const before = root.operation === 'mutation' && outcome !== 'allowed' ? await fingerprint() : null;
    const { body } = await api.gql(call.text, call.variables, headers);
    const value = body.data?.[root.field.name] ?? null;

    if (outcome === 'allowed') {
      expect(errorCodes(body)).not.toContain('UNAUTHENTICATED');
      expect(errorCodes(body)).not.toContain('FORBIDDEN');
      // Fixtures are valid, so an allowed call succeeds outright: no error, and no Error result.
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      expect(value?.code, JSON.stringify(value)).toBeUndefined();
      return;
    }
    expect(value, JSON.stringify(body)).toBeNull();
    expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body.errors)).toBe(outcome);
    if (before) expect(await fingerprint()).toEqual(before);
  });
});

describe('who `me` is', () => {
  const sessions = ['outsider', 'member', 'admin', 'owner'] as const;
  const anonymous: Caller[] = ['none', 'apiKey', 'foreignApiKey', 'sessionWithoutCsrf'];
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

// ---------------------------------------------------------------------------------------------------
// Another tenant naming A's objects by id (or key) gets nothing of A: null, NOT_FOUND or FORBIDDEN,
// and nothing changes. A control call by A itself shows the same arguments do reach A's object.
// ---------------------------------------------------------------------------------------------------
const referenceArgs = /^(id|ids|key|externalId)$|^(?!environment|project)\w+Id$/;
const objectFields = rootFields.filter(
  (root) => entityOf(root.field.name) !== 'project' && root.field.args.some((a) => isNonNullType(a.type) && referenceArgs.test(a.name)),
);

describe.each(objectFields)("$coordinate with A's object", (root) => {
  const allowed = expected[root.coordinate] ?? [];
  // The key leaves an optional environment out (it acts on its own); the session names its own.
  const attackers = [
    { label: "another project's API key", caller: 'foreignApiKey' as const },
    { label: "another project's OWNER", caller: 'foreignOwner' as const },
  ];

  it.each(attackers)('$label gets nothing of A', async ({ caller }) => {
    const environmentB = fx.tenantB.developmentId;
    const call = await planCall(root, {
      environmentId: caller === 'foreignApiKey' ? null : environmentB,
      fresh: root.operation === 'mutation',
    });
    // An API key that must name an environment names its own.
    if (caller === 'foreignApiKey' && 'environmentId' in call.variables) call.variables.environmentId = environmentB;
    const headers = caller === 'foreignApiKey' ? bearer(fx.tenantB.apiKey) : fx.tenantB.sessionHeaders;
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
    expect(await fingerprint()).toEqual(before);
  });

  const control = (['apiKey', 'owner'] as const).find((c) => allowed.includes(c));
  if (control) {
    it(`reaches A's object when called by A (${callerLabels[control]})`, async () => {
      const call = await planCall(root, {
        environmentId: control === 'apiKey' ? null : fx.tenantA.developmentId,
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
