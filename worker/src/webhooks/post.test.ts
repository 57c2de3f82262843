// One webhook attempt against real receivers on 127.0.0.1 (and ::1): well-behaved ones, slow and
// hostile ones (never answer, trickle, reset, huge bodies, redirects) and TLS ones, checking both
// what the attempt reports and what the receiver actually saw.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { closeWebhookConnections, MAX_STORED_HEADER_BYTES, parseRetryAfter, postWebhook, USER_AGENT, type WebhookRequest } from './post.ts';
import { type AddressLookup, parseAllowList, type ResolvedAddress, type TargetPolicy } from './target.ts';

// A self-signed certificate for hooks.test (valid until 2126), so TLS can be tested offline.
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgw8blrYNaj6N8WTBX
VDRlgWYVkLdFZyKaO9ARiIVPIx2hRANCAAT/vw7O43d9thCMsjGQ6zbUMyGZYcag
g/UzRnUnwhQJoecxJsyZOFOybJt2aImk5JwOO47mlbZkoXqXquGqM5xk
-----END PRIVATE KEY-----
`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBlzCCAT6gAwIBAgIUQ/yGPE7xnCflj1vDt+iij0D1gYIwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKaG9va3MudGVzdDAgFw0yNjExMjIwODQ3MjZaGA8yMTI2MTAy
OTA4NDcyNlowFTETMBEGA1UEAwwKaG9va3MudGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABP+/Ds7jd322EIyyMZDrNtQzIZlhxqCD9TNGdSfCFAmh5zEmzJk4
U7Jsm3ZoiaTknA47juaVtmShepeq4aoznGSjajBoMB0GA1UdDgQWBBRi5kWaRIL7
Hn3TcOYxDSFZND14cTAfBgNVHSMEGDAWgBRi5kWaRIL7Hn3TcOYxDSFZND14cTAP
BgNVHRMBAf8EBTADAQH/MBUGA1UdEQQOMAyCCmhvb2tzLnRlc3QwCgYIKoZIzj0E
AwIDRwAwRAIgGduH6lgClUzm+VLbWQrfT3jub9ycEGPbkvF8xdrj1RgCIFvH8pd9
wvx8Try7x4sxq7Ks1Il5YjDsbJU1aQTSSDIN
-----END CERTIFICATE-----
`;

const policy: TargetPolicy = { allow: parseAllowList('127.0.0.0/8, ::1/128') };

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  remotePort: number | undefined;
  localAddress: string | undefined;
}

interface Receiver {
  server: net.Server;
  port: number;
  url: string;
  seen: Seen[];
  sockets: net.Socket[];
}

const servers: net.Server[] = [];
const serverSockets = new Set<net.Socket>();

afterAll(async () => {
  closeWebhookConnections();
  // closeAllConnections() covers the HTTP servers; the raw net servers' sockets are tracked here.
  for (const socket of serverSockets) socket.destroy();
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (server instanceof http.Server) server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function listen(server: net.Server, host = '127.0.0.1', port = 0): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: net.Socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

/** A receiver that records each request (after reading its body) and then runs `respond`. */
async function receiver(
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  options: { host?: string; port?: number; tls?: boolean; servernames?: (string | null)[] } = {},
): Promise<Receiver> {
  const seen: Seen[] = [];
  const sockets: net.Socket[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort,
        localAddress: req.socket.localAddress,
      });
      respond(req, res);
    });
  };
  const server = options.tls
    ? https.createServer(
        {
          key: TLS_KEY,
          cert: TLS_CERT,
          SNICallback: (name, cb) => {
            options.servernames?.push(name);
            cb(null, tls.createSecureContext({ key: TLS_KEY, cert: TLS_CERT }));
          },
        },
        onRequest,
      )
    : http.createServer(onRequest);
  server.on('connection', (socket: net.Socket) => sockets.push(socket));
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, host, options.port);
  const shown = host.includes(':') ? `[${host}]` : host;
  return { server, port, url: `${options.tls ? 'https' : 'http'}://${shown}:${port}`, seen, sockets };
}

function post(url: string, extra: Partial<WebhookRequest> = {}, targetPolicy: TargetPolicy = policy) {
  return postWebhook(
    { url, headers: {}, body: '{"type":"webhook.test"}', timeoutMs: 5000, maxResponseBytes: 4096, ...extra },
    targetPolicy,
  );
}

/** Resolves true once the server side of a connection has closed (false after `ms`). */
function closedWithin(socket: net.Socket, ms = 3000): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function fixedDns(answers: Record<string, ResolvedAddress[]>): AddressLookup & { asked: string[] } {
  const asked: string[] = [];
  return Object.assign(
    async (hostname: string) => {
      asked.push(hostname);
      const found = answers[hostname];
      if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return found;
    },
    { asked },
  );
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('responses', () => {
  it('a 200 is ok and is reported in full; the receiver sees exactly our headers and body', async () => {
    const r = await receiver((_req, res) => {
      res.setHeader('X-Multi', ['one', 'two']);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Request-Seen': 'yes' });
      res.end('thanks');
    });
    const body = '{"type":"notification.read","data":{"title":"Grüße ✓"}}';
    const signed = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,abc=' };
    const outcome = await post(`${r.url}/hooks/in?env=prod`, { headers: signed, body });

    expect(outcome).toMatchObject({
      ok: true,
      status: 200,
      body: 'thanks',
      bodyTruncated: false,
      errorClass: null,
      errorMessage: null,
      retryAfterMs: null,
      connectedAddress: '127.0.0.1',
    });
    expect(outcome.headers).toMatchObject({ 'content-type': 'text/plain', 'x-request-seen': 'yes', 'x-multi': 'one, two' });
    expect(Object.keys(outcome.headers ?? {}).every((name) => name === name.toLowerCase())).toBe(true);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    expect(outcome.durationMs).toBeLessThan(5000);

    expect(r.seen).toHaveLength(1);
    const [seen] = r.seen;
    expect(seen?.method).toBe('POST');
    expect(seen?.url).toBe('/hooks/in?env=prod');
    expect(seen?.body).toBe(body);
    expect(seen?.headers).toEqual({
      host: `127.0.0.1:${r.port}`,
      connection: 'keep-alive',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': USER_AGENT,
      ...signed,
    });
  });

  it("keeps the caller's content-type and user-agent and sets content-length itself", async () => {
    const r = await receiver((_req, res) => res.end());
    const body = 'héllo';
    const outcome = await post(r.url, {
      body,
      headers: { 'Content-Type': 'application/cloudevents+json', 'User-Agent': 'Custom/2', 'Content-Length': '999' },
    });
    expect(outcome.ok).toBe(true);
    const seen = r.seen[0];
    expect(seen?.headers['content-type']).toBe('application/cloudevents+json');
    expect(seen?.headers['user-agent']).toBe('Custom/2');
    expect(seen?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(seen?.body).toBe(body);
    // One of each, not the caller's and ours side by side.
    const names = (seen?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'content-length' || n === 'content-type' || n === 'user-agent')).toHaveLength(3);
  });

  it('a 500 is not ok but is a response, not an error', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('boom');
    });
    expect(await post(r.url)).toMatchObject({
      ok: false,
      status: 500,
      body: 'boom',
      errorClass: null,
      errorMessage: null,
      connectedAddress: '127.0.0.1',
    });
  });

  it('a 204 has an empty body', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    expect(await post(r.url)).toMatchObject({ ok: true, status: 204, body: '', bodyTruncated: false });
  });

  it('a redirect is recorded and never followed', async () => {
    const internal = await receiver((_req, res) => res.end('secret'));
    const r = await receiver((_req, res) => {
      res.writeHead(302, { Location: `${internal.url}/admin` });
      res.end();
    });
    const outcome = await post(r.url);
    expect(outcome).toMatchObject({ ok: false, status: 302, errorClass: null, body: '' });
    expect(outcome.headers?.location).toBe(`${internal.url}/admin`);
    expect(r.seen).toHaveLength(1);
    expect(internal.seen).toHaveLength(0);
    expect(internal.sockets).toHaveLength(0);
  });

  it('stores at most MAX_STORED_HEADER_BYTES of response headers', async () => {
    const r = await receiver((_req, res) => {
      for (let i = 0; i < 200; i++) res.setHeader(`x-filler-${i}`, 'v'.repeat(50));
      res.end('ok');
    });
    const outcome = await post(r.url);
    expect(outcome.status).toBe(200);
    const stored = Object.entries(outcome.headers ?? {});
    const size = stored.reduce((sum, [name, value]) => sum + name.length + value.length, 0);
    expect(size).toBeLessThanOrEqual(MAX_STORED_HEADER_BYTES);
    expect(outcome.headers?.['x-filler-0']).toBe('v'.repeat(50));
    expect(stored.length).toBeLessThan(200);
  });
});

describe('response body limit', () => {
  it('keeps exactly maxResponseBytes bytes of a larger body and marks it truncated', async () => {
    const r = await receiver((_req, res) => res.end('a'.repeat(200_000)));
    const outcome = await post(r.url, { maxResponseBytes: 1000 });
    expect(outcome).toMatchObject({ ok: true, status: 200, bodyTruncated: true, errorClass: null });
    expect(Buffer.byteLength(outcome.body ?? '')).toBe(1000);
    expect(outcome.body).toBe('a'.repeat(1000));
  });

  it('stops reading a body that never ends once the limit is reached', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('b'.repeat(300)), 10);
      res.on('close', () => clearInterval(timer));
    });
    const outcome = await post(r.url, { maxResponseBytes: 1000, timeoutMs: 5000 });
    expect(outcome).toMatchObject({ ok: true, status: 200, bodyTruncated: true, errorClass: null, body: 'b'.repeat(1000) });
    expect(outcome.durationMs).toBeLessThan(4000);
    expect(await closedWithin(r.sockets[0] as net.Socket)).toBe(true);
  });

  it('a body of exactly maxResponseBytes is not truncated', async () => {
    const r = await receiver((_req, res) => res.end('c'.repeat(1000)));
    expect(await post(r.url, { maxResponseBytes: 1000 })).toMatchObject({ ok: true, body: 'c'.repeat(1000), bodyTruncated: false });
  });

  it('maxResponseBytes 0 keeps nothing', async () => {
    const r = await receiver((_req, res) => res.end('ignored'));
    expect(await post(r.url, { maxResponseBytes: 0 })).toMatchObject({ ok: true, status: 200, body: '', bodyTruncated: true });
  });
});

describe('timeouts', () => {
  it('a receiver that never answers times out within timeoutMs, and the connection is closed', async () => {
    const r = await receiver(() => {});
    const outcome = await post(r.url, { timeoutMs: 400 });
    expect(outcome).toMatchObject({
      ok: false,
      status: null,
      headers: null,
      body: null,
      errorClass: 'timeout',
      connectedAddress: '127.0.0.1',
    });
    expect(outcome.errorMessage).toBe('no complete response within 400 ms');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(390);
    expect(outcome.durationMs).toBeLessThan(400 + 2000);
    expect(r.seen).toHaveLength(1);
    expect(await closedWithin(r.sockets[0] as net.Socket)).toBe(true);
  });

  it('a receiver that sends headers and then trickles the body times out, keeping what arrived', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('x');
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const outcome = await post(r.url, { timeoutMs: 500, maxResponseBytes: 1_000_000 });
    expect(outcome).toMatchObject({ ok: false, status: 200, errorClass: 'timeout', bodyTruncated: true, connectedAddress: '127.0.0.1' });
    expect(outcome.headers?.['content-type']).toBe('text/plain');
    expect(outcome.body).toMatch(/^x+$/);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(490);
    expect(outcome.durationMs).toBeLessThan(500 + 2000);
    expect(await closedWithin(r.sockets[0] as net.Socket)).toBe(true);
  });

  it('a server that accepts TCP but never speaks HTTP times out', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      // Read (and drop) the request so the client's FIN is seen and 'close' fires.
      socket.resume();
    });
    const port = await listen(server);
    const outcome = await post(`http://127.0.0.1:${port}/`, { timeoutMs: 300 });
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'timeout' });
    expect(outcome.durationMs).toBeLessThan(300 + 2000);
    expect(await closedWithin(sockets[0] as net.Socket)).toBe(true);
  });
});

describe('connection errors', () => {
  it('a closed port is connection_refused', async () => {
    const port = await closedPort();
    const outcome = await post(`http://127.0.0.1:${port}/`);
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'connection_refused', connectedAddress: null });
    expect(outcome.errorMessage).toContain('ECONNREFUSED');
  });

  it('a server that resets the connection on data is connection_reset', async () => {
    const server = net.createServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    const port = await listen(server);
    expect(await post(`http://127.0.0.1:${port}/`)).toMatchObject({ ok: false, status: null, errorClass: 'connection_reset' });
  });

  it('a server that closes the connection without answering is connection_reset', async () => {
    const server = net.createServer((socket) => socket.on('data', () => socket.destroy()));
    const port = await listen(server);
    expect(await post(`http://127.0.0.1:${port}/`)).toMatchObject({
      ok: false,
      status: null,
      errorClass: 'connection_reset',
      errorMessage: 'socket hang up',
    });
  });

  it('a connection closed in the middle of the body is connection_reset, keeping the status', async () => {
    const server = net.createServer((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
        setTimeout(() => socket.destroy(), 20);
      }),
    );
    const port = await listen(server);
    expect(await post(`http://127.0.0.1:${port}/`)).toMatchObject({
      ok: false,
      status: 200,
      body: 'partial',
      bodyTruncated: true,
      errorClass: 'connection_reset',
    });
  });

  it('a malformed response is network_error', async () => {
    const server = net.createServer((socket) => socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n')));
    const port = await listen(server);
    expect(await post(`http://127.0.0.1:${port}/`)).toMatchObject({ ok: false, status: null, errorClass: 'network_error' });
  });

  it('an invalid header value is an outcome, not an exception', async () => {
    const r = await receiver((_req, res) => res.end());
    const outcome = await post(r.url, { headers: { 'x-bad': 'a\r\nInjected: yes' } });
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'network_error' });
    expect(r.seen).toHaveLength(0);
  });
});

describe('Retry-After', () => {
  it('delta-seconds on a 429', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(429, { 'Retry-After': '7' });
      res.end();
    });
    expect(await post(r.url)).toMatchObject({ ok: false, status: 429, retryAfterMs: 7000, errorClass: null });
  });

  it('an HTTP-date on a 503', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(503, { 'Retry-After': new Date(Date.now() + 60_000).toUTCString() });
      res.end();
    });
    const outcome = await post(r.url);
    expect(outcome.status).toBe(503);
    // The date has whole seconds, so up to a second is lost.
    expect(outcome.retryAfterMs).toBeGreaterThan(55_000);
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('parseRetryAfter accepts the two forms and nothing else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    for (const bad of ['', '-5', '1.5', 'soon', '2026-01-01T00:00:30Z', 'Fri, 99 Foo 2026 00:00:00 GMT']) {
      expect(parseRetryAfter(bad, now)).toBeNull();
    }
  });
});

describe('connecting only to the checked address', () => {
  it('a hostname URL uses the injected address; Host carries the name and port', async () => {
    const r = await receiver((_req, res) => res.end('ok'));
    // hooks.test does not exist in DNS, so a second lookup by Node would fail the request.
    const lookup = fixedDns({ 'hooks.test': [{ address: '127.0.0.1', family: 4 }] });
    const outcome = await post(`http://hooks.test:${r.port}/in`, {}, { ...policy, lookup });
    expect(outcome).toMatchObject({ ok: true, status: 200, connectedAddress: '127.0.0.1' });
    expect(lookup.asked).toEqual(['hooks.test']);
    expect(r.seen[0]?.headers.host).toBe(`hooks.test:${r.port}`);
    expect(r.seen[0]?.url).toBe('/in');
  });

  it('an IPv6 literal URL connects to that literal', async () => {
    const r = await receiver((_req, res) => res.end('v6'), { host: '::1' });
    const outcome = await post(`${r.url}/`);
    expect(outcome).toMatchObject({ ok: true, body: 'v6', connectedAddress: '::1' });
    expect(r.seen[0]?.headers.host).toBe(`[::1]:${r.port}`);
  });

  it('reuses a kept-alive connection for the same address, but not once DNS points elsewhere', async () => {
    const first = await receiver((_req, res) => res.end('first'));
    const second = await receiver((_req, res) => res.end('second'), { host: '127.0.0.2', port: first.port });
    const answers: Record<string, ResolvedAddress[]> = { 'pool.test': [{ address: '127.0.0.1', family: 4 }] };
    const lookup = fixedDns(answers);
    const url = `http://pool.test:${first.port}/`;

    expect(await post(url, {}, { ...policy, lookup })).toMatchObject({ body: 'first', connectedAddress: '127.0.0.1' });
    expect(await post(url, {}, { ...policy, lookup })).toMatchObject({ body: 'first', connectedAddress: '127.0.0.1' });
    expect(first.sockets).toHaveLength(1);

    answers['pool.test'] = [{ address: '127.0.0.2', family: 4 }];
    expect(await post(url, {}, { ...policy, lookup })).toMatchObject({ body: 'second', connectedAddress: '127.0.0.2' });
    expect(first.seen).toHaveLength(2);
    expect(second.seen).toHaveLength(1);
    expect(second.seen[0]?.localAddress).toBe('127.0.0.2');
  });

  it('many sequential attempts share one socket without piling up listeners', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const r = await receiver((_req, res) => res.end('ok'));
      for (let i = 0; i < 40; i++) expect((await post(r.url)).ok).toBe(true);
      expect(r.seen).toHaveLength(40);
      expect(r.sockets).toHaveLength(1);
      expect(new Set(r.seen.map((s) => s.remotePort)).size).toBe(1);
      const client = r.sockets[0] as net.Socket;
      expect(client.destroyed).toBe(false);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('many concurrent attempts all complete', async () => {
    const r = await receiver((_req, res) => setTimeout(() => res.end('ok'), 20));
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => post(r.url)));
    expect(outcomes.every((o) => o.ok && o.body === 'ok')).toBe(true);
    expect(r.seen).toHaveLength(30);
  });
});

describe('TLS', () => {
  it('an untrusted (self-signed) certificate is tls_error; SNI carried the host name', async () => {
    const servernames: (string | null)[] = [];
    const r = await receiver((_req, res) => res.end('nope'), { tls: true, servernames });
    const lookup = fixedDns({ 'hooks.test': [{ address: '127.0.0.1', family: 4 }] });
    const outcome = await post(`https://hooks.test:${r.port}/`, {}, { ...policy, lookup });
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'tls_error', connectedAddress: '127.0.0.1' });
    expect(outcome.errorMessage).toContain('self-signed certificate');
    expect(servernames).toEqual(['hooks.test']);
    expect(r.seen).toHaveLength(0);
  });

  it('https to a plain-HTTP port is tls_error', async () => {
    const r = await receiver((_req, res) => res.end());
    const outcome = await post(`https://127.0.0.1:${r.port}/`);
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'tls_error' });
  });

  describe('with the test certificate trusted', () => {
    const defaults = tls.getCACertificates('default');
    afterAll(() => tls.setDefaultCACertificates(defaults));

    it('posts over TLS to the checked address, verifying the certificate against the host name', async () => {
      tls.setDefaultCACertificates([...defaults, TLS_CERT]);
      const servernames: (string | null)[] = [];
      const r = await receiver((_req, res) => res.end('secure'), { tls: true, servernames });
      const lookup = fixedDns({ 'hooks.test': [{ address: '127.0.0.1', family: 4 }] });
      const outcome = await post(`https://hooks.test:${r.port}/tls`, {}, { ...policy, lookup });
      expect(outcome).toMatchObject({ ok: true, status: 200, body: 'secure', connectedAddress: '127.0.0.1' });
      expect(servernames).toEqual(['hooks.test']);
      expect(r.seen[0]?.headers.host).toBe(`hooks.test:${r.port}`);

      // The same server by IP: no SNI is sent and the certificate (for hooks.test) does not match.
      const byIp = await post(`https://127.0.0.1:${r.port}/tls`);
      expect(byIp).toMatchObject({ ok: false, status: null, errorClass: 'tls_error' });
      expect(byIp.errorMessage).toContain("Hostname/IP does not match certificate's altnames");
      expect(servernames).toEqual(['hooks.test']);
      expect(r.seen).toHaveLength(1);
    });
  });
});
