// Query cost: roughly how many values an operation can make the server produce, checked before it
// runs. Every field costs 1, an object 2 plus its selection; a connection multiplies its selection by
// its page size — `first`/`last` written in the query OR passed as a variable (or the variable's
// default), and the default page size when neither is given. A per-field cap (100) bounds each page.
//
// (graphql-armor's cost rule, used before, runs at validation time without variables and counts
// `first: $n` as 1, so nesting variable page sizes slipped a million-row query under its limit.)
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface CostOptions {
  maxCost: number;
  /** Page size of a connection queried without first/last. */
  defaultPageSize: number;
  /** The largest page a connection serves. */
  maxPageSize: number;
}

function pageArgument(node: FieldNode, variables: Record<string, unknown>, defaults: Map<string, ValueNode>): number | null | undefined {
  for (const arg of node.arguments ?? []) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    const value = arg.value;
    if (value.kind === Kind.INT) return Number.parseInt(value.value, 10);
    if (value.kind === Kind.VARIABLE) {
      const name = value.name.value;
      const given = variables[name];
      if (typeof given === 'number') return given;
      if (given === undefined) {
        const fallback = defaults.get(name);
        if (fallback?.kind === Kind.INT) return Number.parseInt(fallback.value, 10);
      }
      // null or absent: the server's default page size applies.
      return null;
    }
    return null;
  }
  return undefined;
}

// graphql's is*Type()/getNamedType() use instanceof, and the schema may come from graphql's other
// build (CJS vs ESM: "Cannot use GraphQLObjectType from another module or realm"): duck-type instead.
function fieldsOf(type: unknown): Record<string, GraphQLField<unknown, unknown>> | undefined {
  return type && typeof (type as { getFields?: unknown }).getFields === 'function'
    ? (type as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields()
    : undefined;
}

function namedType(type: unknown): GraphQLNamedType {
  let current = type as { ofType?: unknown };
  while (current.ofType) current = current.ofType as { ofType?: unknown };
  return current as GraphQLNamedType;
}

/** The cost of one operation with its variables (see the header). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
  options: Pick<CostOptions, 'defaultPageSize' | 'maxPageSize'>,
): number {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return 0;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const defaults = new Map(
    (operation.variableDefinitions ?? []).flatMap((v) => (v.defaultValue ? [[v.variable.name.value, v.defaultValue] as const] : [])),
  );
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  const visiting = new Set<string>();

  const costOf = (set: SelectionSetNode, parent: GraphQLNamedType | null | undefined): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        total += costOf(selection.selectionSet, type);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        // A cycle is a validation error anyway; counting it once keeps this total finite.
        if (!fragment || visiting.has(fragment.name.value)) continue;
        visiting.add(fragment.name.value);
        total += costOf(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
        visiting.delete(fragment.name.value);
      } else {
        const name = selection.name.value;
        if (name === '__typename') continue;
        const definition = fieldsOf(parent)?.[name];
        if (!selection.selectionSet) {
          total += 1;
          continue;
        }
        let multiplier = 1;
        const page = pageArgument(selection, variables, defaults);
        const paginated = page !== undefined || definition?.args.some((a) => a.name === 'first');
        if (paginated) {
          multiplier = Math.min(options.maxPageSize, Math.max(1, page ?? options.defaultPageSize));
        }
        total += multiplier * (2 + costOf(selection.selectionSet, definition ? namedType(definition.type) : null));
      }
    }
    return total;
  };
  return costOf(operation.selectionSet, root);
}

export function costLimitPlugin(schema: GraphQLSchema, options: CostOptions): Plugin {
  const guard = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const cost = operationCost(schema, args.document, args.operationName, args.variableValues ?? {}, options);
    if (cost <= options.maxCost) return;
    setResultAndStopExecution({
      errors: [
        new GraphQLError(
          `This operation could produce about ${cost} values, more than the limit of ${options.maxCost}: ask for smaller pages (first/last) or fewer nested connections.`,
          { extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxCost: options.maxCost } },
        ),
      ],
    });
  };
  return { onExecute: guard, onSubscribe: guard };
}
