// Inbox cursors: an opaque string naming a recipient and a position in its event sequence. Not
// signed (a cursor grants nothing): a stream checks that it names the token's own recipient, and
// answers anything else — another recipient's, malformed, pruned — with a RESYNC.
import { isUuid } from '../uuid.ts';

const VERSION = 'i1';

export interface InboxPosition {
  recipientId: string;
  seq: number;
}

export function encodeInboxCursor({ recipientId, seq }: InboxPosition): string {
  return Buffer.from(`${VERSION}:${recipientId}:${seq}`).toString('base64url');
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeInboxCursor(cursor: string): InboxPosition | null {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const [version, recipientId, seqText, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (version !== VERSION || rest.length > 0 || !recipientId || !isUuid(recipientId) || !seqText || !/^\d{1,10}$/.test(seqText)) {
    return null;
  }
  const seq = Number(seqText);
  if (seq > 2_147_483_647) return null;
  return { recipientId: recipientId.toLowerCase(), seq };
}
