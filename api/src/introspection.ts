// The introspection policy. Each environment decides whether its API keys and client tokens may
// introspect the schema (`Environment.introspection`, off for new PRODUCTION environments);
// INTROSPECTION_ANONYMOUS decides for requests without credentials; dashboard sessions always may
// (the dashboard and GraphiQL are their tools). Checked where the principal is known — before
// execution, like the rate budget — so a refused introspection query costs no resolver work.
import { BREAK, type DocumentNode, GraphQLError, Kind, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from './context.ts';

/** Whether the document selects __schema or __type anywhere (fragments included). */
export function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export function introspectionPolicyPlugin({ anonymous }: { anonymous: boolean }): Plugin<Context> {
  const guard = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { contextValue: unknown; document: DocumentNode };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const principal = (args.contextValue as Context).principal;
    const allowed = principal === null ? anonymous : principal.kind === 'session' ? true : principal.introspection;
    if (allowed || !introspects(args.document)) return;
    setResultAndStopExecution({
      errors: [
        new GraphQLError(
          principal === null
            ? 'Introspection needs credentials on this server: send an API key, a client token or a dashboard session.'
            : "Introspection is turned off for this environment (updateEnvironment(input: { introspection: true }) turns it on). The schema is in the API's documentation.",
          { extensions: { code: 'INTROSPECTION_DISABLED' } },
        ),
      ],
    });
  };
  return { onExecute: guard, onSubscribe: guard };
}
