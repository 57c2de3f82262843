// The demo app's backend, as a customer's would be: it holds the API key, mints client tokens for
// its users, sends through the Node SDK and receives Pigeon's webhooks. The browser never sees the key.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetworkError, type Pigeon, PigeonError, RateLimitedError, ServerError } from '@pigeon/node';
import { z } from 'zod';
import type { PageAssets } from './bundle.ts';
import type { WebhookLog } from './webhook-log.ts';

/** The people the page can act as. A real backend mints tokens for its signed-in user only. */
export const DEMO_USERS = [
  { id: 'ada', name: 'Ada Lovelace' },
  { id: 'grace', name: 'Grace Hopper' },
] as const;

const userId = z.enum(DEMO_USERS.map((u) => u.id) as [string, ...string[]]);
const tokenRequest = z.object({ user: userId });
const sendRequest = z.object({
  to: userId,
  title: z.string().trim().min(1).max(200),
  body: z.string().trim().max(2000).default(''),
  actionUrl: z
    .string()
    .trim()
    .regex(/^(\/|https?:\/\/)/, 'a path starting with "/" or an http(s) URL')
    .max(500)
    .optional(),
  // The page makes one per click, so a retried request cannot send twice.
  idempotencyKey: z.string().min(1).max(200).optional(),
});

const MAX_JSON_BYTES = 64 * 1024;
const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** Client tokens live briefly; the React SDK asks `getToken` for a new one before expiry. */
const TOKEN_TTL_SECONDS = 15 * 60;

export interface DemoServerOptions {
  pigeon: Pigeon;
  /** The API as the browser reaches it (the page's `<PigeonProvider baseUrl>`). */
  pigeonUrl: string;
  receiver: WebhookLog;
  assets: PageAssets;
  port: number;
  /** Filled in once the endpoint exists (the page shows where webhooks go). */
  endpoint: () => { id: string; url: string } | null;
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function createDemoServer(options: DemoServerOptions) {
  const { pigeon, receiver, assets } = options;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void> = {
    'GET /': (_req, res) => send(res, 200, 'text/html; charset=utf-8', assets.html),
    'GET /app.js': (_req, res) => send(res, 200, 'text/javascript; charset=utf-8', assets.js),
    'GET /app.css': (_req, res) => send(res, 200, 'text/css; charset=utf-8', assets.css),
    'GET /api/config': (_req, res) => json(res, 200, { pigeonUrl: options.pigeonUrl, users: DEMO_USERS }),

    'POST /api/token': async (req, res) => {
      const { user } = parse(tokenRequest, await readJson(req));
      const { token, expiresAt } = await pigeon.createClientToken(user, { ttlSeconds: TOKEN_TTL_SECONDS });
      json(res, 200, { token, expiresAt });
    },

    'POST /api/send': async (req, res) => {
      const input = parse(sendRequest, await readJson(req));
      const recipient = DEMO_USERS.find((u) => u.id === input.to);
      const result = await pigeon.send({
        to: input.to,
        recipient: { name: recipient?.name ?? null },
        title: input.title,
        body: input.body,
        actionUrl: input.actionUrl ?? null,
        data: { sentFrom: 'pigeon-demo' },
        idempotencyKey: input.idempotencyKey ?? `demo-${randomUUID()}`,
      });
      json(res, 200, {
        notification: { id: result.notification.id, status: result.notification.status },
        duplicate: result.duplicate,
        idempotencyKey: result.idempotencyKey,
      });
    },

    'POST /webhooks/pigeon': async (req, res) => {
      // The signature covers the exact bytes: verify the raw body, never a parsed and re-serialized one.
      const outcome = receiver.receive(await readBody(req, MAX_WEBHOOK_BYTES), req.headers);
      if (outcome.status === 204) {
        res.writeHead(204).end();
        return;
      }
      json(res, outcome.status, { error: { code: outcome.reason, message: outcome.message } });
    },

    'GET /api/webhooks': (_req, res) => json(res, 200, { endpoint: options.endpoint(), received: receiver.list() }),
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes[`${req.method} ${path}`];
    if (!route) {
      json(res, 404, { error: { code: 'NOT_FOUND', message: `No route ${req.method} ${path}.` } });
      return;
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof HttpError) {
          json(res, error.status, { error: { code: error.code, message: error.message } });
        } else if (error instanceof PigeonError) {
          // Pigeon's own words (validation issues, rate limits): the page shows them as they are.
          const status =
            error instanceof RateLimitedError ? 429 : error instanceof ServerError || error instanceof NetworkError ? 502 : 400;
          json(res, status, { error: { code: error.code, message: error.message, details: error.details } });
        } else {
          process.stderr.write(`demo: ${req.method} ${path} failed: ${(error as Error)?.stack ?? error}\n`);
          json(res, 500, { error: { code: 'INTERNAL', message: 'The demo server failed; see its terminal.' } });
        }
      });
  });

  return {
    /** Listens on 127.0.0.1 and returns the URL to open. */
    async start(): Promise<string> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, '127.0.0.1', () => resolve());
      });
      return `http://localhost:${(server.address() as AddressInfo).port}`;
    },
    async stop(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new HttpError(400, 'VALIDATION', issues);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_JSON_BYTES);
  try {
    return JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'The body is not JSON.');
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'TOO_LARGE', `The body is larger than ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
