// Configuration comes only from environment variables, parsed once at boot. A bad value stops the
// start with a message naming the variable. The API's env.ts extends this schema.
// The paths module alone: parsing configuration must not load the Prisma client.
import { DEFAULT_DATA_DIR } from '@pigeon/schema/paths';
import { z } from 'zod';
import { DEFAULT_RETRY_SCHEDULE, parseSchedule } from './webhooks/schedule.ts';
import { parseAllowList } from './webhooks/target.ts';

const intFrom = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback);

export const workerEnvSchema = z.object({
  /** PostgreSQL connection string. Unset: the embedded PGlite database in PIGEON_DATA_DIR. */
  DATABASE_URL: z
    .string()
    .trim()
    .min(1)
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://')
    .optional(),
  DATABASE_POOL_SIZE: intFrom(10, 1, 200),
  /** Embedded database directory; relative paths are taken from the current directory. */
  PIGEON_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and channel Pigeon uses (queues, pub/sub, rate limits). */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only')
    .default('pigeon'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  WORKER_CONCURRENCY: intFrom(16, 1, 1000),
  /** ACCEPTED notifications older than this are re-enqueued (the commit-then-enqueue crash window). */
  RECONCILE_AFTER_MS: intFrom(5000, 100),
  RECONCILE_INTERVAL_MS: intFrom(2000, 50),
  RENDER_THREADS: intFrom(2, 1, 64),
  RENDER_TIMEOUT_MS: intFrom(1000, 10, 60_000),
  /** Inbox events (the replay log behind stream cursors) are kept this long. */
  INBOX_RETENTION_HOURS: intFrom(72, 1, 24 * 365),
  INBOX_PRUNE_INTERVAL_MS: intFrom(10 * 60_000, 1000),
  /** Webhook attempts in flight per worker process, and per endpoint across all workers. */
  WEBHOOK_CONCURRENCY: intFrom(64, 1, 2000),
  WEBHOOK_ENDPOINT_CONCURRENCY: intFrom(8, 1, 1000),
  /** Hard limit for one attempt: connect, send, response headers and the (capped) body. */
  WEBHOOK_TIMEOUT_MS: intFrom(15_000, 100, 120_000),
  /** How much of each response body is read and kept in the attempt log. */
  WEBHOOK_MAX_RESPONSE_BYTES: intFrom(16 * 1024, 0, 1024 * 1024),
  /** Waits before each scheduled attempt (units ms, s, m, h, d). */
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default(DEFAULT_RETRY_SCHEDULE)
    .transform((v, ctx) => {
      try {
        return parseSchedule(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** ±fraction of each wait chosen at random. */
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.2),
  /** A receiver's Retry-After (429, 503) is honoured up to this. */
  WEBHOOK_RETRY_AFTER_MAX_MS: intFrom(3_600_000, 0),
  /** Disable an endpoint whose attempts have all failed for this long (0: never). Default 5 days. */
  WEBHOOK_DISABLE_AFTER_FAILING_MS: intFrom(5 * 86_400_000, 0),
  /** Disable an endpoint after this many consecutive exhausted deliveries (0: never). */
  WEBHOOK_DISABLE_AFTER_EXHAUSTED: intFrom(0, 0),
  /** Attempt logs and finished deliveries are kept this long. Default 30 days. */
  WEBHOOK_RETENTION_HOURS: intFrom(30 * 24, 1, 24 * 3650),
  WEBHOOK_PRUNE_INTERVAL_MS: intFrom(10 * 60_000, 1000),
  /**
   * Networks (CIDR) and host:port pairs webhooks may reach although they are not public addresses,
   * e.g. "10.20.0.0/16, hooks.internal:8443". Empty: public addresses only. The one-process local
   * start (npm start) allows loopback when this is unset.
   */
  WEBHOOK_ALLOW_LIST: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        parseAllowList(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
});

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

export class ConfigError extends Error {
  constructor(issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `source` with `schema`, turning zod's issues into one readable message. */
export function parseEnv<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>): z.infer<S> {
  // Empty strings mean "unset" for every variable, as in most shells' `FOO= cmd`.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}

export function loadWorkerEnv(source: Record<string, string | undefined> = process.env): WorkerEnv {
  return parseEnv(workerEnvSchema, source);
}

/** For entry points: parse the configuration or stop with the readable message (no stack trace). */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`\n${error.message}\n\n`);
    process.exit(1);
  }
}
