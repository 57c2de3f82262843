// Summarizes a V8 heap snapshot (e.g. one written by `bench/sse-capacity.ts --heap-snapshot-dir`):
// self size and count per constructor / node type, largest first — where the retained heap goes.
// Run: npx node bench/heap-summary.ts <file.heapsnapshot> [--per N] [--top 40] [--strings]
//   --per N divides sizes and counts by N (e.g. the number of open streams).
//   --strings also lists the biggest groups of strings (by their first 60 characters).
import { readFileSync } from 'node:fs';
import { parseArgs, table } from './lib/stats.ts';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: npx node bench/heap-summary.ts <file.heapsnapshot> [--per N] [--top 40]');
  process.exit(2);
}
const args = parseArgs({ per: 0, top: 40, strings: false }, rest);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snapshot.snapshot.meta.node_fields;
const types = snapshot.snapshot.meta.node_types[0];
const width = fields.length;
const typeAt = fields.indexOf('type');
const nameAt = fields.indexOf('name');
const sizeAt = fields.indexOf('self_size');

const groups = new Map<string, { size: number; count: number }>();
const strings = new Map<string, { size: number; count: number }>();
let total = 0;
for (let i = 0; i < snapshot.nodes.length; i += width) {
  const type = types[snapshot.nodes[i + typeAt] as number] ?? '?';
  const size = snapshot.nodes[i + sizeAt] as number;
  total += size;
  const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '?';
  // Objects and closures by constructor / function name; everything else by node type.
  if (args.strings && (type === 'string' || type === 'concatenated string' || type === 'sliced string')) {
    const prefix = `${type === 'string' ? '' : `(${type}) `}${name.slice(0, 60).replace(/\s+/g, ' ')}`;
    const g = strings.get(prefix) ?? { size: 0, count: 0 };
    g.size += size;
    g.count += 1;
    strings.set(prefix, g);
  }
  const key = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : type;
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size;
  g.count += 1;
  groups.set(key, g);
}

const per = args.per > 0 ? args.per : 1;
const rows = [...groups.entries()].sort(([, a], [, b]) => b.size - a.size).slice(0, args.top);
console.log(`${file}: ${(total / 2 ** 20).toFixed(1)} MB in ${snapshot.nodes.length / width} nodes${args.per ? `; per ${args.per}` : ''}`);
console.log(
  table([
    ['what', args.per ? 'bytes each' : 'MB', args.per ? 'count each' : 'count', 'share'],
    ...rows.map(([key, g]) => [
      key,
      args.per ? (g.size / per).toFixed(0) : (g.size / 2 ** 20).toFixed(2),
      args.per ? (g.count / per).toFixed(2) : g.count,
      `${((g.size / total) * 100).toFixed(1)}%`,
    ]),
  ]),
);

if (args.strings) {
  console.log('');
  console.log(
    table([
      ['string (first 60 characters)', args.per ? 'bytes each' : 'MB', args.per ? 'count each' : 'count'],
      ...[...strings.entries()]
        .sort(([, a], [, b]) => b.size - a.size)
        .slice(0, args.top)
        .map(([key, g]) => [
          JSON.stringify(key),
          args.per ? (g.size / per).toFixed(0) : (g.size / 2 ** 20).toFixed(2),
          args.per ? (g.count / per).toFixed(2) : g.count,
        ]),
    ]),
  );
}
