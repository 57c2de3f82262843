// GraphQL codegen: schema/schema.graphql (printed from the Pothos schema by `npm run generate`) →
// typed documents for clients/ and dashboard/. The client preset is wired in by the SDK and
// dashboard issues, when those packages first hold GraphQL documents; until then this file names
// the one schema source they will read.
const config = {
  schema: 'schema/schema.graphql',
  documents: ['clients/*/src/**/*.{ts,tsx}', 'dashboard/src/**/*.{ts,tsx}'],
  ignoreNoDocuments: true,
  generates: {},
};

export default config;
