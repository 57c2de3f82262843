// Sample data for previews: remembered per environment and template, or guessed from the sources.
const RESERVED = new Set(['recipient', 'loop', 'true', 'false', 'none', 'null', 'not', 'and', 'or', 'in', 'is', 'range', 'caller']);

type Sample = { [key: string]: string | string[] | Sample };

/** A JSON object with an example value for each variable path the sources use (`order.id` → nested). */
export function guessSampleData(sources: readonly (string | null | undefined)[]): string {
  // path → whether it is iterated ({% for x in path %}), which makes it a list.
  const paths = new Map<string, boolean>();
  const patterns: [RegExp, boolean][] = [
    [/\{\{-?\s*([A-Za-z_][\w.]*)/g, false],
    [/\{%-?\s*(?:if|elif)\s+(?:not\s+)?([A-Za-z_][\w.]*)/g, false],
    [/\{%-?\s*for\s+\w+(?:\s*,\s*\w+)?\s+in\s+([A-Za-z_][\w.]*)/g, true],
  ];
  const loopVariables = new Set<string>();
  for (const source of sources) {
    if (!source) continue;
    for (const match of source.matchAll(/\{%-?\s*for\s+(\w+)(?:\s*,\s*(\w+))?\s+in/g)) {
      if (match[1]) loopVariables.add(match[1]);
      if (match[2]) loopVariables.add(match[2]);
    }
    for (const [pattern, list] of patterns) {
      for (const match of source.matchAll(pattern)) {
        const path = match[1]?.replace(/\.+$/, '');
        const root = path?.split('.')[0] ?? '';
        if (path && !RESERVED.has(root) && !loopVariables.has(root)) paths.set(path, list || (paths.get(path) ?? false));
      }
    }
  }
  const sample: Sample = {};
  for (const [path, list] of paths) {
    const parts = path.split('.');
    let node = sample;
    parts.forEach((part, i) => {
      const existing = node[part];
      if (i === parts.length - 1) {
        if (existing === undefined || list) node[part] = list ? [`sample-${part}-1`] : `sample-${part}`;
        return;
      }
      if (typeof existing !== 'object' || Array.isArray(existing)) node[part] = {};
      node = node[part] as Sample;
    });
  }
  return JSON.stringify(sample, null, 2);
}

const key = (environmentId: string, templateKey: string) => `pigeon.sample.${environmentId}.${templateKey}`;

export function loadSample(environmentId: string, templateKey: string): string | null {
  try {
    return localStorage.getItem(key(environmentId, templateKey));
  } catch {
    return null;
  }
}

export function saveSample(environmentId: string, templateKey: string, text: string): void {
  try {
    localStorage.setItem(key(environmentId, templateKey), text);
  } catch {
    // Storage full or disabled: the sample is simply not remembered.
  }
}

/** "… (line 3, column 7)" in a save error → 3. */
export function lineFromMessage(message: string | undefined): number | null {
  const match = message ? /line (\d+)/i.exec(message) : null;
  return match ? Number(match[1]) : null;
}
