// The demo's configuration, parsed once at start; nothing else reads process.env. The platform
// child gets the rest of the environment unchanged (REDIS_URL, WEBHOOK_* …), plus what it needs
// to stay out of a developer's own `npm start`: its own data directory, port and Redis prefix.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const demoEnvSchema = z.object({
  /** Where the demo app (page, token and send routes, webhook receiver) listens; 0 picks a free port. */
  PORT: port(3000),
  /** Where the embedded platform's API listens; 0 picks a free port. */
  PIGEON_PORT: port(4000),
  /** The platform's log level (its JSON logs go to stderr). */
  PIGEON_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('warn'),
  /** The demo's embedded database and saved API key (not the `.data/` of `npm start`). */
  DEMO_DATA_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../.data', import.meta.url))),
  /** Keeps the demo's queues apart from those of an `npm start` sharing the same Redis. */
  DEMO_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only')
    .default('pigeon-demo'),
});

export type DemoEnv = z.infer<typeof demoEnvSchema> & {
  /** Everything else, handed to the platform child. */
  inherited: Record<string, string | undefined>;
};

/** Parses the configuration, or exits with a message naming the bad variable. */
export function loadDemoEnv(source: Record<string, string | undefined> = process.env): DemoEnv {
  // Empty means unset, as in `PORT= npm run demo`.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = demoEnvSchema.safeParse(cleaned);
  if (!result.success) {
    process.stderr.write(`\n${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}\n\n`);
    process.exit(1);
  }
  return { ...result.data, inherited: { ...source } };
}
