// The API-key cache against the real database: what it answers, for how long, and what drops it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, type Tenant, type TestApi } from '../../test/harness.ts';
import { ApiKeyResolver } from './api-keys.ts';
import { sha256 } from './secrets.ts';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(async () => {
  await api?.close();
});

/** Revokes a key behind this resolver's back, as another API process would. */
async function revokeElsewhere(secret: string) {
  const { count } = await api.db.prisma.apiKey.updateMany({ where: { keyHash: sha256(secret) }, data: { revokedAt: new Date() } });
  expect(count).toBe(1);
}

const SEND = `mutation($i: SendInput!) { send(input: $i) { __typename } }`;
async function sendWith(key: string) {
  const { body } = await api.gql(SEND, { i: { to: 'ada', title: 't', body: 'b' } }, bearer(key));
  return body.errors?.[0]?.extensions?.code ?? body.data?.send?.__typename;
}

describe('ApiKeyResolver', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await createTenant(api);
  });

  it('answers with the key, its environment and the environment settings', async () => {
    const resolver = new ApiKeyResolver(api.db.prisma);
    const key = await resolver.resolve(tenant.apiKey);
    const row = await api.db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: sha256(tenant.apiKey) }, include: { environment: true } });
    expect(key).toEqual({
      apiKeyId: row.id,
      environmentId: tenant.developmentId,
      projectId: tenant.projectId,
      opsPerMinute: row.environment.apiKeyOpsPerMinute,
      introspection: row.environment.introspection,
    });
    expect(await resolver.resolve(`${tenant.apiKey}x`)).toBeNull();
  });

  it('keeps an answer for its lifetime, and drops it when told the key was revoked', async () => {
    const { apiKey } = await createTenant(api);
    const resolver = new ApiKeyResolver(api.db.prisma, { ttlMs: 60_000 });
    const first = await resolver.resolve(apiKey);
    expect(first).not.toBeNull();
    await revokeElsewhere(apiKey);
    // Cached: the revocation in the database is not read again within the lifetime.
    expect(await resolver.resolve(apiKey)).toEqual(first);
    resolver.forgetKey(first?.apiKeyId as string);
    expect(await resolver.resolve(apiKey)).toBeNull();
  });

  it('drops every key of an environment when told the environment changed', async () => {
    const other = await createTenant(api);
    const resolver = new ApiKeyResolver(api.db.prisma, { ttlMs: 60_000 });
    const before = await resolver.resolve(other.apiKey);
    await api.db.prisma.environment.update({ where: { id: other.developmentId }, data: { apiKeyOpsPerMinute: 1234 } });
    expect(await resolver.resolve(other.apiKey)).toEqual(before);
    resolver.forgetEnvironment(other.productionId);
    expect(await resolver.resolve(other.apiKey)).toEqual(before);
    resolver.forgetEnvironment(other.developmentId);
    expect((await resolver.resolve(other.apiKey))?.opsPerMinute).toBe(1234);
  });

  it('reads again once an answer is older than its lifetime', async () => {
    const { apiKey } = await createTenant(api);
    const resolver = new ApiKeyResolver(api.db.prisma, { ttlMs: 0 });
    expect(await resolver.resolve(apiKey)).not.toBeNull();
    await revokeElsewhere(apiKey);
    expect(await resolver.resolve(apiKey)).toBeNull();
  });

  it('records when a key was last used, at most once a minute', async () => {
    const { apiKey } = await createTenant(api);
    const where = { keyHash: sha256(apiKey) };
    await api.db.prisma.apiKey.update({ where, data: { lastUsedAt: null } });
    const resolver = new ApiKeyResolver(api.db.prisma, { ttlMs: 0 });
    await resolver.resolve(apiKey);
    await expect.poll(async () => (await api.db.prisma.apiKey.findUniqueOrThrow({ where })).lastUsedAt).not.toBeNull();
    const recorded = (await api.db.prisma.apiKey.findUniqueOrThrow({ where })).lastUsedAt;
    await resolver.resolve(apiKey);
    await resolver.resolve(apiKey);
    // Give a stray write time to land before checking there was none.
    await api.db.prisma.$queryRaw`SELECT 1 AS one FROM pg_sleep(0.2)`;
    expect((await api.db.prisma.apiKey.findUniqueOrThrow({ where })).lastUsedAt).toEqual(recorded);
  });
});

describe('API keys through the API process', () => {
  it('refuses a key revoked through this process at once', async () => {
    const tenant = await createTenant(api);
    expect(await sendWith(tenant.apiKey)).toBe('SendSuccess');
    const id = (await api.db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: sha256(tenant.apiKey) } })).id;
    const { body } = await api.gql(
      `mutation($e: ID!, $id: ID!) { revokeApiKey(environmentId: $e, id: $id) { __typename } }`,
      { e: tenant.developmentId, id },
      tenant.sessionHeaders,
    );
    expect(body.data.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    expect(await sendWith(tenant.apiKey)).toBe('UNAUTHENTICATED');
  });

  it('refuses a key revoked by another process once the cache lifetime has passed', async () => {
    const tenant = await createTenant(api);
    expect(await sendWith(tenant.apiKey)).toBe('SendSuccess');
    await revokeElsewhere(tenant.apiKey);
    await expect.poll(() => sendWith(tenant.apiKey), { timeout: 5_000, interval: 200 }).toBe('UNAUTHENTICATED');
  });
});
