// Small helpers the page's components share.

/** POSTs JSON to the demo backend; throws with the server's message when it refuses. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const value = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok) throw new Error(value.error?.message ?? `${path} answered ${res.status}`);
  return value as T;
}

/** A fresh idempotency key (crypto.randomUUID needs a secure context, which a phone on the LAN is not). */
export function newKey(): string {
  return typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
