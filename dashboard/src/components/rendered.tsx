import { sanitizeHtml } from '../lib/sanitize.ts';

/** A rendered title or body: its inert markup shown, everything else dropped (see sanitize.ts). */
export function RenderedHtml({ html, className, testId }: { html: string | null | undefined; className?: string; testId?: string }) {
  // biome-ignore lint/security/noDangerouslySetInnerHtml: sanitized to an allow-list of inert tags first
  return <div className={className} data-testid={testId} dangerouslySetInnerHTML={{ __html: sanitizeHtml(html) }} />;
}
