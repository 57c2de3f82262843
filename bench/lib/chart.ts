// Dependency-free SVG charts for the benches' reports (docs/bench/*.svg, embedded in
// docs/benchmarks.md): line charts with linear, logarithmic or percentile axes, which covers latency
// distributions (HdrHistogram-style percentile plots: the tail gets as much room as the median) and
// throughput over time. Output is deterministic for the same input, so re-running a bench only
// changes a chart when the numbers change.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from './stats.ts';

/** Where charts are written: docs/bench/ of this repository. */
export const CHART_DIR = fileURLToPath(new URL('../../docs/bench/', import.meta.url));

export type Scale = 'linear' | 'log' | 'percentile';

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. the reference pipeline next to ours). */
  dashed?: boolean;
  /** Index into the palette (default: the series' position), so related series can share a colour. */
  colour?: number;
}

export type SeriesStyle = Pick<Series, 'dashed' | 'colour'>;

export interface Guide {
  /** A horizontal line at this y (axis: 'y') or a vertical one at this x (axis: 'x'). */
  axis: 'x' | 'y';
  value: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  xScale?: Scale;
  yScale?: Scale;
  guides?: readonly Guide[];
  /** Force an axis to start at / include these values (linear axes start at 0 by default). */
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  width?: number;
  height?: number;
}

// Colour-blind-safe (Okabe–Ito) palette.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
/** The percentile axis ends at 99.99 %: beyond that a run of minutes has too few samples. */
const PERCENTILE_AXIS_MAX = 0.9999;

const escapeXml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const fmt = (n: number) => {
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 10_000) return `${Number((n / 1000).toFixed(a >= 100_000 ? 0 : 1))}k`;
  if (a >= 100) return String(Math.round(n));
  if (a >= 10) return String(Number(n.toFixed(1)));
  if (a >= 1) return String(Number(n.toFixed(2)));
  return String(Number(n.toPrecision(2)));
};

interface Axis {
  toUnit(v: number): number; // 0..1 along the axis
  ticks: { value: number; label: string }[];
}

function linearAxis(min: number, max: number): Axis {
  if (!(max > min)) max = min + 1;
  const rough = (max - min) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough) as number;
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push({ value: v, label: fmt(Number(v.toPrecision(12))) });
  return { toUnit: (v) => (v - lo) / (hi - lo), ticks };
}

function logAxis(min: number, max: number): Axis {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-6)));
  let hi = Math.ceil(Math.log10(Math.max(max, min * 10, 1e-6)));
  if (hi <= lo) hi = lo + 1;
  const ticks = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of hi - lo <= 2 ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e;
      if (v <= 10 ** hi) ticks.push({ value: v, label: fmt(v) });
    }
  }
  return { toUnit: (v) => (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo), ticks };
}

/** x = −log10(1 − p): 0 %, 90 %, 99 %, 99.9 % … are equally spaced (p given in percent). */
function percentileAxis(maxPercent: number): Axis {
  const f = (percent: number) => -Math.log10(1 - Math.min(percent / 100, PERCENTILE_AXIS_MAX));
  const end = Math.max(2, Math.ceil(f(maxPercent)));
  const ticks = [
    { value: 0, label: '0 %' },
    { value: 50, label: '50 %' },
    { value: 90, label: '90 %' },
    { value: 99, label: '99 %' },
    { value: 99.9, label: '99.9 %' },
    { value: 99.99, label: '99.99 %' },
  ].filter((t) => f(t.value) <= end + 1e-9);
  return { toUnit: (v) => f(v) / end, ticks };
}

function axisFor(scale: Scale, values: number[], domain?: readonly [number, number]): Axis {
  const finite = values.filter(Number.isFinite);
  let min = Math.min(...finite, ...(domain ? [domain[0]] : []));
  let max = Math.max(...finite, ...(domain ? [domain[1]] : []));
  if (!Number.isFinite(min)) [min, max] = [0, 1];
  if (scale === 'percentile') return percentileAxis(max);
  if (scale === 'log') return logAxis(Math.max(min, Math.min(...finite.filter((v) => v > 0), 1)), max);
  return linearAxis(Math.min(0, min), max);
}

/** An SVG line chart. */
export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  const left = 64;
  const right = 16;
  const top = options.subtitle ? 52 : 36;
  // Legend entries flow left to right in columns of a third of the width (two thirds, or the whole
  // width, for long names), wrapping to new rows.
  const columnWidth = (width - left - right) / 3;
  const legend: { x: number; row: number }[] = [];
  let cursor = 0;
  let row = 0;
  for (const s of options.series) {
    const span = Math.min(3, Math.ceil((34 + s.name.length * 6.6) / columnWidth));
    if (cursor + span > 3) {
      cursor = 0;
      row++;
    }
    legend.push({ x: left + cursor * columnWidth, row });
    cursor += span;
  }
  const bottom = 48 + 18 * (options.series.length ? row + 1 : 0);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = options.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = options.series.flatMap((s) => s.points.map((p) => p[1]));
  const guideXs = (options.guides ?? []).filter((g) => g.axis === 'x').map((g) => g.value);
  const guideYs = (options.guides ?? []).filter((g) => g.axis === 'y').map((g) => g.value);
  const xAxis = axisFor(options.xScale ?? 'linear', [...xs, ...guideXs], options.xDomain);
  const yAxis = axisFor(options.yScale ?? 'linear', [...ys, ...guideYs], options.yDomain);
  const X = (v: number) => left + Math.max(0, Math.min(1, xAxis.toUnit(v))) * plotW;
  const Y = (v: number) => top + plotH - Math.max(0, Math.min(1, yAxis.toUnit(v))) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
  );
  // The accessible name (screen readers, and the page's tooltip).
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  // Shrink long titles to the width (≈ 0.56 em per character in a sans-serif face).
  const fontSize = (text: string, size: number) => Math.min(size, Math.floor((width - left - 8) / (text.length * 0.56)));
  out.push(`<text x="${left}" y="20" font-size="${fontSize(options.title, 15)}" font-weight="600">${escapeXml(options.title)}</text>`);
  if (options.subtitle)
    out.push(`<text x="${left}" y="38" font-size="${fontSize(options.subtitle, 12)}" fill="#555">${escapeXml(options.subtitle)}</text>`);
  // Grid and tick labels.
  for (const t of yAxis.ticks) {
    const y = Y(t.value).toFixed(1);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#333">${escapeXml(t.label)}</text>`);
  }
  for (const t of xAxis.ticks) {
    const x = X(t.value).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" stroke="#eeeeee"/>`);
    // The last label would be cut off at the right edge: end it there instead of centring it.
    const anchor = Number(x) > left + plotW - 24 ? 'end' : 'middle';
    out.push(`<text x="${x}" y="${top + plotH + 16}" text-anchor="${anchor}" fill="#333">${escapeXml(t.label)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.yLabel)}</text>`,
  );
  // Guides (targets).
  for (const g of options.guides ?? []) {
    if (g.axis === 'y') {
      const y = Y(g.value).toFixed(1);
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#b00" stroke-dasharray="6 4"/>`);
      // Below the line when it runs along the top of the plot, above it otherwise.
      const labelY = Number(y) - 4 < top + 12 ? Number(y) + 14 : Number(y) - 4;
      out.push(`<text x="${left + 4}" y="${labelY}" fill="#b00">${escapeXml(g.label)}</text>`);
    } else {
      const x = X(g.value).toFixed(1);
      out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" stroke="#b00" stroke-dasharray="6 4"/>`);
      out.push(`<text x="${Number(x) + 4}" y="${top + 12}" fill="#b00">${escapeXml(g.label)}</text>`);
    }
  }
  // Series.
  options.series.forEach((s, i) => {
    const colour = COLOURS[(s.colour ?? i) % COLOURS.length] as string;
    const d = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`)
      .join('');
    if (d)
      out.push(
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''} stroke-linejoin="round"/>`,
      );
    const place = legend[i] as { x: number; row: number };
    const lx = place.x;
    const ly = top + plotH + 52 + place.row * 18;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    out.push(`<text x="${lx + 28}" y="${ly}" fill="#222">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * A latency distribution as a percentile plot: x is the percentile (0 … 99.99 %, log-spaced toward
 * the tail), y the latency. Each series is a list of raw samples.
 */
export function percentileSeries(name: string, samples: readonly number[], style: SeriesStyle = {}): Series {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { name, points: [], ...style };
  const points: [number, number][] = [];
  // Evenly spaced on the −log10(1 − p) axis, up to the highest percentile the sample count supports.
  const maxPercent = Math.min(PERCENTILE_AXIS_MAX, 1 - 1 / sorted.length) * 100;
  const end = -Math.log10(1 - maxPercent / 100);
  for (let i = 0; i <= 200; i++) {
    const p = (1 - 10 ** (-(end * i) / 200)) * 100;
    points.push([p, percentile(sorted, Math.max(p, 0.0001))]);
  }
  points.push([maxPercent, sorted.at(-1) as number]);
  return { name: `${name} (n=${sorted.length})`, points, ...style };
}

/** Events per second in `bucketMs` buckets from timestamps (ms) relative to `start`. */
export function rateSeries(
  name: string,
  timestampsMs: readonly number[],
  start: number,
  end: number,
  bucketMs = 1000,
  style: SeriesStyle = {},
): Series {
  const buckets = Math.max(1, Math.ceil((end - start) / bucketMs));
  const counts = new Array<number>(buckets).fill(0);
  for (const t of timestampsMs) {
    const b = Math.floor((t - start) / bucketMs);
    if (b >= 0 && b < buckets) counts[b] = (counts[b] ?? 0) + 1;
  }
  return {
    name,
    ...style,
    points: counts.map((c, i) => [((i + 0.5) * bucketMs) / 1000, (c * 1000) / bucketMs] as const),
  };
}

/** Writes `svg` to docs/bench/<file> (creating the folder); returns the path. */
export function writeChart(file: string, svg: string, dir = CHART_DIR): string {
  const path = `${dir.replace(/\/$/, '')}/${file}`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
  return path;
}
