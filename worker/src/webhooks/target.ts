// Where a webhook may be sent: URL syntax rules and the SSRF guard. A customer chooses the URL, so
// without this check the worker would be a proxy into our own network (cloud metadata at
// 169.254.169.254, Redis on loopback, private services). The guard decides on the *resolved*
// addresses and hands back the one it checked; post.ts connects to exactly that address, so a
// second DNS answer (DNS rebinding) can never reach an address that was not checked.
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export type AddressFamily = 4 | 6;

export interface ResolvedAddress {
  address: string;
  family: AddressFamily;
}

/** Injected in tests; the default uses node:dns/promises `lookup(hostname, { all: true, order: 'verbatim' })`. */
export type AddressLookup = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * One entry of the install-level allow-list (WEBHOOK_ALLOW_LIST): a network whose addresses are
 * permitted, or an exact host and port that is permitted whatever it resolves to.
 *
 * @example parseAllowList('127.0.0.0/8, hooks.internal:8443') // [{ kind: 'network', … }, { kind: 'hostPort', host: 'hooks.internal', port: 8443, … }]
 */
export type AllowRule =
  | { kind: 'network'; cidr: string; network: ipaddr.IPv4 | ipaddr.IPv6; prefixLength: number }
  | { kind: 'hostPort'; entry: string; host: string; port: number };

export interface TargetPolicy {
  allow: readonly AllowRule[];
  lookup?: AddressLookup;
  /** How long a DNS lookup may take (default 5000 ms), so a hanging resolver cannot hang an attempt. */
  lookupTimeoutMs?: number;
}

export interface CheckedTarget {
  url: URL;
  /** The address to connect to: it passed the check (or the URL's host:port is allow-listed). */
  address: string;
  family: AddressFamily;
  port: number;
}

export type TargetErrorClass = 'invalid_url' | 'blocked_address' | 'dns_failure';

/** A URL the worker will not send to; `reason` is written for the endpoint's owner. */
export class TargetRefusedError extends Error {
  readonly reason: string;
  readonly errorClass: TargetErrorClass;

  constructor(errorClass: TargetErrorClass, reason: string) {
    super(reason);
    this.name = 'TargetRefusedError';
    this.reason = reason;
    this.errorClass = errorClass;
  }
}

export const MAX_URL_LENGTH = 2048;
export const DEFAULT_LOOKUP_TIMEOUT_MS = 5000;

const ALLOW_HINT = 'webhooks may only go to public addresses (an operator can allow it with WEBHOOK_ALLOW_LIST)';

// ipaddr.js range names, as a user would read them. Only 'unicast' is allowed, so any range a
// newer ipaddr.js adds is refused too (it falls back to the generic wording below).
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (this includes cloud metadata services such as 169.254.169.254)',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private-network address',
  reserved: 'a reserved address',
  benchmarking: 'a benchmarking address',
  amt: 'an AMT relay address',
  as112: 'an AS112 address',
  as112v6: 'an AS112 address',
  uniqueLocal: 'a unique-local address (fc00::/7)',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  rfc6145: 'an IPv4-translated address (RFC 6145)',
  rfc6052: 'a NAT64 address (RFC 6052)',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  orchid2: 'an ORCHIDv2 address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID address',
  deprecatedSiteLocal: 'a site-local address',
  deprecatedOrchid: 'an ORCHID address',
  discard: 'a discard-only address',
  segmentRouting: 'a segment-routing address',
};

// ipaddr.js calls everything outside its special ranges 'unicast', including IPv4-compatible
// addresses such as ::7f00:1 (::127.0.0.1) and unassigned space. All global unicast IPv6 space
// that has ever been allocated lies in 2000::/3, so anything else is refused as well.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * Parses WEBHOOK_ALLOW_LIST: entries separated by commas or whitespace, each a CIDR network
 * (IPv4 or IPv6) or a `host:port` pair (an IPv6 host in brackets).
 *
 * @example parseAllowList('127.0.0.0/8, ::1/128, hooks.internal:8443, [::1]:9000')
 * @throws Error naming the first entry that is neither.
 */
export function parseAllowList(spec: string): AllowRule[] {
  return spec
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseAllowEntry);
}

function parseAllowEntry(entry: string): AllowRule {
  const example = '(expected a CIDR network such as 10.0.0.0/8 or fd00::/8, or host:port such as hooks.internal:8443 or [::1]:9000)';
  if (entry.includes('/')) {
    // Four-part decimal only: "10.1/8" is too easy to misread to accept silently.
    if (ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) || ipaddr.IPv6.isValidCIDR(entry)) {
      const [network, prefixLength] = ipaddr.parseCIDR(entry);
      return { kind: 'network', cidr: entry, network, prefixLength };
    }
    throw new Error(`WEBHOOK_ALLOW_LIST entry "${entry}" is not a valid CIDR network ${example}`);
  }
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#@[\]]+):(\d+)$/.exec(entry);
  if (!match) throw new Error(`WEBHOOK_ALLOW_LIST entry "${entry}" is not a CIDR network or a host:port pair ${example}`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new Error(`WEBHOOK_ALLOW_LIST entry "${entry}" has a port outside 1-65535 ${example}`);
  // The URL parser normalizes the host exactly as it normalizes a webhook URL's host (case,
  // IPv4 shorthand, IPv6 compression, IDN), so the comparison later is between like forms.
  let host: string;
  try {
    host = new URL(`http://${match[1]}/`).hostname;
  } catch {
    throw new Error(`WEBHOOK_ALLOW_LIST entry "${entry}" has an invalid host ${example}`);
  }
  return { kind: 'hostPort', entry, host: stripBrackets(host), port };
}

/**
 * Syntax-only check, used when an endpoint is created or updated and again before every attempt.
 *
 * @example parseWebhookUrl('https://hooks.example.com/pigeon') // { ok: true, url: URL }
 */
export function parseWebhookUrl(raw: string): { ok: true; url: URL } | { ok: false; reason: string } {
  if (raw.length === 0) return { ok: false, reason: 'the URL is empty' };
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `the URL is longer than ${MAX_URL_LENGTH} characters` };
  // The URL parser silently drops tabs and newlines inside a URL and trims spaces; a URL that
  // needs that is a mistake or an attempt to smuggle something past a reviewer.
  if (/[\u0000-\u0020\u007f]/.test(raw)) return { ok: false, reason: 'the URL contains spaces or control characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL (expected https://host/path)' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `the scheme "${url.protocol.slice(0, -1)}" is not allowed; use https: or http:` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'the URL may not contain a username or password; authenticate with the webhook signature' };
  }
  if (url.hostname === '') return { ok: false, reason: 'the URL has no host' };
  // "https://a/#" has an empty hash but still a fragment; a "#" can only start one.
  if (raw.includes('#')) return { ok: false, reason: 'the URL may not contain a fragment ("#...")' };
  if (url.port === '0') return { ok: false, reason: 'the port must be between 1 and 65535' };
  return { ok: true, url };
}

/**
 * Why `address` (reached for `hostname`:`port`) is refused, in words for the endpoint's owner,
 * or null when it is allowed: a public unicast address, an address inside an allow-listed network,
 * or any address when `hostname:port` itself is allow-listed.
 *
 * @example refusalOf('127.0.0.1', 80, '127.0.0.1', []) // "127.0.0.1 is a loopback address; webhooks may only go to …"
 */
export function refusalOf(address: string, port: number, hostname: string, allow: readonly AllowRule[]): string | null {
  const host = stripBrackets(hostname).toLowerCase();
  if (allow.some((rule) => rule.kind === 'hostPort' && rule.port === port && rule.host === host)) return null;

  const bare = stripBrackets(address);
  // Only canonical forms: resolvers return them, and ipaddr.js's lenient IPv4 parsing
  // ("0x7f.1", "2130706433") has no business deciding what an address is here.
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) ip = ipaddr.IPv4.parse(bare);
  else if (ipaddr.IPv6.isValid(bare)) ip = ipaddr.IPv6.parse(bare);
  else return `${address} is not an IP address`;

  if (allow.some((rule) => rule.kind === 'network' && rule.network.kind() === ip.kind() && ip.match(rule.network, rule.prefixLength))) {
    return null;
  }

  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    // Refused whatever it maps to: the kernel would connect to the embedded IPv4 address, and
    // a public one has a plain IPv4 spelling that needs no detour.
    if (v6.isIPv4MappedAddress()) return `${address} is ${RANGE_WORDS.ipv4Mapped}; ${ALLOW_HINT}`;
    const range = v6.range();
    if (range !== 'unicast') return `${address} is ${RANGE_WORDS[range] ?? `a special-purpose address (${range})`}; ${ALLOW_HINT}`;
    if (!v6.match(GLOBAL_UNICAST_V6)) return `${address} is not a global unicast IPv6 address; ${ALLOW_HINT}`;
    return null;
  }
  const range = (ip as ipaddr.IPv4).range();
  if (range !== 'unicast') return `${address} is ${RANGE_WORDS[range] ?? `a special-purpose address (${range})`}; ${ALLOW_HINT}`;
  return null;
}

/**
 * Checks the URL, resolves its host (an IP literal is used as is) and checks every address.
 * If any address is refused the URL is refused: the resolver may hand out a different one
 * later, and a name that points at our network even sometimes is not a public endpoint.
 *
 * @example const target = await resolveTarget('https://hooks.example.com/', { allow: [] }); // { address: '93.184.216.34', family: 4, port: 443, url }
 * @throws TargetRefusedError ('invalid_url', 'blocked_address' or 'dns_failure').
 */
export async function resolveTarget(rawUrl: string, policy: TargetPolicy): Promise<CheckedTarget> {
  const parsed = parseWebhookUrl(rawUrl);
  if (!parsed.ok) throw new TargetRefusedError('invalid_url', parsed.reason);
  const { url } = parsed;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const hostname = stripBrackets(url.hostname);

  const literal = literalFamily(hostname);
  if (literal !== null) {
    const reason = refusalOf(hostname, port, hostname, policy.allow);
    if (reason !== null) throw new TargetRefusedError('blocked_address', reason);
    return { url, address: hostname, family: literal, port };
  }

  const addresses = await lookupWithTimeout(hostname, policy.lookup ?? defaultLookup, policy.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS);
  const checked: ResolvedAddress[] = [];
  for (const { address } of addresses) {
    const reason = refusalOf(address, port, hostname, policy.allow);
    if (reason !== null) throw new TargetRefusedError('blocked_address', `${hostname} resolves to ${address}: ${reason}`);
    // The family comes from the address itself, not from what the lookup claimed.
    const family = literalFamily(address);
    if (family !== null) checked.push({ address, family });
  }
  const first = checked[0];
  // Only reachable when an allow-listed host:port resolved to something that is not an address.
  if (first === undefined) throw new TargetRefusedError('dns_failure', `${hostname} did not resolve to any IP address`);
  return { url, address: first.address, family: first.family, port };
}

async function defaultLookup(hostname: string): Promise<ResolvedAddress[]> {
  const results = await dnsLookup(hostname, { all: true, order: 'verbatim' });
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

async function lookupWithTimeout(hostname: string, lookup: AddressLookup, timeoutMs: number): Promise<ResolvedAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  // getaddrinfo runs on libuv's thread pool and cannot be cancelled; the timeout only stops us
  // waiting for it. The late answer is discarded.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TargetRefusedError('dns_failure', `the DNS lookup of ${hostname} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let addresses: ResolvedAddress[];
  try {
    addresses = await Promise.race([lookup(hostname), timeout]);
  } catch (error) {
    if (error instanceof TargetRefusedError) throw error;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const detail =
      code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : (code ?? (error instanceof Error ? error.message : String(error)));
    throw new TargetRefusedError('dns_failure', `the DNS lookup of ${hostname} failed (${detail})`);
  } finally {
    clearTimeout(timer);
  }
  if (!Array.isArray(addresses) || addresses.length === 0) {
    throw new TargetRefusedError('dns_failure', `${hostname} did not resolve to any address`);
  }
  return addresses;
}

function literalFamily(host: string): AddressFamily | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return 4;
  if (ipaddr.IPv6.isValid(host)) return 6;
  return null;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
