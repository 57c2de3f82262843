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
