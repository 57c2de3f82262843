// The pub/sub channel map. Redis pub/sub is only the live wake-up path (at-most-once); Postgres is
// the truth, so a message carries just enough to know whom to wake and from which sequence.

export interface InboxWakeUp {
  environmentId: string;
  recipientId: string;
  seq: number;
}

/** One channel per recipient, scoped by environment and by the deployment's Redis prefix. */
export function inboxChannel(prefix: string, environmentId: string, recipientId: string): string {
  return `${prefix}:inbox:${environmentId}:${recipientId}`;
}
