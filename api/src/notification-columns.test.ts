// send's statement reads its Notification straight from the driver (Database.query): the row must be
// exactly what Prisma reads, field for field and type for type, on PostgreSQL (pg) and in the
// embedded mode (PGlite) alike, including fields added to the model later.
import { type Database, openEmbedded, openPostgres, Prisma } from '@pigeon/schema';
import { applyMigrations } from '@pigeon/schema/migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/harness.ts';
import { notificationSelectList } from './notification-columns.ts';

/** A notification with every field set (no nulls), and its recipient, environment and project. */
async function insertFullNotification(db: Database): Promise<string> {
  const project = await db.prisma.project.create({ data: { name: 'Parity' } });
  const environment = await db.prisma.environment.create({
    data: { projectId: project.id, kind: 'DEVELOPMENT', clientTokenSecret: 'secret' },
  });
  const recipient = await db.prisma.recipient.create({ data: { environmentId: environment.id, externalId: 'ada' } });
  const template = await db.prisma.template.create({
    data: { environmentId: environment.id, key: 'parity', name: 'Parity', titleSource: 't', bodySource: 'b' },
  });
  const at = new Date('2026-11-22T10:11:12.345Z');
  const notification = await db.prisma.notification.create({
    data: {
      environmentId: environment.id,
      recipientId: recipient.id,
      templateId: template.id,
      templateKey: 'parity',
      title: 'Title',
      body: 'Body',
      actionUrl: '/x',
      category: 'orders',
      data: { nested: { n: 1, list: [1, 'two', null] }, flag: true },
      status: 'DELIVERED',
      failureReason: 'none',
      idempotencyKey: 'key-1',
      requestHash: 'hash',
      deliveredAt: at,
      deliveredSeq: 42,
      readAt: at,
      seenAt: at,
      archivedAt: at,
    },
  });
  return notification.id;
}

for (const kind of ['postgres', 'embedded'] as const) {
  describe(`Database.query on ${kind === 'postgres' ? 'PostgreSQL (pg)' : 'PGlite'}`, () => {
    let db: Database;
    let drop: () => Promise<void> = async () => {};
    beforeAll(async () => {
      if (kind === 'postgres') {
        const database = await createTestDatabase();
        drop = database.drop;
        db = openPostgres({ url: database.url, poolSize: 2 });
      } else {
        db = await openEmbedded(null);
        await applyMigrations({ kind: 'pglite', pglite: db.pglite as NonNullable<Database['pglite']> });
      }
    }, 60_000);
    afterAll(async () => {
      await db?.close();
      await drop();
    });

    it('reads a Notification exactly as Prisma reads it', async () => {
      const id = await insertFullNotification(db);
      const [ours] = await db.query(
        Prisma.sql`/* prepared */ SELECT ${notificationSelectList()} FROM notifications WHERE id = ${id}::uuid`,
      );
      const prismas = await db.prisma.notification.findUniqueOrThrow({ where: { id } });
      expect(ours).toStrictEqual(prismas);
      // Read twice: the second time through the prepared statement.
      const [again] = await db.query(
        Prisma.sql`/* prepared */ SELECT ${notificationSelectList()} FROM notifications WHERE id = ${id}::uuid`,
      );
      expect(again).toStrictEqual(prismas);
    });

    it("reports a failed statement's SQLSTATE as code", async () => {
      const error = await db.query(Prisma.sql`SELECT 1 / ${0}::int AS x`).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as { code?: unknown }).code).toBe('22012');
    });
  });
}
