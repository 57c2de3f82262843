// Summarizes a .cpuprofile (from `--api-node-args "--cpu-prof --cpu-prof-dir=DIR"` on a bench, or
// any `node --cpu-prof`): self time per package / source folder and per function, largest first.
// `--inclusive PATTERN` lists functions (name or file containing PATTERN, e.g. "api/src") by total
// time including their callees, each sample counted once per function.
// `--callers NAME` adds who calls the functions whose name contains NAME (self time by call path,
// innermost frames first), to find what a hot leaf like `writev` or `DOMException` is doing.
// Run: npx node bench/cpu-profile-summary.ts <file.cpuprofile> [--top 30] [--callers NAME] [--depth 6]
//      [--inclusive PATTERN]
import { readFileSync } from 'node:fs';
import { parseArgs, table } from './lib/stats.ts';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: npx node bench/cpu-profile-summary.ts <file.cpuprofile> [--top 30] [--callers NAME] [--depth 6]');
  process.exit(2);
}
const args = parseArgs({ top: 30, callers: '', depth: 6, inclusive: '' }, rest);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

/** Where code lives: a package in node_modules, a folder of this repo, Node's internals, or V8's own entries. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native / V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0] as string;
  const repo = /\/work\/main\/([^/]+\/[^/]+)/.exec(url) ?? /([^/]+\/src)\//.exec(url);
  return repo ? (repo[1] as string) : url;
}

const areas = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
for (const [id, micros] of selfMicros) {
  const node = byId.get(id);
  if (!node) continue;
  total += micros;
  const { functionName, url, lineNumber } = node.callFrame;
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + micros);
  const short = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${short}`;
  functions.set(key, (functions.get(key) ?? 0) + micros);
}
const wall = (profile.endTime - profile.startTime) / 1e6;
const idle = [...selfMicros].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, m]) => a + m, 0);
console.log(
  `${file}: ${wall.toFixed(1)} s profiled, ${((total - idle) / 1e6).toFixed(1)} s busy (${(((total - idle) / (wall * 1e6)) * 100).toFixed(0)}% of one core)`,
);
const pct = (m: number) => `${((m / Math.max(1, total - idle)) * 100).toFixed(1)}%`;
const top = (m: Map<string, number>) =>
  [...m.entries()]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort(([, a], [, b]) => b - a)
    .slice(0, args.top);
console.log('');
console.log(table([['self time by area', 'ms', 'of busy'], ...top(areas).map(([k, m]) => [k, (m / 1000).toFixed(0), pct(m)])]));
console.log('');
console.log(
  table([['self time by function', 'ms', 'of busy'], ...top(functions).map(([k, m]) => [k.slice(0, 110), (m / 1000).toFixed(0), pct(m)])]),
);

if (args.callers) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frame = (id: number) => {
    const f = byId.get(id)?.callFrame;
    if (!f) return '?';
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };
  const paths = new Map<string, number>();
  let matched = 0;
  for (const [id, micros] of selfMicros) {
    if (!byId.get(id)?.callFrame.functionName.includes(args.callers)) continue;
    matched += micros;
    const chain: string[] = [];
    for (let at: number | undefined = id; at !== undefined && chain.length < args.depth; at = parent.get(at)) chain.push(frame(at));
    const key = chain.join('\n    ← ');
    paths.set(key, (paths.get(key) ?? 0) + micros);
  }
  console.log('');
  console.log(`callers of functions named *${args.callers}* (${(matched / 1000).toFixed(0)} ms, ${pct(matched)} of busy):`);
  for (const [path, micros] of [...paths.entries()].sort(([, a], [, b]) => b - a).slice(0, args.top)) {
    console.log(`${(micros / 1000).toFixed(0).padStart(6)} ms ${pct(micros).padStart(6)}  ${path}`);
  }
}

if (args.inclusive) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (id: number) => {
    const f = byId.get(id)?.callFrame;
    if (!f) return '?';
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const keys = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) keys.add(keyOf(at));
    for (const key of keys) if (key.includes(args.inclusive)) totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  console.log('');
  console.log(
    table([
      [`total time (with callees) of functions matching "${args.inclusive}"`, 'ms', 'of busy'],
      ...[...totals.entries()]
        .sort(([, a], [, b]) => b - a)
        .slice(0, args.top)
        .map(([k, m]) => [k.slice(0, 110), (m / 1000).toFixed(0), pct(m)]),
    ]),
  );
}
