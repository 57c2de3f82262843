// Project members: invitations (shared as links: there is no email channel), role changes and
// removals. OWNERs manage members; every member can see who else is in the project.
import type { Prisma, Role } from '@pigeon/schema';
import { z } from 'zod';
import { randomToken, sha256 } from '../auth/secrets.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { assertUuid, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { validate } from '../validation.ts';
import { UserRef } from './account.ts';
import { MembershipRef, RoleEnum } from './project.ts';

/** How long an invitation link works. */
export const INVITATION_TTL_DAYS = 14;

export const InvitationRef = builder.prismaObject('Invitation', {
  description: 'A pending invitation: accepted through its link, or claimed when its email signs up.',
  fields: (t) => ({
    id: t.exposeID('id'),
    projectId: t.exposeID('projectId'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    invitedBy: t.relation('invitedBy', { type: UserRef, nullable: true }),
  }),
});

const CreatedInvitationRef = builder
  .objectRef<{ invitation: Prisma.InvitationGetPayload<object>; token: string }>('CreatedInvitation')
  .implement({
    description: 'A new invitation. Share the link `<dashboard>/invitations/<token>`; the token is shown only now.',
    fields: (t) => ({
      invitation: t.field({ type: InvitationRef, resolve: (c) => c.invitation }),
      token: t.exposeString('token'),
    }),
  });

const InvitationPreviewRef = builder
  .objectRef<{ projectName: string; email: string; role: Role; expiresAt: Date }>('InvitationPreview')
  .implement({
    description: 'What an invitation link offers, shown before accepting it.',
    fields: (t) => ({
      projectName: t.exposeString('projectName'),
      email: t.exposeString('email'),
      role: t.field({ type: RoleEnum, resolve: (p) => p.role }),
      expiresAt: t.field({ type: 'DateTime', resolve: (p) => p.expiresAt }),
    }),
  });

const InviteMemberInput = builder.inputType('InviteMemberInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

const inviteSchema = z.object({
  email: z
    .string()
    .trim()
    .toLowerCase()
    .max(254)
    .pipe(z.email({ message: 'Enter a valid email address.' })),
  role: z.enum(['OWNER', 'ADMIN', 'MEMBER']),
});

function sessionUserId(ctx: Context): string {
  if (ctx.principal?.kind !== 'session') throw new Error('unreachable: session scope');
  return ctx.principal.userId;
}

const ownerScope = (_root: unknown, args: { projectId: string | number }) => ({
  project: { projectId: String(args.projectId), role: 'OWNER' as const },
});

builder.queryField('invitations', (t) =>
  t.prismaField({
    type: ['Invitation'],
    description: "The project's pending invitations, newest first (expired ones included until replaced or revoked).",
    args: { projectId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ project: { projectId: String(args.projectId), role: 'MEMBER' } }),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.invitation.findMany({ ...query, where: { projectId: String(args.projectId) }, orderBy: { createdAt: 'desc' } }),
  }),
);

builder.queryField('invitation', (t) =>
  t.field({
    type: InvitationPreviewRef,
    nullable: true,
    description: 'What an invitation link offers (null when the token is unknown or expired). Needs no login.',
    args: { token: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      if (args.token.length > 200) return null;
      const invitation = await ctx.prisma.invitation.findUnique({
        where: { tokenHash: sha256(args.token) },
        include: { project: { select: { name: true } } },
      });
      if (!invitation || invitation.expiresAt <= new Date()) return null;
      return { projectName: invitation.project.name, email: invitation.email, role: invitation.role, expiresAt: invitation.expiresAt };
    },
  }),
);

builder.mutationField('inviteMember', (t) =>
  t.field({
    type: CreatedInvitationRef,
    description: `Invites someone by email with a role. Returns a token for the link to share; it works for ${INVITATION_TTL_DAYS} days. Inviting the same email again replaces the earlier invitation.`,
    args: { projectId: t.arg.id({ required: true }), input: t.arg({ type: InviteMemberInput, required: true }) },
    authScopes: ownerScope,
    errors: { types: [ValidationError, ConflictError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const input = validate(inviteSchema, args.input);
      const projectId = String(args.projectId);
      const member = await ctx.prisma.membership.findFirst({ where: { projectId, user: { email: input.email } }, select: { id: true } });
      if (member) throw new ConflictError(`${input.email} is already a member of this project.`);
      const token = randomToken(24);
      const expiresAt = new Date(Date.now() + INVITATION_TTL_DAYS * 24 * 3600 * 1000);
      const data = { role: input.role, tokenHash: sha256(token), invitedById: sessionUserId(ctx), expiresAt, createdAt: new Date() };
      const invitation = await ctx.prisma.invitation.upsert({
        where: { projectId_email: { projectId, email: input.email } },
        create: { projectId, email: input.email, ...data },
        update: data,
      });
      return { invitation, token };
    },
  }),
);

const RevokedInvitationRef = builder.objectRef<{ id: string }>('RevokedInvitation').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationField('revokeInvitation', (t) =>
  t.field({
    type: RevokedInvitationRef,
    description: 'Cancels a pending invitation: its link stops working.',
    args: { projectId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    authScopes: ownerScope,
    errors: { types: [NotFoundError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const id = assertUuid('Invitation', String(args.id));
      const { count } = await ctx.prisma.invitation.deleteMany({ where: { id, projectId: String(args.projectId) } });
      if (count === 0) throw new NotFoundError('Invitation', id);
      return { id };
    },
  }),
);

const AcceptedInvitationRef = builder.objectRef<{ projectId: string }>('AcceptedInvitation').implement({
  fields: (t) => ({
    project: t.prismaField({
      type: 'Project',
      resolve: (query, accepted, _args, ctx) => ctx.prisma.project.findUniqueOrThrow({ ...query, where: { id: accepted.projectId } }),
    }),
  }),
});

builder.mutationField('acceptInvitation', (t) =>
  t.field({
    type: AcceptedInvitationRef,
    description: "Joins the project an invitation link names, with its role. The logged-in user's email must be the invited one.",
    args: { token: t.arg.string({ required: true }) },
    authScopes: { session: true },
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const userId = sessionUserId(ctx);
      const invitation =
        args.token.length <= 200 ? await ctx.prisma.invitation.findUnique({ where: { tokenHash: sha256(args.token) } }) : null;
      if (!invitation || invitation.expiresAt <= new Date()) {
        throw new NotFoundError('Invitation', 'this link', 'This invitation link is unknown, expired or already used.');
      }
      const user = await ctx.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true } });
      if (user.email !== invitation.email) {
        throw new ValidationError([
          { path: 'token', message: `This invitation is for ${invitation.email}; you are logged in as ${user.email}.` },
        ]);
      }
      await ctx.prisma.$transaction([
        ctx.prisma.membership.upsert({
          where: { projectId_userId: { projectId: invitation.projectId, userId } },
          create: { projectId: invitation.projectId, userId, role: invitation.role },
          update: {},
        }),
        ctx.prisma.invitation.delete({ where: { id: invitation.id } }),
      ]);
      return { projectId: invitation.projectId };
    },
  }),
);

const UpdateMemberRoleSuccessRef = builder
  .objectRef<{ membership: Prisma.MembershipGetPayload<object> }>('UpdateMemberRoleSuccess')
  .implement({ fields: (t) => ({ membership: t.field({ type: MembershipRef, resolve: (s) => s.membership }) }) });

const RemovedMemberRef = builder.objectRef<{ userId: string }>('RemovedMember').implement({
  fields: (t) => ({ userId: t.exposeID('userId') }),
});

/**
 * Changes or removes one membership under a lock on the project's memberships, refusing to leave
 * the project without an OWNER. Returns null when the user is not a member.
 */
async function changeMembership(ctx: Context, projectId: string, userId: string, role: Role | null) {
  return ctx.prisma.$transaction(async (tx) => {
    // Serializes concurrent changes to one project's members, so two demotions cannot both pass the check.
    await tx.$queryRaw`SELECT id FROM projects WHERE id = ${projectId}::uuid FOR UPDATE`;
    const membership = await tx.membership.findUnique({ where: { projectId_userId: { projectId, userId } } });
    if (!membership) return null;
    if (membership.role === 'OWNER' && role !== 'OWNER') {
      const owners = await tx.membership.count({ where: { projectId, role: 'OWNER' } });
      if (owners <= 1) {
        throw new ValidationError([{ path: 'userId', message: 'A project needs at least one OWNER: make someone else OWNER first.' }]);
      }
    }
    if (role === null) {
      await tx.membership.delete({ where: { id: membership.id } });
      return membership;
    }
    return tx.membership.update({ where: { id: membership.id }, data: { role } });
  });
}

builder.mutationField('updateMemberRole', (t) =>
  t.field({
    type: UpdateMemberRoleSuccessRef,
    description: "Changes a member's role. The last OWNER cannot be demoted.",
    args: {
      projectId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      role: t.arg({ type: RoleEnum, required: true }),
    },
    authScopes: ownerScope,
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const userId = assertUuid('Member', String(args.userId));
      const membership = await changeMembership(ctx, String(args.projectId), userId, args.role);
      if (!membership) throw new NotFoundError('Member', userId);
      return { membership };
    },
  }),
);

builder.mutationField('removeMember', (t) =>
  t.field({
    type: RemovedMemberRef,
    description:
      'Removes a member from the project (their sessions stay, their access to it ends at once). The last OWNER cannot be removed.',
    args: { projectId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    authScopes: ownerScope,
    errors: { types: [NotFoundError, ValidationError], directResult: true },
    resolve: async (_root, args, ctx) => {
      const userId = assertUuid('Member', String(args.userId));
      const membership = await changeMembership(ctx, String(args.projectId), userId, null);
      if (!membership) throw new NotFoundError('Member', userId);
      return { userId };
    },
  }),
);
