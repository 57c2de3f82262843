// Dashboard accounts: sign up, log in (rate-limited), sessions with CSRF protection, log out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, signUp, type TestApi, uniqueName } from './harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ LOGIN_MAX_ATTEMPTS: '3', LOGIN_WINDOW_SECONDS: '60' });
});
afterAll(async () => {
  await api?.close();
});

const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) { __typename ... on Error { code message } ... on ValidationError { issues { path } } ... on AuthPayload { user { email } } } }`;
const LOG_IN = `mutation($input: LogInInput!) { logIn(input: $input) { __typename ... on Error { code message } ... on AuthPayload { csrfToken user { email } } } }`;

function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

describe('sign up', () => {
  it('creates an account, sets an httpOnly SameSite session cookie and a readable CSRF cookie', async () => {
    const email = `${uniqueName('new')}@Example.com`;
    const { body, response } = await api.gql(SIGN_UP, { input: { email: `  ${email} `, password: 'a fine long password' } });
    expect(body.data.signUp).toEqual({ __typename: 'AuthPayload', user: { email: email.toLowerCase() } });
    const [session, csrf] = response.headers.getSetCookie();
    expect(session).toMatch(/^pigeon_session=[\w-]+; Path=\/; Max-Age=\d+; SameSite=Lax; HttpOnly$/);
    expect(csrf).toMatch(/^pigeon_csrf=[\w-]+; Path=\/; Max-Age=\d+; SameSite=Lax$/);
    const stored = await api.db.prisma.user.findUniqueOrThrow({ where: { email: email.toLowerCase() } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it.each([
    ['WEAK_PASSWORD', { password: 'short' }],
    ['WEAK_PASSWORD', { password: 'aaaaaaaaaaaaaaaa' }],
    ['VALIDATION', { email: 'not an email' }],
  ])('answers %s for bad input', async (code, patch) => {
    const { body } = await api.gql(SIGN_UP, {
      input: { email: `${uniqueName('x')}@example.com`, password: 'a fine long password', ...patch },
    });
    expect(body.data.signUp.code).toBe(code);
  });

  it('answers EMAIL_TAKEN for an existing email, whatever its case', async () => {
    const email = `${uniqueName('taken')}@example.com`;
    await signUp(api, email);
    const { body } = await api.gql(SIGN_UP, { input: { email: email.toUpperCase(), password: 'another long password' } });
    expect(body.data.signUp).toMatchObject({ __typename: 'EmailTakenError', code: 'EMAIL_TAKEN' });
  });
});

describe('log in and sessions', () => {
  it('logs in, authenticates with cookie + CSRF header, and refuses the cookie alone', async () => {
    const email = `${uniqueName('login')}@example.com`;
    await signUp(api, email, 'the right password');
    const { body, response } = await api.gql(LOG_IN, { input: { email, password: 'the right password' } });
    expect(body.data.logIn.__typename).toBe('AuthPayload');
    const cookie = cookiesOf(response);
    const csrf = body.data.logIn.csrfToken as string;

    const me = await api.gql('{ me { email } }', {}, { cookie, 'x-csrf-token': csrf });
    expect(me.body.data.me).toEqual({ email });
    // A cross-site request carries the cookie but cannot read the CSRF cookie to send the header.
    const forged = await api.gql('{ me { email } projects { id } }', {}, { cookie });
    expect(forged.body.data?.me ?? null).toBeNull();
    expect(forged.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(forged.body.errors[0].message).toMatch(/CSRF/);
    const wrongToken = await api.gql('{ me { email } }', {}, { cookie, 'x-csrf-token': 'guess' });
    expect(wrongToken.body.data.me).toBeNull();

    const out = await api.gql('mutation { logOut }', {}, { cookie, 'x-csrf-token': csrf });
    expect(out.body.data.logOut).toBe(true);
    expect(out.response.headers.getSetCookie().every((c) => c.includes('Max-Age=0'))).toBe(true);
    const after = await api.gql('{ me { email } }', {}, { cookie, 'x-csrf-token': csrf });
    expect(after.body.data.me).toBeNull();
  });

  it('gives the same answer for an unknown email and a wrong password', async () => {
    const email = `${uniqueName('pw')}@example.com`;
    await signUp(api, email, 'the right password');
    const wrong = await api.gql(LOG_IN, { input: { email, password: 'the wrong password' } });
    const unknown = await api.gql(LOG_IN, { input: { email: `${uniqueName('nobody')}@example.com`, password: 'whatever it is' } });
    expect(wrong.body.data.logIn).toEqual(unknown.body.data.logIn);
    expect(wrong.body.data.logIn).toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('rate-limits login attempts per email with RATE_LIMITED and a retry-after', async () => {
    const email = `${uniqueName('rl')}@example.com`;
    await signUp(api, email, 'the right password');
    for (let i = 0; i < 3; i++) {
      const r = await api.gql(LOG_IN, { input: { email, password: `wrong ${i} password` } });
      expect(r.body.data.logIn.code).toBe('INVALID_CREDENTIALS');
    }
    const limited = await api.gql(LOG_IN, { input: { email, password: 'the right password' } });
    expect(limited.body.data?.logIn ?? null).toBeNull();
    expect(limited.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.body.errors[0].extensions.retryAfter).toBeGreaterThan(0);
    expect(limited.body.errors[0].extensions.retryAfter).toBeLessThanOrEqual(60);
  });

  it('expires sessions', async () => {
    const user = await signUp(api);
    await api.db.prisma.session.updateMany({ where: { userId: user.userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const me = await api.gql('{ me { email } }', {}, user.headers);
    expect(me.body.data.me).toBeNull();
    // The next login sweeps the expired session away.
    const email = (await api.db.prisma.user.findUniqueOrThrow({ where: { id: user.userId } })).email;
    await api.gql(LOG_IN, { input: { email, password: 'correct horse battery staple' } });
    expect(await api.db.prisma.session.count({ where: { userId: user.userId } })).toBe(1);
  });
});
