// The urql client: same-origin POSTs to /graphql (the API serves the dashboard, and Vite's dev
// server proxies it), the CSRF header read from the cookie on every request, and one hook for
// "the session is gone" so any screen can send the user back to the login page.
import { Client, type CombinedError, cacheExchange, fetchExchange, mapExchange } from 'urql';
import { CSRF_HEADER, readCsrfToken } from './csrf.ts';
import { errorCode } from './errors.ts';

export const GRAPHQL_PATH = '/graphql';

export interface ClientHooks {
  /** A request came back UNAUTHENTICATED: the session expired or was ended elsewhere. */
  onUnauthenticated(error: CombinedError): void;
}

export function createClient(hooks: ClientHooks): Client {
  return new Client({
    url: GRAPHQL_PATH,
    // Always POST + JSON: the API refuses other content types, and GET would put filters in logs.
    preferGetMethod: false,
    requestPolicy: 'cache-first',
    fetchOptions: (): RequestInit => {
      const csrf = readCsrfToken();
      const headers: Record<string, string> = {};
      if (csrf) headers[CSRF_HEADER] = csrf;
      return { credentials: 'same-origin', headers };
    },
    exchanges: [
      mapExchange({
        onError(error) {
          if (errorCode(error) === 'UNAUTHENTICATED') hooks.onUnauthenticated(error);
        },
      }),
      cacheExchange,
      fetchExchange,
    ],
  });
}
