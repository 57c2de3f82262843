// Writes the sorted SDL to schema/schema.graphql (the file clients and codegen read). With --check
// it only compares, and fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './schema/index.ts';

const target = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));
const sdl = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== sdl) {
    process.stderr.write('schema/schema.graphql is stale: run `npm run generate` and commit the result.\n');
    process.exit(1);
  }
  process.stdout.write('schema/schema.graphql is up to date\n');
} else {
  writeFileSync(target, sdl);
}
