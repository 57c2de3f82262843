// The introspection policy: per environment for API keys and client tokens (off for new PRODUCTION
// environments), a switch for requests without credentials, always on for dashboard sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, mintClientToken, type Tenant, type TestApi } from './harness.ts';

let open: TestApi;
let closed: TestApi;
let tenant: Tenant;

beforeAll(async () => {
  [open, closed] = await Promise.all([createTestApi(), createTestApi({ INTROSPECTION_ANONYMOUS: 'false' })]);
  tenant = await createTenant(open);
});

afterAll(async () => {
  await Promise.all([open?.close(), closed?.close()]);
});

const SCHEMA = '{ __schema { queryType { name } } }';
const codeOf = (body: { errors?: { extensions?: { code?: string } }[] }) => body.errors?.[0]?.extensions?.code;

describe('API keys and client tokens follow their environment', () => {
  it('development allows it; production refuses it with INTROSPECTION_DISABLED, and nothing else', async () => {
    const dev = await open.gql(SCHEMA, {}, bearer(tenant.apiKey));
    expect(dev.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });

    const prod = await open.gql(SCHEMA, {}, bearer(tenant.productionApiKey));
    expect(prod.body.data ?? null).toBeNull();
    expect(codeOf(prod.body)).toBe('INTROSPECTION_DISABLED');
    for (const hidden of [
      '{ __type(name: "Notification") { name } }',
      'query { ...F } fragment F on Query { __schema { types { name } } }',
      '{ notifications(first: 1) { edges { node { id } } } a: __schema { queryType { name } } }',
    ]) {
      expect(codeOf((await open.gql(hidden, {}, bearer(tenant.productionApiKey))).body), hidden).toBe('INTROSPECTION_DISABLED');
    }
    // __typename is not introspection, and ordinary operations are unaffected.
    const plain = await open.gql('{ __typename notifications(first: 1) { edges { node { id } } } }', {}, bearer(tenant.productionApiKey));
    expect(plain.body.errors).toBeUndefined();
    expect(plain.body.data.__typename).toBe('Query');
  });

  it('an ADMIN turns it on and off per environment', async () => {
    const set = (introspection: boolean) =>
      open.gql(
        'mutation($e: ID!, $on: Boolean!) { updateEnvironment(environmentId: $e, input: { introspection: $on }) { __typename ... on UpdateEnvironmentSuccess { environment { kind introspection } } } }',
        { e: tenant.productionId, on: introspection },
        tenant.sessionHeaders,
      );
    expect((await set(true)).body.data.updateEnvironment.environment).toEqual({ kind: 'PRODUCTION', introspection: true });
    expect((await open.gql(SCHEMA, {}, bearer(tenant.productionApiKey))).body.errors).toBeUndefined();
    await set(false);
    expect(codeOf((await open.gql(SCHEMA, {}, bearer(tenant.productionApiKey))).body)).toBe('INTROSPECTION_DISABLED');
  });

  it('client tokens of a production environment are refused; of development, allowed', async () => {
    const prodToken = await mintClientToken(open, tenant.productionApiKey, 'user-prod');
    const devToken = await mintClientToken(open, tenant.apiKey, 'user-dev');
    expect(codeOf((await open.gql(SCHEMA, {}, bearer(prodToken.token))).body)).toBe('INTROSPECTION_DISABLED');
    expect((await open.gql(SCHEMA, {}, bearer(devToken.token))).body.errors).toBeUndefined();
  });
});

describe('without credentials, and for dashboard sessions', () => {
  it('anonymous introspection follows INTROSPECTION_ANONYMOUS', async () => {
    expect((await open.gql(SCHEMA, {})).body.errors).toBeUndefined();
    const refused = await closed.gql(SCHEMA, {});
    expect(codeOf(refused.body)).toBe('INTROSPECTION_DISABLED');
    expect(refused.body.errors[0].message).toContain('needs credentials');
  });

  it('sessions always may, even where anonymous requests may not and for production', async () => {
    const owner = await createTenant(closed);
    expect((await closed.gql(SCHEMA, {}, owner.sessionHeaders)).body.errors).toBeUndefined();
  });
});
