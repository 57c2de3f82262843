import { mulberry32 } from '../../api/test/random.ts';
// Small helpers shared by the benches: percentiles, a seeded PRNG, argument parsing, formatting.

/** Nearest-rank percentile of an ascending-sorted array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** mulberry32 (the tests' PRNG): a run's choice of recipients can be replayed (--seed). */
export const seededRandom = mulberry32;

/** `--name value` / `--name=value` / `--flag` arguments with defaults; unknown names are an error. */
export function parseArgs<T extends Record<string, string | number | boolean>>(defaults: T, argv = process.argv.slice(2)): T {
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      console.log(
        `options (defaults):\n${Object.entries(defaults)
          .map(([k, v]) => `  --${k} ${v}`)
          .join('\n')}`,
      );
      process.exit(0);
    }
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument ${arg}`);
    const name = match[1] as string;
    if (!(name in defaults)) throw new Error(`unknown option --${name} (try --help)`);
    const kind = typeof defaults[name];
    let value = match[2];
    if (value === undefined && kind !== 'boolean') {
      value = argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
    }
    if (kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`--${name} must be a number`);
      out[name] = n;
    } else if (kind === 'boolean') out[name] = value === undefined ? true : value !== 'false';
    else out[name] = value as string;
  }
  return out as T;
}

export const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Prints rows as an aligned text table (first row: headers). */
export function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((v, c) => String(v).padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}

/** Every bench ends its report with one line `RESULT <json>` (bench/smoke.test.ts reads it). */
export const RESULT_PREFIX = 'RESULT ';

export function printResult(report: unknown): void {
  console.log(`${RESULT_PREFIX}${JSON.stringify(report)}`);
}

/** Rows as a GitHub markdown table (first row: headers). */
export function markdownTable(rows: (string | number)[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  const line = (r: (string | number)[]) => `| ${r.map((v) => String(v).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...body.map(line)].join('\n');
}
