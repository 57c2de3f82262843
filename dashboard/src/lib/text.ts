// Rendered notification titles and bodies are HTML with escaped text; lists show them as text.
export function htmlToText(html: string | null | undefined): string {
  if (!html) return '';
  const doc = new DOMParser().parseFromString(html, 'text/html');
  return (doc.body.textContent ?? '').replace(/\s+/g, ' ').trim();
}

export function prettyJson(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/** An enum value as a word: "DELIVERED" → "Delivered". */
export function capitalize(value: string): string {
  return value.charAt(0) + value.slice(1).toLowerCase();
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; message: string; line: number | null };

/** Parses JSON typed by a person; on failure says where, as well as the engine allows. */
export function parseJsonInput(text: string): JsonParse {
  if (text.trim() === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const lineMatch = /line (\d+)/i.exec(message);
    const posMatch = /position (\d+)/i.exec(message);
    let line: number | null = lineMatch ? Number(lineMatch[1]) : null;
    if (line === null && posMatch) line = text.slice(0, Number(posMatch[1])).split('\n').length;
    return { ok: false, message, line };
  }
}
