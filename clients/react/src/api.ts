// Queries and mutations over HTTP with the client token (urql, no cache: the inbox store is the
// cache). An UNAUTHENTICATED answer refetches the token and repeats the operation once.
import { Client, fetchExchange, type TypedDocumentNode } from '@urql/core';
import type { TokenManager } from './token.ts';

/**
 * A failure reported by the API or the network. `code` is the API's code (`UNAUTHENTICATED`,
 * `RATE_LIMITED`, `NOT_FOUND`, `VALIDATION`, …) or `NETWORK_ERROR`.
 *
 * @example
 * ```ts
 * const { mutationError } = useNotifications();
 * if (mutationError?.code === 'RATE_LIMITED') console.log(`retry in ${mutationError.retryAfter}s`);
 * ```
 */
export class PigeonClientError extends Error {
  override name = 'PigeonClientError';
  readonly code: string;
  /** Seconds to wait before trying again (RATE_LIMITED). */
  readonly retryAfter: number | undefined;
  constructor(code: string, message: string, retryAfter?: number) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  readonly #client: Client;
  readonly #tokens: TokenManager;

  constructor(baseUrl: string, tokens: TokenManager) {
    this.#tokens = tokens;
    this.#client = new Client({
      url: `${baseUrl}/graphql`,
      exchanges: [fetchExchange],
      requestPolicy: 'network-only',
      preferGetMethod: false,
    });
  }

  async run<Data, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
  ): Promise<Data> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#tokens.get();
      const isMutation = document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'mutation');
      const context = { fetchOptions: { headers: { authorization: `Bearer ${token.value}` } } };
      const result = isMutation
        ? await this.#client.mutation(document, variables, context).toPromise()
        : await this.#client.query(document, variables, context).toPromise();
      if (result.data && !result.error) return result.data;
      const first = result.error?.graphQLErrors[0];
      const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : undefined;
      if (code === 'UNAUTHENTICATED' && attempt === 0) {
        this.#tokens.invalidate(token.value);
        continue;
      }
      if (first) {
        const retryAfter = typeof first.extensions?.retryAfter === 'number' ? first.extensions.retryAfter : undefined;
        throw new PigeonClientError(code ?? 'INTERNAL_SERVER_ERROR', first.message, retryAfter);
      }
      const status = (result.error?.response as Response | undefined)?.status;
      if (status === 401 && attempt === 0) {
        this.#tokens.invalidate(token.value);
        continue;
      }
      throw new PigeonClientError(
        'NETWORK_ERROR',
        status ? `Pigeon answered HTTP ${status}.` : `Could not reach Pigeon: ${result.error?.networkError?.message ?? 'no answer'}.`,
      );
    }
  }
}
