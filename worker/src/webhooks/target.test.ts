// The SSRF guard, tested the way it fails in production: every vector goes through both
// resolveTarget and postWebhook while net.Socket.prototype.connect is spied on, so a broken guard
// shows up as a recorded connection attempt (refused by the spy) instead of as traffic.
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { postWebhook } from './post.ts';
import {
  type AddressLookup,
  type AllowRule,
  parseAllowList,
  parseWebhookUrl,
  type ResolvedAddress,
  refusalOf,
  resolveTarget,
  type TargetPolicy,
  TargetRefusedError,
} from './target.ts';

const HINT = 'webhooks may only go to public addresses (an operator can allow it with WEBHOOK_ALLOW_LIST)';

/** A resolver with fixed answers that records what it was asked. */
function fakeDns(answers: Record<string, ResolvedAddress[]>): AddressLookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup = async (hostname: string) => {
    asked.push(hostname);
    const found = answers[hostname];
    if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  return Object.assign(lookup, { asked });
}

async function refusal(promise: Promise<unknown>): Promise<TargetRefusedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TargetRefusedError);
  return error as TargetRefusedError;
}

const dns = fakeDns({
  'evil.example': [{ address: '10.1.2.3', family: 4 }],
  'mixed.example': [
    { address: '93.184.216.34', family: 4 },
    { address: '192.168.0.10', family: 4 },
  ],
  'mixed6.example': [
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    { address: '::1', family: 6 },
  ],
  'public.example': [{ address: '93.184.216.34', family: 4 }],
  'public6.example': [{ address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 }],
  'dual.example': [
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    { address: '93.184.216.34', family: 4 },
  ],
  'empty.example': [],
  localhost: [{ address: '127.0.0.1', family: 4 }],
  'hooks.internal': [{ address: '10.9.8.7', family: 4 }],
});

describe('SSRF vectors are refused before any connection', () => {
  let connects: unknown[][];

  beforeEach(() => {
    connects = [];
    // Any connect attempt is recorded and fails, so even a broken guard sends no traffic.
    vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (this: net.Socket, ...args: unknown[]) {
      connects.push(args);
      throw new Error('test: a connection was attempted');
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  const vectors: [url: string, refusedAddress: string, words: string][] = [
    ['http://127.0.0.1:6379', '127.0.0.1', 'is a loopback address'],
    ['http://169.254.169.254/', '169.254.169.254', 'is a link-local address'],
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', '169.254.169.254', 'is a link-local address'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'is an IPv4-mapped IPv6 address'],
    ['http://[::ffff:8.8.8.8]/', '::ffff:808:808', 'is an IPv4-mapped IPv6 address'],
    ['http://2130706433/', '127.0.0.1', 'is a loopback address'],
    ['http://0x7f.1/', '127.0.0.1', 'is a loopback address'],
    ['http://0177.0.0.1/', '127.0.0.1', 'is a loopback address'],
    ['http://127.1/', '127.0.0.1', 'is a loopback address'],
    ['http://[::1]/', '::1', 'is a loopback address'],
    ['http://10.0.0.1/', '10.0.0.1', 'is a private-network address'],
    ['http://192.168.1.1/', '192.168.1.1', 'is a private-network address'],
    ['http://172.16.0.1/', '172.16.0.1', 'is a private-network address'],
    ['http://172.31.255.255/', '172.31.255.255', 'is a private-network address'],
    ['http://100.64.0.1/', '100.64.0.1', 'is a carrier-grade NAT address'],
    ['http://[fd00::1]/', 'fd00::1', 'is a unique-local address'],
    ['http://[fc00::1]/', 'fc00::1', 'is a unique-local address'],
    ['http://[fe80::1]/', 'fe80::1', 'is a link-local address'],
    ['http://0.0.0.0/', '0.0.0.0', 'is an unspecified address'],
    ['http://[::]/', '::', 'is an unspecified address'],
    ['http://224.0.0.1/', '224.0.0.1', 'is a multicast address'],
    ['http://[ff02::1]/', 'ff02::1', 'is a multicast address'],
    ['http://255.255.255.255/', '255.255.255.255', 'is a broadcast address'],
    ['http://240.0.0.1/', '240.0.0.1', 'is a reserved address'],
    ['http://192.0.2.1/', '192.0.2.1', 'is a reserved address'],
    ['http://[2002:7f00:1::]/', '2002:7f00:1::', 'is a 6to4 address'],
    ['http://[2001::1]/', '2001::1', 'is a Teredo address'],
    ['http://[64:ff9b::7f00:1]/', '64:ff9b::7f00:1', 'is a NAT64 address'],
    // IPv4-compatible (deprecated): ipaddr.js calls it 'unicast', the 2000::/3 rule refuses it.
    ['http://[::127.0.0.1]/', '::7f00:1', 'is not a global unicast IPv6 address'],
    ['http://evil.example/', '10.1.2.3', 'is a private-network address'],
    ['http://mixed.example/', '192.168.0.10', 'is a private-network address'],
    ['http://mixed6.example/', '::1', 'is a loopback address'],
    // A name is only as good as what it resolves to.
    ['https://localhost:8443/', '127.0.0.1', 'is a loopback address'],
  ];

  it.each(vectors)('resolveTarget refuses %s', async (url, address, words) => {
    const error = await refusal(resolveTarget(url, { allow: [], lookup: dns }));
    expect(error.errorClass).toBe('blocked_address');
    expect(error.reason).toContain(`${address} ${words}`);
    expect(error.reason).toContain(HINT);
    expect(error.message).toBe(error.reason);
    expect(connects).toEqual([]);
  });

  it.each(vectors)('postWebhook refuses %s without network activity', async (url, address) => {
    const outcome = await postWebhook({ url, headers: {}, body: '{}', timeoutMs: 2000, maxResponseBytes: 100 }, { allow: [], lookup: dns });
    expect(outcome).toMatchObject({
      ok: false,
      status: null,
      headers: null,
      body: null,
      errorClass: 'blocked_address',
      connectedAddress: null,
      retryAfterMs: null,
    });
    expect(outcome.errorMessage).toContain(address);
    expect(connects).toEqual([]);
  });

  it('names the host and the address it resolved to', async () => {
    const error = await refusal(resolveTarget('https://evil.example/hook', { allow: [], lookup: dns }));
    expect(error.reason).toBe(`evil.example resolves to 10.1.2.3: 10.1.2.3 is a private-network address; ${HINT}`);
  });

  it('the spy does catch a connection attempt (positive control)', async () => {
    // Proves the assertions above would notice traffic: a plain connect is recorded and blocked.
    expect(() => net.connect(9, '127.0.0.1')).toThrow('test: a connection was attempted');
    expect(connects).toHaveLength(1);
  });

  it('postWebhook refuses an invalid URL before anything else, even when its address is allow-listed', async () => {
    const outcome = await postWebhook(
      { url: 'http://user:pw@127.0.0.1/', headers: {}, body: '', timeoutMs: 1000, maxResponseBytes: 10 },
      { allow: parseAllowList('127.0.0.0/8') },
    );
    expect(outcome.errorClass).toBe('invalid_url');
    expect(connects).toEqual([]);
  });
});

describe('public addresses', () => {
  it('allows a hostname that resolves to a public IPv4 address and returns the checked address', async () => {
    const target = await resolveTarget('https://public.example/hooks?x=1', { allow: [], lookup: dns });
    expect(target).toMatchObject({ address: '93.184.216.34', family: 4, port: 443 });
    expect(target.url.href).toBe('https://public.example/hooks?x=1');
  });

  it('allows public IPv6 and uses the first address the resolver returned', async () => {
    expect(await resolveTarget('http://public6.example:8080/', { allow: [], lookup: dns })).toMatchObject({
      address: '2606:2800:220:1:248:1893:25c8:1946',
      family: 6,
      port: 8080,
    });
    expect(await resolveTarget('http://dual.example/', { allow: [], lookup: dns })).toMatchObject({ family: 6, port: 80 });
  });

  it('allows public IP literals without a DNS lookup', async () => {
    const lookup = fakeDns({});
    expect(await resolveTarget('http://93.184.216.34/', { allow: [], lookup })).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(await resolveTarget('https://[2606:2800:220:1:248:1893:25c8:1946]/', { allow: [], lookup })).toMatchObject({
      address: '2606:2800:220:1:248:1893:25c8:1946',
      family: 6,
      port: 443,
    });
    expect(lookup.asked).toEqual([]);
  });

  it('takes the family from the address, not from what the resolver claimed', async () => {
    const lookup: AddressLookup = async () => [{ address: '93.184.216.34', family: 6 }];
    expect(await resolveTarget('http://public.example/', { allow: [], lookup })).toMatchObject({ family: 4 });
  });

  it('refuses a resolver answer that is not an IP address', async () => {
    const lookup: AddressLookup = async () => [{ address: '0x7f.1', family: 4 }];
    const error = await refusal(resolveTarget('http://odd.example/', { allow: [], lookup }));
    expect(error.errorClass).toBe('blocked_address');
    expect(error.reason).toContain('0x7f.1 is not an IP address');
  });

  it('refusalOf explains or returns null', () => {
    expect(refusalOf('8.8.8.8', 443, 'dns.google', [])).toBeNull();
    expect(refusalOf('2606:4700:4700::1111', 443, 'one.one.one.one', [])).toBeNull();
    expect(refusalOf('127.0.0.1', 80, '127.0.0.1', [])).toBe(`127.0.0.1 is a loopback address; ${HINT}`);
    expect(refusalOf('198.18.0.1', 80, 'bench.example', [])).toBe(`198.18.0.1 is a reserved address; ${HINT}`);
  });
});

describe('allow-list', () => {
  const port = 8080;

  it('a CIDR permits addresses inside it, and only those', async () => {
    const policy: TargetPolicy = { allow: parseAllowList('127.0.0.0/8'), lookup: dns };
    expect(await resolveTarget(`http://127.0.0.1:${port}/`, policy)).toMatchObject({ address: '127.0.0.1', port });
    expect(await resolveTarget(`http://127.8.9.10:${port}/`, policy)).toMatchObject({ address: '127.8.9.10' });
    expect(await resolveTarget(`http://localhost:${port}/`, policy)).toMatchObject({ address: '127.0.0.1' });
    expect((await refusal(resolveTarget('http://10.0.0.1/', policy))).errorClass).toBe('blocked_address');
    // An IPv4 network never matches IPv6 spellings, not even the mapped form of an address in it.
    expect((await refusal(resolveTarget('http://[::ffff:127.0.0.1]/', policy))).reason).toContain('IPv4-mapped');
    expect((await refusal(resolveTarget('http://[::1]/', policy))).reason).toContain('::1 is a loopback address');
  });

  it('an IPv6 CIDR permits IPv6 addresses inside it', async () => {
    const policy: TargetPolicy = { allow: parseAllowList('::1/128 fd00::/8'), lookup: dns };
    expect(await resolveTarget('http://[::1]:9000/', policy)).toMatchObject({ address: '::1', family: 6, port: 9000 });
    expect(await resolveTarget('http://[fd12::3]/', policy)).toMatchObject({ address: 'fd12::3' });
    expect((await refusal(resolveTarget('http://[fc00::1]/', policy))).errorClass).toBe('blocked_address');
    expect((await refusal(resolveTarget('http://127.0.0.1/', policy))).errorClass).toBe('blocked_address');
  });

  it('a host:port rule permits that host and port whatever it resolves to', async () => {
    const policy: TargetPolicy = { allow: parseAllowList(`localhost:${port}, HOOKS.internal:8443`), lookup: dns };
    expect(await resolveTarget(`http://localhost:${port}/x`, policy)).toMatchObject({ address: '127.0.0.1', port });
    expect(await resolveTarget(`http://LocalHost:${port}/x`, policy)).toMatchObject({ address: '127.0.0.1', port });
    expect(await resolveTarget('https://hooks.internal:8443/', policy)).toMatchObject({ address: '10.9.8.7', port: 8443 });
    // The default port counts as the URL's port.
    const https443: TargetPolicy = { allow: parseAllowList('hooks.internal:443'), lookup: dns };
    expect(await resolveTarget('https://hooks.internal/', https443)).toMatchObject({ port: 443 });
  });

  it('a host:port rule for another port or host does not permit', async () => {
    const policy: TargetPolicy = { allow: parseAllowList(`localhost:${port}`), lookup: dns };
    expect((await refusal(resolveTarget(`http://localhost:${port + 1}/`, policy))).reason).toContain('127.0.0.1 is a loopback address');
    expect((await refusal(resolveTarget('http://localhost/', policy))).errorClass).toBe('blocked_address');
    expect((await refusal(resolveTarget(`http://127.0.0.1:${port}/`, policy))).errorClass).toBe('blocked_address');
    expect((await refusal(resolveTarget(`http://evil.example:${port}/`, policy))).errorClass).toBe('blocked_address');
  });

  it('an IPv6 literal host:port rule ([::1]:PORT) permits exactly that', async () => {
    const policy: TargetPolicy = { allow: parseAllowList(`[::1]:${port}`), lookup: dns };
    expect(await resolveTarget(`http://[::1]:${port}/`, policy)).toMatchObject({ address: '::1', family: 6, port });
    // Normalized like URLs are: the long spelling of the same address matches.
    expect(await resolveTarget(`http://[0:0:0:0:0:0:0:1]:${port}/`, policy)).toMatchObject({ address: '::1' });
    expect((await refusal(resolveTarget(`http://[::1]:${port + 1}/`, policy))).errorClass).toBe('blocked_address');
    expect((await refusal(resolveTarget(`http://127.0.0.1:${port}/`, policy))).errorClass).toBe('blocked_address');
  });

  it('parses a mixed list separated by commas and whitespace', () => {
    const rules = parseAllowList(' 127.0.0.0/8, ::1/128\n hooks.internal:8443,,[::1]:9000\t10.0.0.0/8 ');
    expect(
      rules.map((r: AllowRule) =>
        r.kind === 'network' ? `${r.kind} ${r.network.toString()}/${r.prefixLength}` : `${r.kind} ${r.host} ${r.port}`,
      ),
    ).toEqual(['network 127.0.0.0/8', 'network ::1/128', 'hostPort hooks.internal 8443', 'hostPort ::1 9000', 'network 10.0.0.0/8']);
    expect(parseAllowList('')).toEqual([]);
    expect(parseAllowList(' , ')).toEqual([]);
  });

  it.each([
    ['10.0.0.0/33', 'is not a valid CIDR network'],
    ['10.1/8', 'is not a valid CIDR network'],
    ['fd00::/129', 'is not a valid CIDR network'],
    ['10.0.0.1', 'is not a CIDR network or a host:port pair'],
    ['::1', 'is not a CIDR network or a host:port pair'],
    ['hooks.internal', 'is not a CIDR network or a host:port pair'],
    ['hooks.internal:0', 'has a port outside 1-65535'],
    ['hooks.internal:70000', 'has a port outside 1-65535'],
    ['hooks.internal:https', 'is not a CIDR network or a host:port pair'],
    ['user@hooks.internal:80', 'is not a CIDR network or a host:port pair'],
    ['[::g]:80', 'is not a CIDR network or a host:port pair'],
    ['[1::2::3]:80', 'has an invalid host'],
  ])('rejects %j with a message naming it', (entry, words) => {
    expect(() => parseAllowList(`127.0.0.0/8, ${entry}`)).toThrow(`WEBHOOK_ALLOW_LIST entry "${entry}" ${words}`);
  });
});

describe('parseWebhookUrl', () => {
  it.each([
    ['ftp://example.com/hook', 'the scheme "ftp" is not allowed'],
    ['javascript:alert(1)', 'the scheme "javascript" is not allowed'],
    ['file:///etc/passwd', 'the scheme "file" is not allowed'],
    ['/relative/path', 'not an absolute URL'],
    ['example.com/hook', 'not an absolute URL'],
    ['https://user:secret@example.com/', 'may not contain a username or password'],
    ['https://user@example.com/', 'may not contain a username or password'],
    ['https://example.com/hook#frag', 'may not contain a fragment'],
    ['https://example.com/#', 'may not contain a fragment'],
    [`https://example.com/${'a'.repeat(2048)}`, 'longer than 2048 characters'],
    ['', 'the URL is empty'],
    ['https://', 'not an absolute URL'],
    ['https://:443/', 'not an absolute URL'],
    ['https://example.com:0/', 'the port must be between 1 and 65535'],
    ['https://example.com:65536/', 'not an absolute URL'],
    ['https://exa\nmple.com/', 'spaces or control characters'],
    [' https://example.com/', 'spaces or control characters'],
  ])('refuses %j', (raw, reason) => {
    const result = parseWebhookUrl(raw);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('accepts http and https URLs up to 2048 characters', () => {
    const result = parseWebhookUrl('https://hooks.example.com:8443/pigeon?env=prod');
    expect(result.ok && result.url.href).toBe('https://hooks.example.com:8443/pigeon?env=prod');
    const long = `http://example.com/${'a'.repeat(2048 - 'http://example.com/'.length)}`;
    expect(long).toHaveLength(2048);
    expect(parseWebhookUrl(long).ok).toBe(true);
    expect(parseWebhookUrl('https://example.com:65535/').ok).toBe(true);
  });

  it('normalizes numeric IPv4 spellings (which the guard then refuses)', () => {
    for (const raw of ['http://2130706433/', 'http://0x7f.1/', 'http://0x7f000001/']) {
      const result = parseWebhookUrl(raw);
      expect(result.ok && result.url.hostname).toBe('127.0.0.1');
    }
  });

  it('resolveTarget reports syntax errors as invalid_url', async () => {
    const error = await refusal(resolveTarget('ftp://example.com/', { allow: [], lookup: dns }));
    expect(error.errorClass).toBe('invalid_url');
    expect(error.reason).toBe('the scheme "ftp" is not allowed; use https: or http:');
  });
});

describe('DNS failures', () => {
  it('a name that does not resolve is dns_failure', async () => {
    const error = await refusal(resolveTarget('https://nowhere.example/', { allow: [], lookup: dns }));
    expect(error).toMatchObject({ errorClass: 'dns_failure', reason: 'the DNS lookup of nowhere.example failed (no such host)' });
  });

  it('an empty answer is dns_failure', async () => {
    const error = await refusal(resolveTarget('https://empty.example/', { allow: [], lookup: dns }));
    expect(error).toMatchObject({ errorClass: 'dns_failure', reason: 'empty.example did not resolve to any address' });
  });

  it('a resolver that never answers is dns_failure after the lookup timeout', async () => {
    const hanging: AddressLookup = () => new Promise<never>(() => {});
    const started = performance.now();
    const error = await refusal(resolveTarget('https://slow.example/', { allow: [], lookup: hanging, lookupTimeoutMs: 150 }));
    expect(error).toMatchObject({ errorClass: 'dns_failure', reason: 'the DNS lookup of slow.example did not answer within 150 ms' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('the default resolver is used when none is injected (.invalid never resolves)', async () => {
    const error = await refusal(resolveTarget('https://pigeon-test.invalid/', { allow: [], lookupTimeoutMs: 3000 }));
    expect(error.errorClass).toBe('dns_failure');
  });

  it('through postWebhook a DNS failure is an outcome, not an exception', async () => {
    const outcome = await postWebhook(
      { url: 'https://nowhere.example/', headers: {}, body: '{}', timeoutMs: 2000, maxResponseBytes: 100 },
      { allow: [], lookup: dns },
    );
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'dns_failure', connectedAddress: null });
  });

  it('through postWebhook a resolver slower than the attempt is a timeout at the attempt limit', async () => {
    const hanging: AddressLookup = () => new Promise<never>(() => {});
    const outcome = await postWebhook(
      { url: 'https://slow.example/', headers: {}, body: '{}', timeoutMs: 200, maxResponseBytes: 100 },
      { allow: [], lookup: hanging },
    );
    expect(outcome).toMatchObject({ ok: false, status: null, errorClass: 'timeout', connectedAddress: null });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(190);
    expect(outcome.durationMs).toBeLessThan(2000);
  });
});
