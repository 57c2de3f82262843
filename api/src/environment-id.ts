import type { Role } from '@pigeon/schema';
import type { Context } from './context.ts';
import { forbidden } from './errors.ts';

/**
 * The environment a call acts on. API keys carry theirs; dashboard sessions name one by argument,
 * which the `environment` auth scope has already checked against their membership.
 */
export function environmentIdFor(ctx: Context, argument: string | null | undefined): string {
  const p = ctx.principal;
  if (p?.kind === 'apiKey' || p?.kind === 'clientToken') return p.environmentId;
  if (p?.kind === 'session' && argument) return argument;
  throw forbidden('This call needs an environmentId.');
}

export const ENVIRONMENT_ID_DESCRIPTION = 'Required for dashboard sessions; API keys act on their own environment.';

/**
 * The auth scopes of a field that acts on one environment: its API keys (when `apiKey`) or project
 * members with at least `role`, the environment named by the field's `environmentId` argument.
 */
export function environmentScope(role: Role, apiKey: boolean) {
  return (_root: unknown, args: { environmentId?: string | number | null }) => ({
    environment: { environmentId: args.environmentId?.toString(), role, apiKey },
  });
}
