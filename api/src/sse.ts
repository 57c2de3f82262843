// GraphQL over Server-Sent Events (the graphql-sse protocol) through @graphql-yoga/plugin-graphql-sse,
// with the two failures it showed here fixed around it:
//   - a result with `errors` and no `data` (a subscription refused by its auth scopes or by a rate
//     budget) is not recognised as a result by graphql-sse and turns into "Unable to detect
//     operation AST", losing the typed error. Such results get `data: null`, so they are streamed as
//     a `next` event with the error, then `complete`.
//   - an error thrown before the stream starts (an invalid token while building the context, a
//     syntax error) became a 500 with a stack trace. It becomes a JSON error with its code and status.
// Only "distinct connections" mode is served: single-connection streams live in one process's memory
// (which breaks behind a load balancer) and let clients reserve memory without sending a query.
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { Logger } from '@pigeon/worker';
import { type ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maskError } from './mask-error.ts';

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function errorResponse(fetchAPI: { Response: typeof Response }, error: unknown, log: Logger): Response {
  const masked = maskError(error, 'Unexpected error.', log) as GraphQLError;
  const { http, ...extensions } = (masked.extensions ?? {}) as { http?: { status?: number }; code?: unknown };
  const status = http?.status ?? (extensions.code === 'INTERNAL_SERVER_ERROR' ? 500 : extensions.code === 'UNAUTHENTICATED' ? 401 : 400);
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message: masked.message, extensions }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** Yoga keeps `extensions.http` (status, headers) for itself; streamed results must not show it. */
function withoutHttpExtensions(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.some((e) => e.extensions?.http !== undefined)) return result;
  return {
    ...result,
    errors: result.errors.map((e) => {
      if (e.extensions?.http === undefined) return e;
      const { http: _internal, ...extensions } = e.extensions;
      return new GraphQLError(e.message, {
        nodes: e.nodes,
        source: e.source,
        positions: e.positions,
        path: e.path,
        originalError: e.originalError,
        extensions,
      });
    }),
  };
}

export function graphqlSsePlugin({ endpoint, log }: { endpoint: string; log: Logger }): Plugin {
  const inner = useGraphQLSSE({ endpoint, authenticate: () => null });
  return {
    ...inner,
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) {
            return { onNext: ({ result: next, setResult: setNext }) => setNext(withoutHttpExtensions(next)) };
          }
          setResult(withoutHttpExtensions('data' in result ? result : { data: null, ...(result as ExecutionResult) }));
          return undefined;
        },
      };
    },
    // The stream endpoint parses requests itself, past Yoga's request checks (body limit, NUL and
    // nesting guards); it serves only what it is for. Queries and mutations go to /graphql.
    onExecute({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (request && new URL(request.url).pathname.endsWith(endpoint)) {
        setResultAndStopExecution({
          data: null,
          errors: [
            new GraphQLError(`Only subscriptions are served on ${endpoint}; send queries and mutations to /graphql.`, {
              extensions: { code: 'BAD_REQUEST' },
            }),
          ],
        });
      }
    },
    onRequest(payload) {
      const started = inner.onRequest?.(payload);
      if (!started) return;
      return Promise.resolve(started).catch((error: unknown) => payload.endResponse(errorResponse(payload.fetchAPI, error, log)));
    },
  };
}
