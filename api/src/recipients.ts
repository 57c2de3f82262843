// Recipients are created on first mention (a send, a client token) by the tenant's own id. One
// statement per upsert: concurrent first mentions of one user must all get the same row, which a
// find-then-create (Prisma's upsert on a compound key) does not guarantee.
//
// The statement never rewrites or locks an existing row unless a profile field actually changes:
// deliveries hold the recipient row FOR NO KEY UPDATE while they append inbox events, and a send
// must not queue behind them. (ON CONFLICT DO UPDATE would lock the row even when nothing changes.)
import { Prisma } from '@pigeon/schema';
import { v7 as uuidv7 } from 'uuid';

export interface RecipientProfile {
  name?: string | null;
  email?: string | null;
  metadata?: Record<string, unknown> | null;
}

/** How many times a statement runs when a concurrently created recipient was not in its snapshot. */
export const RECIPIENT_ATTEMPTS = 2;

/**
 * The WITH items (without the WITH keyword) that upsert one recipient and end in `recipient(id)`:
 * one row, its id, or no row when another transaction created it after this statement's snapshot
 * was taken (the INSERT sees the conflict, the SELECT cannot see the row): run the statement again.
 * Profile fields given replace stored ones; fields left out keep their stored value.
 * `when` gates every write (e.g. "the template exists"), so a statement that fails it writes nothing.
 */
export function recipientCtes(
  environmentId: string,
  externalId: string,
  profile?: RecipientProfile | null,
  when: Prisma.Sql = Prisma.sql`true`,
): Prisma.Sql {
  // UUIDv7 like every other id: time-ordered, so "newest first" listings can page by id.
  const id = uuidv7();
  const name = profile?.name ?? null;
  const email = profile?.email ?? null;
  const metadata = profile?.metadata == null ? null : JSON.stringify(profile.metadata);
  const hasProfile = name != null || email != null || metadata != null;
  // Rows inserted by this statement are invisible to its other parts, so the UPDATE and the SELECT
  // below only ever see a row that existed before (and the UPDATE never touches the new one).
  const update = hasProfile
    ? Prisma.sql`
    updated_recipient AS (
      UPDATE recipients AS r SET
        name = COALESCE(${name}::text, r.name),
        email = COALESCE(${email}::text, r.email),
        metadata = COALESCE(${metadata}::jsonb, r.metadata),
        updated_at = now()
      WHERE r.environment_id = ${environmentId}::uuid AND r.external_id = ${externalId} AND (${when})
        AND (r.name IS DISTINCT FROM COALESCE(${name}::text, r.name)
          OR r.email IS DISTINCT FROM COALESCE(${email}::text, r.email)
          OR r.metadata IS DISTINCT FROM COALESCE(${metadata}::jsonb, r.metadata))
      RETURNING r.id
    ),`
    : Prisma.empty;
  return Prisma.sql`
    inserted_recipient AS (
      INSERT INTO recipients (id, environment_id, external_id, name, email, metadata)
      SELECT ${id}::uuid, ${environmentId}::uuid, ${externalId}, ${name}::text, ${email}::text, ${metadata}::jsonb
      WHERE (${when})
      ON CONFLICT (environment_id, external_id) DO NOTHING
      RETURNING id
    ),${update}
    recipient AS (
      (SELECT id FROM inserted_recipient)
      UNION ALL
      (SELECT id FROM recipients WHERE environment_id = ${environmentId}::uuid AND external_id = ${externalId})
      LIMIT 1
    )`;
}

/** The recipient's id, creating it when new; profile fields given replace stored ones. One round trip. */
export async function upsertRecipient(
  db: Pick<Prisma.TransactionClient, '$queryRaw'>,
  environmentId: string,
  externalId: string,
  profile?: RecipientProfile | null,
): Promise<string> {
  for (let attempt = 1; attempt <= RECIPIENT_ATTEMPTS; attempt++) {
    const rows = await db.$queryRaw<{ id: string }[]>`
      WITH ${recipientCtes(environmentId, externalId, profile)}
      SELECT id::text AS id FROM recipient`;
    if (rows[0]) return rows[0].id;
  }
  throw new Error('Recipient neither inserted nor visible twice in a row (deleted concurrently?); retry.');
}
