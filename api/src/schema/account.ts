// Dashboard accounts and sessions: sign up, log in, log out, and `me`.
import { z } from 'zod';
import { dummyPasswordHash, hashPassword, passwordWeakness, verifyPassword } from '../auth/password.ts';
import { randomToken, sha256 } from '../auth/secrets.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { EmailTakenError, InvalidCredentialsError, rateLimited, ValidationError, WeakPasswordError } from '../errors.ts';
import { claimInvitations } from '../invitations.ts';
import { CSRF_COOKIE, SESSION_COOKIE } from '../principal.ts';
import { hit, reset } from '../rate-limit.ts';
import { isUniqueViolation } from '../unique-violation.ts';
import { validate } from '../validation.ts';

export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface AuthPayload {
  userId: string;
  csrfToken: string;
}

const AuthPayloadRef = builder.objectRef<AuthPayload>('AuthPayload').implement({
  description: 'A new session: the cookie is set on the response; send `csrfToken` as X-CSRF-Token on every call.',
  fields: (t) => ({
    user: t.prismaField({
      type: 'User',
      resolve: (query, payload, _args, ctx) => ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: payload.userId } }),
    }),
    csrfToken: t.exposeString('csrfToken'),
  }),
});

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: 'Enter a valid email address.' }));

const signUpSchema = z.object({
  email,
  password: z.string(),
  name: z.string().trim().min(1).max(100).optional().nullable(),
});

const logInSchema = z.object({ email, password: z.string().max(1024) });

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    name: t.string(),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

function cookie(ctx: Context, name: string, value: string, maxAgeSeconds: number, httpOnly: boolean): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', `Max-Age=${maxAgeSeconds}`, 'SameSite=Lax'];
  if (httpOnly) parts.push('HttpOnly');
  if (ctx.env.COOKIE_SECURE) parts.push('Secure');
  return parts.join('; ');
}

async function startSession(ctx: Context, userId: string): Promise<AuthPayload> {
  // Expired sessions are useless rows; each new session sweeps its user's.
  await ctx.prisma.session.deleteMany({ where: { userId, expiresAt: { lt: new Date() } } });
  const token = randomToken(32);
  const csrfToken = randomToken(24);
  const ttlSeconds = ctx.env.SESSION_TTL_HOURS * 3600;
  await ctx.prisma.session.create({
    data: { userId, tokenHash: sha256(token), csrfToken, expiresAt: new Date(Date.now() + ttlSeconds * 1000) },
  });
  ctx.responseCookies.push(cookie(ctx, SESSION_COOKIE, token, ttlSeconds, true), cookie(ctx, CSRF_COOKIE, csrfToken, ttlSeconds, false));
  return { userId, csrfToken };
}

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    nullable: true,
    description: 'The logged-in dashboard user, or null without a session.',
    resolve: (query, _root, _args, ctx) =>
      ctx.principal?.kind === 'session' ? ctx.prisma.user.findUnique({ ...query, where: { id: ctx.principal.userId } }) : null,
  }),
);

builder.mutationField('signUp', (t) =>
  t.field({
    type: AuthPayloadRef,
    description: 'Creates a dashboard account and logs it in.',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    errors: { types: [ValidationError, EmailTakenError, WeakPasswordError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const input = validate(signUpSchema, args.input);
      // Each sign-up costs an Argon2 hash and answers whether an email is taken: cap it per address.
      const byAddress = await hit(
        ctx.redis,
        `${ctx.env.REDIS_PREFIX}:rl:signup:addr:${ctx.clientAddress}`,
        ctx.env.SIGNUP_MAX_PER_HOUR,
        3600,
      );
      if (!byAddress.allowed) throw rateLimited(byAddress.retryAfter, 'Too many sign-ups from this address.');
      const weakness = passwordWeakness(input.password, input.email);
      if (weakness) throw new WeakPasswordError(weakness);
      const passwordHash = await hashPassword(input.password);
      try {
        // Pending invitations for this email become memberships in the same transaction.
        const user = await ctx.prisma.$transaction(async (tx) => {
          const created = await tx.user.create({ data: { email: input.email, name: input.name ?? null, passwordHash } });
          await claimInvitations(tx, created.id, created.email);
          return created;
        });
        return startSession(ctx, user.id);
      } catch (error) {
        if (isUniqueViolation(error)) throw new EmailTakenError();
        throw error;
      }
    },
  }),
);

builder.mutationField('logIn', (t) =>
  t.field({
    type: AuthPayloadRef,
    description: 'Starts a dashboard session. Attempts are rate-limited per email and per client address.',
    args: { input: t.arg({ type: LogInInput, required: true }) },
    errors: { types: [ValidationError, InvalidCredentialsError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const input = validate(logInSchema, args.input);
      const emailKey = `${ctx.env.REDIS_PREFIX}:rl:login:email:${sha256(input.email)}`;
      const addressKey = `${ctx.env.REDIS_PREFIX}:rl:login:addr:${ctx.clientAddress}`;
      const [byEmail, byAddress] = await Promise.all([
        hit(ctx.redis, emailKey, ctx.env.LOGIN_MAX_ATTEMPTS, ctx.env.LOGIN_WINDOW_SECONDS),
        // An address may try several accounts (an office behind one NAT), but not endlessly.
        hit(ctx.redis, addressKey, ctx.env.LOGIN_MAX_ATTEMPTS * 5, ctx.env.LOGIN_WINDOW_SECONDS),
      ]);
      const refused = [byEmail, byAddress].find((d) => !d.allowed);
      if (refused) throw rateLimited(refused.retryAfter, 'Too many login attempts.');

      const user = await ctx.prisma.user.findUnique({ where: { email: input.email } });
      const ok = await verifyPassword(input.password, user?.passwordHash ?? dummyPasswordHash);
      if (!user || !ok) throw new InvalidCredentialsError();
      await reset(ctx.redis, emailKey);
      return startSession(ctx, user.id);
    },
  }),
);

builder.mutationField('logOut', (t) =>
  t.boolean({
    description: 'Ends the current dashboard session and clears its cookies.',
    authScopes: { session: true },
    resolve: async (_root, _args, ctx) => {
      if (ctx.principal?.kind !== 'session') return false;
      await ctx.prisma.session.deleteMany({ where: { id: ctx.principal.sessionId } });
      ctx.responseCookies.push(cookie(ctx, SESSION_COOKIE, '', 0, true), cookie(ctx, CSRF_COOKIE, '', 0, false));
      return true;
    },
  }),
);
