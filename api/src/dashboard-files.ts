// Serves the dashboard's built files (dashboard/dist, made by `vite build`) from the API process, so
// the dashboard and /graphql share one origin (its session cookie is same-site, and no CORS is
// involved). Unknown paths without a file extension get index.html: the dashboard routes in the
// browser. Nothing outside the directory is ever read.
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `vite build` puts the dashboard (dashboard/dist at the repository root). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The dashboard's page: scripts and styles from this origin only, API calls to this origin only. */
const HTML_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

/**
 * A handler for the dashboard's files, or null when `dir` holds no build (index.html). Returns true
 * when it answered the request; false leaves it to the API (e.g. /graphql).
 */
export function dashboardFiles(dir: string): StaticHandler | null {
  const root = resolve(dir);
  const index = join(root, 'index.html');
  if (!existsSync(index)) return null;
  return async (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/graphql' || path.startsWith('/graphql/') || path === '/healthz' || path === '/readyz') return false;
    let relative: string;
    try {
      relative = decodeURIComponent(path);
    } catch {
      return false;
    }
    if (relative.includes('\0')) return false;
    const candidate = normalize(join(root, relative));
    if (candidate !== root && !candidate.startsWith(root + sep)) return false;
    let file = candidate;
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      // A missing asset is a 404; a route of the app gets the page.
      if (extname(relative)) return false;
      file = index;
    }
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const size = file === index ? (await stat(index)).size : (info?.size ?? 0);
    const headers: Record<string, string | number> = {
      'content-type': type,
      'content-length': size,
      'x-content-type-options': 'nosniff',
      ...(file === index
        ? HTML_HEADERS
        : // Vite puts content hashes in the names under assets/: they never change.
          { 'cache-control': relative.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' }),
    };
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(file);
      stream.once('error', () => {
        res.destroy();
        done();
      });
      stream.once('end', () => done());
      stream.pipe(res);
    });
    return true;
  };
}
