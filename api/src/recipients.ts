// Recipients are created on first mention (a send, a client token) by the tenant's own id. One
// statement per upsert: concurrent first mentions of one user must all get the same row, which a
// find-then-create (Prisma's upsert on a compound key) does not guarantee.
import type { Prisma } from '@pigeon/schema';
import { v7 as uuidv7 } from 'uuid';

export interface RecipientProfile {
  name?: string | null;
  email?: string | null;
  metadata?: Record<string, unknown> | null;
}

/** The recipient's id, creating it when new; profile fields given replace stored ones. */
export async function upsertRecipient(
  tx: Pick<Prisma.TransactionClient, '$queryRaw'>,
  environmentId: string,
  externalId: string,
  profile?: RecipientProfile | null,
): Promise<string> {
  // UUIDv7 like every other id: time-ordered, so "newest first" listings can page by id.
  const id = uuidv7();
  if (profile && (profile.name != null || profile.email != null || profile.metadata != null)) {
    const metadata = profile.metadata == null ? null : JSON.stringify(profile.metadata);
    const rows = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO recipients (id, environment_id, external_id, name, email, metadata)
      VALUES (${id}::uuid, ${environmentId}::uuid, ${externalId}, ${profile.name ?? null}, ${profile.email ?? null}, ${metadata}::jsonb)
      ON CONFLICT (environment_id, external_id) DO UPDATE SET
        name = COALESCE(EXCLUDED.name, recipients.name),
        email = COALESCE(EXCLUDED.email, recipients.email),
        metadata = COALESCE(EXCLUDED.metadata, recipients.metadata),
        updated_at = now()
      RETURNING id::text AS id`;
    return (rows[0] as { id: string }).id;
  }
  // No profile to write: don't rewrite (and lock) an existing row, just find it.
  const inserted = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO recipients (id, environment_id, external_id)
    VALUES (${id}::uuid, ${environmentId}::uuid, ${externalId})
    ON CONFLICT (environment_id, external_id) DO NOTHING
    RETURNING id::text AS id`;
  if (inserted[0]) return inserted[0].id;
  const existing = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM recipients WHERE environment_id = ${environmentId}::uuid AND external_id = ${externalId}`;
  if (!existing[0]) throw new Error('Recipient disappeared between insert and select; retry.');
  return existing[0].id;
}
