// What the page server injects into every test page (window.__PIGEON_TEST__), and the getToken a
// customer's app would write: ask its own backend, which mints with the API key.

/** Injected by the kit's page server before the app's script runs. */
export interface PageConfig {
  /** The API process this page talks to (another origin than the page's). */
  baseUrl: string;
  /** The recipient's external id (the page's `?user=`). */
  user: string;
}

declare global {
  interface Window {
    __PIGEON_TEST__?: PageConfig;
  }
}

/** The injected configuration, plus the page's query parameters for app-specific switches. */
export function pageConfig(): PageConfig & { params: URLSearchParams } {
  const config = window.__PIGEON_TEST__;
  if (!config) throw new Error('window.__PIGEON_TEST__ is missing: open this page through the browser kit’s page server');
  return { ...config, params: new URLSearchParams(window.location.search) };
}

/** GET /token on the page's own origin (the test's stand-in for a customer's backend). */
export async function fetchToken(user: string): Promise<{ token: string; expiresAt: string }> {
  const response = await fetch(`/token?user=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`GET /token answered HTTP ${response.status}`);
  return (await response.json()) as { token: string; expiresAt: string };
}
