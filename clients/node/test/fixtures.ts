// Fixtures for the SDK's tests: the real API (own database and Redis prefix, real workers) served
// over real HTTP on loopback, and a scripted HTTP proxy to put between the SDK and the API for
// fault injection. Nothing is mocked: the SDK's requests reach the real server through real sockets.
//
// @example
// const t = await sdkTestApi();
// const proxy = await startFaultProxy(t.baseUrl, [{ status: 503 }]);
// const pigeon = new Pigeon({ apiKey: t.tenant.apiKey, baseUrl: proxy.url });
// await pigeon.send({ to: 'ada', title: 'Hi', body: 'there' }); // 503, then forwarded
// await proxy.close();
// await t.stop();
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebhookTestApi, webhookTestApi } from '../../../api/test/webhook-kit.ts';

export interface SdkTestApi extends WebhookTestApi {
  /** `http://127.0.0.1:<port>`: the API over real HTTP (pass it as `baseUrl`). */
  baseUrl: string;
}

/**
 * The real API with a tenant, its workers in-process (unless `worker: false`) and endpoints allowed
 * to point at loopback, listening on 127.0.0.1. `stop()` closes the listener, then the rest.
 */
export async function sdkTestApi(
  envOverrides: Record<string, string> = {},
  options: Parameters<typeof webhookTestApi>[1] = {},
): Promise<SdkTestApi> {
  const t = await webhookTestApi({ HOST: '127.0.0.1', PORT: '0', ...envOverrides }, options);
  let started: string;
  try {
    started = await t.api.app.start();
  } catch (error) {
    await t.stop();
    throw error;
  }
  return {
    ...t,
    // start() names loopback "localhost", which may resolve to ::1 where nothing listens.
    baseUrl: started.replace('//localhost:', '//127.0.0.1:'),
    async stop() {
      await t.api.app.stop();
      await t.stop();
    },
  };
}

/**
 * What the proxy does with one request:
 * - `'forward'`: passes it to the API and the API's answer back;
 * - `'lose-response'`: passes it to the API, waits for the answer, then answers the client 503
 *   instead (the request ran, the client never learns how);
 * - `'hang'`: never answers (until `close()`), without reaching the API;
 * - `'reset'`: destroys the connection without answering, without reaching the API;
 * - `{ status }`: answers itself without reaching the API (optional headers and body).
 */
export type ProxyAction =
  | 'forward'
  | 'lose-response'
  | 'hang'
  | 'reset'
  | { status: number; headers?: Record<string, string>; body?: string };

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  index: number;
  /** `performance.now()` when its body had arrived: compare these for gaps between attempts. */
  at: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed GraphQL request. */
  body: { query: string; operationName?: string; variables?: Record<string, any> };
  action: ProxyAction;
  /** The API's status, for forwarded requests. */
  upstreamStatus?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: pass it as the SDK's `baseUrl`. */
  readonly url: string;
  /** Every request so far, oldest first (a live array). */
  readonly requests: readonly ProxiedRequest[];
  /** Scripts the following requests, one action each; requests beyond the script are forwarded. */
  setScript(actions: readonly ProxyAction[]): void;
  close(): Promise<void>;
}

/**
 * A real HTTP proxy on 127.0.0.1 in front of `target` (the API's base URL) that answers as scripted.
 *
 * @example
 * const proxy = await startFaultProxy(t.baseUrl, ['lose-response']);
 * // the first request runs on the API but its client gets a 503; later ones pass through
 */
export async function startFaultProxy(target: string, script: readonly ProxyAction[] = []): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  let pending = [...script];

  const forward = async (req: http.IncomingMessage, body: Buffer) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['host', 'connection', 'content-length', 'keep-alive'].includes(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers, body: new Uint8Array(body) });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const action = pending.shift() ?? 'forward';
      const record: ProxiedRequest = {
        index: requests.length,
        at: performance.now(),
        headers: req.headers,
        body: JSON.parse(raw.toString('utf8') || '{}'),
        action,
      };
      requests.push(record);
      res.on('error', () => {});
      if (action === 'hang') return;
      if (action === 'reset') {
        req.socket.destroy();
        return;
      }
      if (typeof action === 'object') {
        res.writeHead(action.status, { 'content-type': 'text/plain', ...action.headers }).end(action.body ?? `status ${action.status}`);
        return;
      }
      forward(req, raw).then(
        (upstream) => {
          record.upstreamStatus = upstream.status;
          if (action === 'lose-response') {
            res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream answer lost');
            return;
          }
          const headers: Record<string, string> = {};
          upstream.headers.forEach((value, name) => {
            if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(name))
              headers[name] = value;
          });
          res.writeHead(upstream.status, headers).end(upstream.body);
        },
        (error: Error) => res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${error.message}`),
      );
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setScript(actions) {
      pending = [...actions];
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A scripted answer shaped like the API's own GraphQL errors (JSON, `extensions.code`), e.g.
 * `graphqlError(503, 'OVERLOADED', { retryAfter: 1 })`.
 */
export function graphqlError(
  status: number,
  code: string,
  extensions: Record<string, unknown> = {},
  message = `${code} (scripted)`,
): ProxyAction {
  return {
    status,
    headers: { 'content-type': 'application/graphql-response+json; charset=utf-8' },
    body: JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] }),
  };
}

/** The operation name of a proxied GraphQL request (`PigeonSend`, …). */
export function operationOf(request: ProxiedRequest): string | undefined {
  return request.body.operationName ?? /(?:query|mutation)\s+(\w+)/.exec(request.body.query)?.[1];
}
