// Client tokens against a real, migrated PostgreSQL database: minting, verification (algorithm
// allow-list, issuer, audience = environment, subject = recipient), and secret rotation as another
// API process with a warm cache sees it. Every refusal must be a ClientTokenError, which the API
// turns into UNAUTHENTICATED.
import { createHmac } from 'node:crypto';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTenant, createTestApi, mintClientToken as mintViaApi, type Tenant, type TestApi } from '../../test/harness.ts';
import {
  CLIENT_TOKEN_ISSUER,
  ClientTokenError,
  ClientTokenVerifier,
  clientTokenAudience,
  MAX_CLIENT_TOKEN_TTL_SECONDS,
  mintClientToken,
  newSigningSecret,
} from './client-token.ts';

let api: TestApi;
let tenant: Tenant;
/** Recipients created through the public API (createClientToken), one per environment. */
let devRecipientId: string;
let prodRecipientId: string;

beforeAll(async () => {
  api = await createTestApi();
  tenant = await createTenant(api);
  devRecipientId = (await mintViaApi(api, tenant.apiKey, 'alice')).recipientId;
  prodRecipientId = (await mintViaApi(api, tenant.productionApiKey, 'alice')).recipientId;
});
afterAll(async () => {
  await api?.close();
});

async function secretsOf(environmentId: string) {
  return api.db.prisma.environment.findUniqueOrThrow({
    where: { id: environmentId },
    select: { clientTokenSecret: true, previousClientTokenSecret: true, previousSecretExpiresAt: true },
  });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Claims as Pigeon mints them, for hand-built tokens. */
function claimsFor(environmentId: string, recipientId: string, ttlSeconds = 600) {
  const iat = Math.floor(Date.now() / 1000);
  return { iss: CLIENT_TOKEN_ISSUER, aud: clientTokenAudience(environmentId), sub: recipientId, iat, exp: iat + ttlSeconds };
}

/** A compact JWS signed with HMAC-SHA256 whatever the header claims (for algorithm-confusion tokens). */
function hmacToken(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function refusal(verifier: ClientTokenVerifier, token: string, now?: Date): Promise<ClientTokenError> {
  const error = await verifier.verify(token, now).then(
    (ok) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(ok)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientTokenError);
  const message = (error as ClientTokenError).message;
  // Helpful: says what was wrong with which credential, never a bare "invalid".
  expect(message).toMatch(/client token|bearer token/i);
  return error as ClientTokenError;
}

async function rotate(environmentId: string) {
  const { body } = await api.gql(
    `mutation($e: ID!) { rotateClientTokenSecret(environmentId: $e) { id } }`,
    { e: environmentId },
    tenant.sessionHeaders,
  );
  expect(body.data?.rotateClientTokenSecret?.id, JSON.stringify(body)).toBe(environmentId);
}

describe('mint and verify', () => {
  it('round-trips: the verified token names its environment, recipient and expiry', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const minted = await mintClientToken({
      secret: clientTokenSecret,
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 900,
    });
    const verified = await new ClientTokenVerifier(api.db.prisma).verify(minted.token);
    expect(verified.environment.id).toBe(tenant.developmentId);
    expect(verified.environment.projectId).toBe(tenant.projectId);
    expect(verified.recipientId).toBe(devRecipientId);
    expect(verified.expiresAt).toEqual(minted.expiresAt);
    const claims = decodeJwt(minted.token);
    expect(claims).toMatchObject({ iss: 'pigeon', aud: clientTokenAudience(tenant.developmentId), sub: devRecipientId });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
  });

  it('accepts an upper-case subject as the same (lower-case) recipient', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('pigeon')
      .setAudience(clientTokenAudience(tenant.developmentId))
      .setSubject(devRecipientId.toUpperCase())
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(clientTokenSecret));
    expect((await new ClientTokenVerifier(api.db.prisma).verify(token)).recipientId).toBe(devRecipientId);
  });

  it('refuses an expired token, telling the caller to mint a new one', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const verifier = new ClientTokenVerifier(api.db.prisma);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    const old = await mintClientToken({
      secret: clientTokenSecret,
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 3600,
      now: twoHoursAgo,
    });
    expect((await refusal(verifier, old.token)).message).toMatch(/expired.*mint a new one/);

    // The same refusal for a live token checked at a moment after its expiry.
    const live = await mintClientToken({
      secret: clientTokenSecret,
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 60,
    });
    await expect(verifier.verify(live.token)).resolves.toMatchObject({ recipientId: devRecipientId });
    expect((await refusal(verifier, live.token, new Date(live.expiresAt.getTime() + 1000))).message).toMatch(/expired/);
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await mintClientToken({
      secret: newSigningSecret(),
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 600,
    });
    expect((await refusal(new ClientTokenVerifier(api.db.prisma), forged.token)).message).toMatch(/signature is not valid/);
  });

  it('refuses tokens whose algorithm is not HS256: none, HS512, and an RS256 header over an HMAC signature', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const verifier = new ClientTokenVerifier(api.db.prisma);
    const claims = claimsFor(tenant.developmentId, devRecipientId);

    const unsecured = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect((await refusal(verifier, unsecured)).message).toMatch(/algorithm/);

    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(clientTokenSecret));
    expect((await refusal(verifier, hs512)).message).toMatch(/algorithm/);

    // Algorithm confusion: the header says RS256, the signature is an HMAC with the environment's secret.
    const confused = hmacToken({ alg: 'RS256', typ: 'JWT' }, claims, clientTokenSecret);
    expect((await refusal(verifier, confused)).message).toMatch(/algorithm/);

    // The control: the same hand-built token with the honest HS256 header verifies.
    const honest = hmacToken({ alg: 'HS256', typ: 'JWT' }, claims, clientTokenSecret);
    await expect(verifier.verify(honest)).resolves.toMatchObject({ recipientId: devRecipientId });
  });

  it('refuses a wrong issuer, a missing subject and a subject that is not a recipient id', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const verifier = new ClientTokenVerifier(api.db.prisma);
    const claims = claimsFor(tenant.developmentId, devRecipientId);

    await refusal(verifier, hmacToken({ alg: 'HS256' }, { ...claims, iss: 'someone-else' }, clientTokenSecret));
    const { sub: _sub, ...withoutSubject } = claims;
    await refusal(verifier, hmacToken({ alg: 'HS256' }, withoutSubject, clientTokenSecret));
    expect((await refusal(verifier, hmacToken({ alg: 'HS256' }, { ...claims, sub: 'alice' }, clientTokenSecret))).message).toMatch(
      /subject/,
    );
    expect(
      (await refusal(verifier, hmacToken({ alg: 'HS256' }, { ...claims, sub: `${devRecipientId}x` }, clientTokenSecret))).message,
    ).toMatch(/subject/);
  });

  it('refuses audiences that do not name a known Pigeon environment, and garbage', async () => {
    const { clientTokenSecret } = await secretsOf(tenant.developmentId);
    const verifier = new ClientTokenVerifier(api.db.prisma);
    const claims = claimsFor(tenant.developmentId, devRecipientId);
    expect((await refusal(verifier, hmacToken({ alg: 'HS256' }, { ...claims, aud: 'pigeon' }, clientTokenSecret))).message).toMatch(
      /does not name a Pigeon environment/,
    );
    const { aud: _aud, ...withoutAudience } = claims;
    await refusal(verifier, hmacToken({ alg: 'HS256' }, withoutAudience, clientTokenSecret));
    const unknownEnvironment = clientTokenAudience('0190f4c2-0000-7000-8000-000000000000');
    expect(
      (await refusal(verifier, hmacToken({ alg: 'HS256' }, { ...claims, aud: unknownEnvironment }, clientTokenSecret))).message,
    ).toMatch(/unknown environment/);
    for (const garbage of ['', 'not-a-jwt', 'a.b.c', `${b64({ alg: 'HS256' })}.not-json.sig`]) {
      await refusal(verifier, garbage);
    }
  });

  it('binds a token to its audience: a token for environment B never yields environment A', async () => {
    const verifier = new ClientTokenVerifier(api.db.prisma);
    const dev = await secretsOf(tenant.developmentId);
    const prod = await secretsOf(tenant.productionId);

    // Minted for production: verifies as production, with the production recipient.
    const forProd = await mintClientToken({
      secret: prod.clientTokenSecret,
      environmentId: tenant.productionId,
      recipientId: prodRecipientId,
      ttlSeconds: 600,
    });
    const verified = await verifier.verify(forProd.token);
    expect(verified.environment.id).toBe(tenant.productionId);
    expect(verified.recipientId).toBe(prodRecipientId);

    // Production's audience signed with development's secret (and vice versa): refused, not re-homed.
    const prodAudDevSecret = hmacToken({ alg: 'HS256' }, claimsFor(tenant.productionId, prodRecipientId), dev.clientTokenSecret);
    expect((await refusal(verifier, prodAudDevSecret)).message).toMatch(/signature/);
    const devAudProdSecret = hmacToken({ alg: 'HS256' }, claimsFor(tenant.developmentId, devRecipientId), prod.clientTokenSecret);
    expect((await refusal(verifier, devAudProdSecret)).message).toMatch(/signature/);

    // A production token naming a development recipient still belongs to production: the audience
    // alone decides the environment, so it can never reach development's inbox.
    const crossed = await mintClientToken({
      secret: prod.clientTokenSecret,
      environmentId: tenant.productionId,
      recipientId: devRecipientId,
      ttlSeconds: 600,
    });
    const crossedVerified = await verifier.verify(crossed.token);
    expect(crossedVerified.environment.id).toBe(tenant.productionId);
    const inbox = await api.gql(`{ inbox { recipientId unreadCount } }`, {}, bearer(crossed.token));
    expect(inbox.body.data?.inbox ?? null).toBeNull();
    expect(inbox.body.errors, JSON.stringify(inbox.body)).toBeDefined();
  });

  it('answers a valid token whose subject is no recipient of its environment with a typed error, not an internal one', async () => {
    // Signed correctly (only the tenant's own secret can do this), but the recipient does not exist
    // in that environment — e.g. a recipient of another environment, or one deleted since.
    const prod = await secretsOf(tenant.productionId);
    const orphan = await mintClientToken({
      secret: prod.clientTokenSecret,
      environmentId: tenant.productionId,
      recipientId: devRecipientId,
      ttlSeconds: 600,
    });
    const { body } = await api.gql(`{ inbox { recipientId unreadCount } }`, {}, bearer(orphan.token));
    expect(body.data?.inbox ?? null).toBeNull();
    expect(['UNAUTHENTICATED', 'NOT_FOUND'], JSON.stringify(body)).toContain(body.errors?.[0]?.extensions?.code);
  });

  it('surfaces every refusal through the API as UNAUTHENTICATED (401) with the same message', async () => {
    const expired = await mintClientToken({
      secret: (await secretsOf(tenant.developmentId)).clientTokenSecret,
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    const forged = await mintClientToken({
      secret: newSigningSecret(),
      environmentId: tenant.developmentId,
      recipientId: devRecipientId,
      ttlSeconds: 600,
    });
    for (const [token, message] of [
      [expired.token, /expired/],
      [forged.token, /signature/],
      ['garbage', /not a valid API key or client token/],
    ] as const) {
      const { status, body } = await api.gql(`{ inbox { unreadCount } }`, {}, bearer(token));
      expect(status).toBe(401);
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body)).toBe('UNAUTHENTICATED');
      expect(body.errors?.[0]?.message).toMatch(message);
    }
  });
});

describe('rotation', () => {
  it('keeps the previous secret valid until previous_secret_expires_at, and only until then', async () => {
    const environmentId = tenant.developmentId;
    const before = await secretsOf(environmentId);
    const oldToken = await mintClientToken({
      secret: before.clientTokenSecret,
      environmentId,
      recipientId: devRecipientId,
      ttlSeconds: 3600,
    });
    const rotatedAt = Date.now();
    await rotate(environmentId);
    const after = await secretsOf(environmentId);
    expect(after.clientTokenSecret).not.toBe(before.clientTokenSecret);
    expect(after.previousClientTokenSecret).toBe(before.clientTokenSecret);
    // Kept at least as long as the longest-lived token it can have signed.
    const keptFor = (after.previousSecretExpiresAt?.getTime() ?? 0) - rotatedAt;
    expect(keptFor).toBeGreaterThanOrEqual(MAX_CLIENT_TOKEN_TTL_SECONDS * 1000);

    const verifier = new ClientTokenVerifier(api.db.prisma);
    await expect(verifier.verify(oldToken.token)).resolves.toMatchObject({ recipientId: devRecipientId });

    // Shorten the grace period (as if the day had passed) and check both sides of the boundary with
    // the verifier's clock: the old token itself is still within its own lifetime on both sides.
    const graceEnds = new Date(Date.now() + 10 * 60_000);
    await api.db.prisma.environment.update({ where: { id: environmentId }, data: { previousSecretExpiresAt: graceEnds } });
    const fresh = new ClientTokenVerifier(api.db.prisma);
    await expect(fresh.verify(oldToken.token, new Date(graceEnds.getTime() - 60_000))).resolves.toMatchObject({
      recipientId: devRecipientId,
    });
    const refused = await refusal(fresh, oldToken.token, new Date(graceEnds.getTime() + 1_000));
    expect(refused.message).toMatch(/signature is not valid/);
    expect(oldToken.expiresAt.getTime()).toBeGreaterThan(graceEnds.getTime() + 1_000);

    // And once the grace period is really over, at the real clock.
    await api.db.prisma.environment.update({
      where: { id: environmentId },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1_000) },
    });
    await refusal(new ClientTokenVerifier(api.db.prisma), oldToken.token);
  });

  it('mints new tokens with the new secret immediately after a rotation', async () => {
    const environmentId = tenant.developmentId;
    const before = await secretsOf(environmentId);
    await rotate(environmentId);
    const after = await secretsOf(environmentId);
    const { token } = await mintViaApi(api, tenant.apiKey, 'alice');
    await expect(jwtVerify(token, new TextEncoder().encode(after.clientTokenSecret), { algorithms: ['HS256'] })).resolves.toBeDefined();
    await expect(jwtVerify(token, new TextEncoder().encode(before.clientTokenSecret), { algorithms: ['HS256'] })).rejects.toThrow();
    // The API that rotated accepts it at once.
    const { body } = await api.gql(`{ inbox { recipientId } }`, {}, bearer(token));
    expect(body.data?.inbox?.recipientId, JSON.stringify(body)).toBe(devRecipientId);
  });

  it('lets a verifier whose cache still holds the old secret (another process) accept a new-secret token', async () => {
    const environmentId = tenant.productionId;
    const otherProcess = new ClientTokenVerifier(api.db.prisma);
    // Warm its cache with the pre-rotation secrets.
    const warm = await mintViaApi(api, tenant.productionApiKey, 'alice');
    await expect(otherProcess.verify(warm.token)).resolves.toMatchObject({ recipientId: prodRecipientId });
    // No pause here: the re-read throttle counts from the last forced re-read, not from the cache
    // fill, so the first failure right after a rotation elsewhere re-reads at once.

    await rotate(environmentId);
    const fresh = await mintViaApi(api, tenant.productionApiKey, 'alice');
    const verified = await otherProcess.verify(fresh.token);
    expect(verified.environment.id).toBe(environmentId);
    expect(verified.recipientId).toBe(prodRecipientId);
    // Its refreshed cache still honours the pre-rotation token (previous secret, within grace).
    await expect(otherProcess.verify(warm.token)).resolves.toMatchObject({ recipientId: prodRecipientId });
  });

  it('a second rotation ends the oldest secret at once', async () => {
    const environmentId = tenant.productionId;
    const first = await secretsOf(environmentId);
    const tokenOfFirst = await mintClientToken({
      secret: first.clientTokenSecret,
      environmentId,
      recipientId: prodRecipientId,
      ttlSeconds: 600,
    });
    await rotate(environmentId);
    await rotate(environmentId);
    const third = await secretsOf(environmentId);
    expect(third.previousClientTokenSecret).not.toBe(first.clientTokenSecret);
    expect((await refusal(new ClientTokenVerifier(api.db.prisma), tokenOfFirst.token)).message).toMatch(/signature/);
  });
});
