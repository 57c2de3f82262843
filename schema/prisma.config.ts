// Prisma CLI configuration. Only `prisma generate` is used through the CLI: migrations are applied by
// our own runner (src/migrate.ts) and diffed through @prisma/schema-engine-wasm, because the CLI
// cannot download its native schema engine on machines without internet access.
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'prisma/config';

// `generate` never runs the schema engine, but the CLI insists on finding one first; a placeholder
// file satisfies that check. A real engine named by the caller is left alone.
if (!process.env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(process.env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  const placeholder = join(tmpdir(), 'pigeon-prisma-schema-engine-placeholder');
  if (!existsSync(placeholder)) writeFileSync(placeholder, '', { mode: 0o755 });
  process.env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder;
}

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
