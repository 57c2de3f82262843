// Raw SQL that must answer with Notification rows exactly as Prisma reads them (the send statement's
// RETURNING, the inbox event log's join) selects its columns from here: built from Prisma's own
// field list, so a field added to the model is read everywhere at once.
import { Prisma } from '@pigeon/schema';

export const notificationFields = Object.values(Prisma.NotificationScalarFieldEnum);

/** Columns are the snake_case of the fields, by the schema's @map convention. */
const column = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * `<table>.<column> AS "<prefix><field>"` for every Notification field; enums and uuids as text,
 * like Prisma's reads.
 */
export function notificationSelectList({ table, prefix = '' }: { table?: string; prefix?: string } = {}): Prisma.Sql {
  return Prisma.raw(
    notificationFields
      .map((field) => {
        const cast = field === 'status' || field === 'id' || field.endsWith('Id') ? '::text' : '';
        return `${table ? `${table}.` : ''}${column(field)}${cast} AS "${prefix}${field}"`;
      })
      .join(', '),
  );
}
