// GraphQL over HTTP for the load generator: plain node:http POSTs on a keep-alive agent (cheaper
// per request than fetch), plus the tenant setup every bench needs — a user, a project, an API key
// in its development environment, and client tokens minted with that key.
import http from 'node:http';
import type { ExecutionResult } from './sse.ts';

export interface GraphQLClient {
  request<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<ExecutionResult<T>>;
  /** The raw response too (status, headers), for setup calls that read cookies. */
  requestRaw<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: ExecutionResult<T> }>;
  close(): void;
}

export function graphqlClient(baseUrl: string, { maxSockets = 64 }: { maxSockets?: number } = {}): GraphQLClient {
  const url = new URL('/graphql', baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const requestRaw = <T>(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: ExecutionResult<T> }>((resolve, reject) => {
      const body = JSON.stringify({ query, variables });
      const req = http.request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as ExecutionResult<T> });
          } catch {
            reject(new Error(`non-JSON response ${res.statusCode}: ${text.slice(0, 300)}`));
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    requestRaw,
    async request<T>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) {
      return (await requestRaw<T>(query, variables, headers)).body;
    },
    close: () => agent.destroy(),
  };
}

export interface Tenant {
  apiKey: string;
  environmentId: string;
  /** The signed-up user's session headers (cookie and CSRF token), for member-only setup calls. */
  session: Record<string, string>;
}

function must<T>(value: T | null | undefined, what: string, body: unknown): T {
  if (value == null) throw new Error(`${what} failed: ${JSON.stringify(body).slice(0, 500)}`);
  return value;
}

/** Signs a user up, creates a project and an API key for its development environment. */
export async function createTenant(client: GraphQLClient, name: string): Promise<Tenant> {
  const signUp = await client.requestRaw(
    `mutation($input: SignUpInput!) { signUp(input: $input) { __typename ... on AuthPayload { csrfToken } ... on Error { code message } } }`,
    { input: { email: `${name}@example.com`, password: 'benchmark password, long enough' } },
  );
  const csrf = must(signUp.body.data?.signUp?.csrfToken as string | undefined, 'signUp', signUp.body);
  const cookie = (signUp.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const session = { cookie, 'x-csrf-token': csrf };
  const project = await client.request(
    `mutation { createProject(input: { name: "Benchmark" }) { __typename ... on CreateProjectSuccess { project { environments { id kind } } } } }`,
    {},
    session,
  );
  const environments = must(project.data?.createProject?.project?.environments as { id: string; kind: string }[], 'createProject', project);
  const environmentId = must(environments.find((e) => e.kind === 'DEVELOPMENT')?.id, 'development environment', project);
  const key = await client.request(
    `mutation($e: ID!) { createApiKey(environmentId: $e, input: { name: "bench" }) { __typename ... on CreatedApiKey { secret } } }`,
    { e: environmentId },
    session,
  );
  return { apiKey: must(key.data?.createApiKey?.secret as string, 'createApiKey', key), environmentId, session };
}

/** Raises the environment's API-key rate budget (default 60,000 operations a minute) so a load test is not throttled. */
export async function raiseApiKeyBudget(client: GraphQLClient, tenant: Tenant, opsPerMinute = 1_000_000): Promise<void> {
  const r = await client.request(
    `mutation($e: ID!, $n: Int!) { updateEnvironment(environmentId: $e, input: { apiKeyOpsPerMinute: $n }) {
      __typename ... on UpdateEnvironmentSuccess { environment { apiKeyOpsPerMinute } } ... on Error { code message } } }`,
    { e: tenant.environmentId, n: opsPerMinute },
    tenant.session,
  );
  must(r.data?.updateEnvironment?.environment?.apiKeyOpsPerMinute as number | undefined, 'updateEnvironment', r);
}

export interface MintedToken {
  externalId: string;
  recipientId: string;
  token: string;
}

/**
 * Mints one client token per external id (creating the recipients), `perRequest` root fields per
 * HTTP request (aliases), `concurrency` requests at a time.
 */
export async function mintClientTokens(
  client: GraphQLClient,
  apiKey: string,
  externalIds: string[],
  { perRequest = 20, concurrency = 4, ttlSeconds = 6 * 3600, onProgress }: MintOptions = {},
): Promise<MintedToken[]> {
  const out: MintedToken[] = new Array(externalIds.length);
  let next = 0;
  let done = 0;
  const auth = { authorization: `Bearer ${apiKey}` };
  const lane = async () => {
    while (next < externalIds.length) {
      const start = next;
      const batch = externalIds.slice(start, start + perRequest);
      next += batch.length;
      const fields = batch
        .map((id, i) => `t${i}: createClientToken(recipient: ${JSON.stringify(id)}, ttlSeconds: ${ttlSeconds}) { token recipient { id } }`)
        .join('\n');
      const r = await client.request(`mutation {\n${fields}\n}`, {}, auth);
      batch.forEach((externalId, i) => {
        const minted = must(r.data?.[`t${i}`] as { token: string; recipient: { id: string } }, 'createClientToken', r);
        out[start + i] = { externalId, recipientId: minted.recipient.id, token: minted.token };
      });
      done += batch.length;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return out;
}

export interface MintOptions {
  perRequest?: number;
  concurrency?: number;
  ttlSeconds?: number;
  onProgress?: (done: number) => void;
}

export const SEND_MUTATION = `mutation Send($input: SendInput!) {
  send(input: $input) {
    __typename
    ... on SendSuccess { notification { id } }
    ... on Error { code message }
  }
}`;

/** What a browser inbox would select on each live event. */
export const INBOX_EVENTS_SUBSCRIPTION = `subscription Inbox($after: String) {
  inboxEvents(after: $after) {
    cursor
    seq
    type
    unreadCount
    unseenCount
    notification { id title body category actionUrl createdAt read seen }
  }
}`;

/** The least a client can select: for comparing what the fuller selection costs the server. */
export const LEAN_INBOX_EVENTS_SUBSCRIPTION = `subscription Inbox($after: String) {
  inboxEvents(after: $after) { seq type notification { id } }
}`;

export interface InboxEventPayload {
  cursor: string;
  seq: number;
  type: string;
  unreadCount: number;
  unseenCount: number;
  notification: { id: string; title: string | null } | null;
}
