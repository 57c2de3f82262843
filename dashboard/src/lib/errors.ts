// Turning the API's two kinds of failure into words: GraphQL errors with extensions.code
// (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, …) and typed union members (`Error` + `issues`).
import type { CombinedError } from 'urql';

export function errorCode(error: CombinedError | null | undefined): string | undefined {
  for (const e of error?.graphQLErrors ?? []) {
    const code = e.extensions?.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Seconds to wait, from a RATE_LIMITED error's extensions.retryAfter. */
export function retryAfterSeconds(error: CombinedError | null | undefined): number | null {
  for (const e of error?.graphQLErrors ?? []) {
    const value = e.extensions?.retryAfter;
    if (typeof value === 'number' && Number.isFinite(value)) return Math.max(1, Math.ceil(value));
  }
  return null;
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** A sentence for people, whatever went wrong with a request. */
export function describeError(error: CombinedError | null | undefined): string {
  if (!error) return 'Something went wrong.';
  if (error.networkError) return 'Cannot reach the Pigeon API. Check your connection and try again.';
  switch (errorCode(error)) {
    case 'UNAUTHENTICATED':
      return 'Your session has ended. Log in again.';
    case 'FORBIDDEN':
      return 'Your role in this project does not allow this.';
    case 'RATE_LIMITED': {
      const wait = retryAfterSeconds(error);
      return wait ? `Too many requests. Try again in ${formatWait(wait)}.` : 'Too many requests. Try again shortly.';
    }
    default: {
      const message = error.graphQLErrors[0]?.message;
      return message ? message : 'Something went wrong.';
    }
  }
}

export interface Issue {
  path: string;
  message: string;
}

/**
 * Field messages keyed by the last part of each issue's path ("input.email" → "email"); issues
 * without a field are collected under "" for a form-level message.
 */
export function issuesByField(issues: readonly Issue[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues ?? []) {
    const parts = issue.path.split('.').filter((p) => p !== 'input');
    const key = parts[0] ?? '';
    out[key] = out[key] ? `${out[key]} ${issue.message}` : issue.message;
  }
  return out;
}
