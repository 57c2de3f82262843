// What each project role may do, as DESIGN's principals table says: MEMBER reads; ADMIN also
// manages keys, templates, webhooks and sends test notifications; OWNER also manages members and
// the project. The API enforces it; the dashboard only hides what would be refused.
import type { Role } from '../gql/graphql.ts';

const rank: Record<Role, number> = { MEMBER: 1, ADMIN: 2, OWNER: 3 };

export function atLeast(role: Role | null | undefined, needed: Role): boolean {
  return role != null && rank[role] >= rank[needed];
}

export interface Abilities {
  /** Keys, templates, webhooks, test sends, recipient deletion, environment settings. */
  manage: boolean;
  /** Members, invitations. */
  own: boolean;
}

export function abilities(role: Role | null | undefined): Abilities {
  return { manage: atLeast(role, 'ADMIN'), own: atLeast(role, 'OWNER') };
}

export const ROLES: readonly Role[] = ['MEMBER', 'ADMIN', 'OWNER'];

export const ROLE_HELP: Record<Role, string> = {
  MEMBER: 'Reads everything in the project.',
  ADMIN: 'Also manages API keys, templates and webhooks, and sends test notifications.',
  OWNER: 'Also manages members and the project.',
};
