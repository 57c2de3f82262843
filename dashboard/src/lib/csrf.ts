// The API's session cookie is httpOnly; its CSRF twin `pigeon_csrf` is readable by our own scripts
// and must come back as the X-CSRF-Token header on every request, or the session is ignored.
export const CSRF_COOKIE = 'pigeon_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

export function readCsrfToken(cookie: string = document.cookie): string | null {
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== CSRF_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value) || null;
    } catch {
      return null;
    }
  }
  return null;
}
