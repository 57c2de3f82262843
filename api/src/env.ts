// The API's configuration: the worker's variables plus the HTTP and auth ones. Parsed once at
// boot; nothing else reads process.env.
import { parseEnv, workerEnvSchema } from '@pigeon/worker';
import { z } from 'zod';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(fallback);

export const apiEnvSchema = workerEnvSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The URL people reach this API at; printed at start and used for links. */
  PUBLIC_URL: z.url().optional(),
  /** Behind a reverse proxy: take the client address from the first X-Forwarded-For hop. */
  TRUST_PROXY: bool(false),
  /** Send the session cookie only over HTTPS. Turn on behind TLS in production. */
  COOKIE_SECURE: bool(false),
  SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(24 * 14),
  /** Login attempts allowed per email (and per client address) in each window. */
  LOGIN_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(10),
  LOGIN_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(15 * 60),
  /** Accounts that one client address may create per hour. */
  SIGNUP_MAX_PER_HOUR: z.coerce.number().int().min(1).default(30),
  /** Largest request body accepted, in bytes. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  /** The one-process start seeds a demo project on its first run unless this is false. */
  SEED_ON_FIRST_START: bool(true),
  GRAPHIQL: bool(true),
  /**
   * Whether requests without credentials may introspect the schema (GraphiQL's docs before a key is
   * pasted). API keys and client tokens follow their environment's `introspection`; dashboard
   * sessions always may.
   */
  INTROSPECTION_ANONYMOUS: bool(true),
  /** Serve the dashboard's build (DASHBOARD_DIR, default dashboard/dist) at / from the API process. */
  DASHBOARD: bool(true),
  DASHBOARD_DIR: z.string().min(1).optional(),
  /** Live inbox streams are checked against the database this often while no wake-up arrives. */
  INBOX_RECHECK_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
  /** `npm run start:scaled`: API processes sharing PORT, and separate worker processes. */
  SCALED_API_PROCESSES: z.coerce.number().int().min(1).max(64).default(2),
  SCALED_WORKER_PROCESSES: z.coerce.number().int().min(1).max(64).default(2),
});

export type ApiEnv = z.infer<typeof apiEnvSchema>;

export function loadApiEnv(source: Record<string, string | undefined> = process.env): ApiEnv {
  return parseEnv(apiEnvSchema, source);
}
