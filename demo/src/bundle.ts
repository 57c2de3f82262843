// The page is bundled once at start-up, in memory: no dev server, no build step, no files written.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

const PAGE = new URL('./page/', import.meta.url);

/** The page's files, ready to serve. */
export interface PageAssets {
  html: string;
  js: string;
  /** CSS that the page's imports bring (e.g. the bell's own styles), empty when there is none. */
  css: string;
}

export async function bundlePage(): Promise<PageAssets> {
  // esbuild serves builds from a child process; the page is built once, so it ends right after.
  const result = await build({
    entryPoints: [fileURLToPath(new URL('main.tsx', PAGE))],
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    minify: true,
    sourcemap: 'inline',
    outdir: 'out',
    write: false,
    logLevel: 'silent',
  }).finally(() => stop());
  const output = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  const html = await readFile(new URL('index.html', PAGE), 'utf8');
  return { html, js: output('.js'), css: output('.css') };
}
