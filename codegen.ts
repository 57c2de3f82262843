// GraphQL codegen: schema/schema.graphql (printed from the Pothos schema by `npm run generate`) →
// typed documents for each client package. Every package gets its own `src/gql/` (generated, not
// committed) holding only its own documents, so a package never depends on another's queries.
// `npm run codegen` runs in `npm run typecheck` and before `npm start` / `npm test`: a document
// that no longer matches the schema fails generation, and a stale one fails tsc.
import type { CodegenConfig } from '@graphql-codegen/cli';

const packages = ['clients/node', 'clients/react', 'dashboard'];

const preset = {
  preset: 'client' as const,
  presetConfig: { fragmentMasking: false },
  config: {
    // Node runs these files with type stripping: no enums, `import type` for types, `.ts` paths.
    enumsAsTypes: true,
    useTypeImports: true,
    scalars: { DateTime: 'string', JSON: 'unknown' },
    avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
    skipTypename: false,
    strictScalars: true,
    dedupeFragments: true,
    importExtension: '.ts',
  },
};

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: Object.fromEntries(
    packages.map((dir) => [`${dir}/src/gql/`, { ...preset, documents: [`${dir}/src/**/*.{ts,tsx}`, `!${dir}/src/gql/**`] }]),
  ),
};

export default config;
