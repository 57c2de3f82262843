// Invitations as data, outside the schema files (signUp claims them; member.ts manages them).
import type { Prisma } from '@pigeon/schema';

/**
 * Turns every unexpired invitation for this email into a membership (signUp calls it in its
 * transaction). Returns how many projects were joined.
 */
export async function claimInvitations(tx: Prisma.TransactionClient, userId: string, email: string): Promise<number> {
  const pending = await tx.invitation.findMany({ where: { email, expiresAt: { gt: new Date() } } });
  for (const invitation of pending) {
    await tx.membership.create({ data: { projectId: invitation.projectId, userId, role: invitation.role } });
  }
  await tx.invitation.deleteMany({ where: { email } });
  return pending.length;
}
