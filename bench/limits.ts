// The numbers behind the API's abuse limits (api/src/app.ts): every GraphQL document the clients
// ship (dashboard, React SDK, Node SDK; from codegen's output) measured the way each limit counts,
// against the limit. A limit is tuned when the largest legitimate document sits well inside it
// and hostile documents (test/faults/hostile-input.test.ts) do not.
//
//   npx node bench/limits.ts [--json]
import { type DocumentNode, Kind, Lexer, type OperationDefinitionNode, print, type SelectionSetNode, Source, TokenKind } from 'graphql';
import { LIMITS } from '../api/src/app.ts';
import { ID_PAGES } from '../api/src/builder.ts';
import { operationCost } from '../api/src/cost.ts';
import { schema } from '../api/src/schema/index.ts';
import * as node from '../clients/node/src/gql/graphql.ts';
import * as react from '../clients/react/src/gql/graphql.ts';
import * as dashboard from '../dashboard/src/gql/graphql.ts';

interface Measure {
  client: string;
  operation: string;
  tokens: number;
  depth: number;
  aliases: number;
  directives: number;
  /** With the operation's own default variables (the page sizes clients send by default). */
  cost: number;
  /** With every page at its maximum size: the most this document can ever cost. */
  costAtMaxPages: number;
}

function documentsOf(module: Record<string, unknown>): [string, DocumentNode][] {
  return Object.entries(module).filter(
    (entry): entry is [string, DocumentNode] =>
      entry[0].endsWith('Document') && (entry[1] as { kind?: unknown } | null)?.kind === Kind.DOCUMENT,
  );
}

/** Tokens as graphql-armor's max-tokens rule counts them: every lexer token but the end. */
function tokens(document: DocumentNode): number {
  const lexer = new Lexer(new Source(print(document)));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
}

function walk(document: DocumentNode) {
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])),
  );
  let aliases = 0;
  let directives = 0;
  const depthOf = (set: SelectionSetNode, seen: Set<string>): number => {
    let deepest = 0;
    for (const selection of set.selections) {
      directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        if (selection.alias) aliases++;
        deepest = Math.max(deepest, 1 + (selection.selectionSet ? depthOf(selection.selectionSet, seen) : 0));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, seen));
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(selection.name.value)) {
          deepest = Math.max(deepest, depthOf(fragment, new Set([...seen, selection.name.value])));
        }
      }
    }
    return deepest;
  };
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const depth = operation ? depthOf(operation.selectionSet, new Set()) : 0;
  return { depth, aliases, directives, operation };
}

/** Every variable named like a page size (first/last/limit) at its maximum. */
function maxPageVariables(operation: OperationDefinitionNode | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of operation?.variableDefinitions ?? []) {
    if (/^(first|last|limit|pageSize|page)$/i.test(v.variable.name.value)) out[v.variable.name.value] = ID_PAGES.maxSize;
  }
  return out;
}

const measures: Measure[] = [];
for (const [client, module] of [
  ['dashboard', dashboard],
  ['react', react],
  ['node', node],
] as const) {
  for (const [name, document] of documentsOf(module as Record<string, unknown>)) {
    const { depth, aliases, directives, operation } = walk(document);
    if (!operation) continue;
    const pages = { defaultPageSize: ID_PAGES.defaultSize, maxPageSize: ID_PAGES.maxSize };
    measures.push({
      client,
      operation: name.replace(/Document$/, ''),
      tokens: tokens(document),
      depth,
      aliases,
      directives,
      cost: operationCost(schema, document, null, {}, pages),
      costAtMaxPages: operationCost(schema, document, null, maxPageVariables(operation), pages),
    });
  }
}

const largest = (key: keyof Measure) =>
  measures.reduce((best, m) => ((m[key] as number) > (best[key] as number) ? m : best), measures[0] as Measure);
const rows: [string, keyof Measure, number][] = [
  ['tokens', 'tokens', LIMITS.maxTokens],
  ['depth', 'depth', LIMITS.maxDepth],
  ['aliases', 'aliases', LIMITS.maxAliases],
  ['directives', 'directives', LIMITS.maxDirectives],
  ['cost (default pages)', 'cost', LIMITS.maxCost],
  ['cost (every page at its maximum)', 'costAtMaxPages', LIMITS.maxCost],
];

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ limits: LIMITS, measures }, null, 2));
} else {
  console.log(`${measures.length} client documents (dashboard, React SDK, Node SDK)\n`);
  console.log('| measure | limit | largest client document | its value | headroom |');
  console.log('|---|---|---|---|---|');
  for (const [label, key, limit] of rows) {
    const m = largest(key);
    const value = m[key] as number;
    console.log(
      `| ${label} | ${limit.toLocaleString('en')} | ${m.client} ${m.operation} | ${value.toLocaleString('en')} | ${(limit / Math.max(1, value)).toFixed(1)}× |`,
    );
  }
}
