import nunjucks from 'nunjucks';

const lib = (nunjucks as unknown as { lib: { escape(text: string): string } }).lib;

/**
 * Escapes text exactly as autoescaped template output is (`&`, `"`, `'`, `<`, `>`), so inline
 * notifications and rendered ones share one rule: title and body are HTML whose text is escaped.
 */
export function escapeHtml(text: string): string {
  return lib.escape(text);
}
