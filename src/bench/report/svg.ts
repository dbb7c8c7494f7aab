/**
 * Plots as SVG, written by hand (no plotting dependency): horizontal bar charts and
 * line charts with linear or log axes. Plain shapes and text only, so every viewer and
 * GitHub render them the same.
 */

const W = 720;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export interface Bar {
  label: string;
  value: number;
  /** Printed at the end of the bar. */
  text: string;
  highlight?: boolean;
}

export function barChart(o: { title: string; subtitle?: string; bars: Bar[] }): string {
  const rowH = 26;
  const left = 200;
  const right = 110;
  const top = o.subtitle ? 56 : 40;
  const height = top + o.bars.length * rowH + 16;
  const max = Math.max(1e-9, ...o.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const span = W - left - right;
  const body = [`<text x="12" y="22" font-size="15" font-weight="bold" ${FONT}>${esc(o.title)}</text>`];
  if (o.subtitle) body.push(`<text x="12" y="40" font-size="11" fill="#555" ${FONT}>${esc(o.subtitle)}</text>`);
  o.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * span) : 0;
    body.push(`<text x="${left - 8}" y="${y + 16}" font-size="12" text-anchor="end" ${FONT}>${esc(b.label)}</text>`);
    body.push(`<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.highlight ? COLORS[0] : '#1f77b4'}"/>`);
    body.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 16}" font-size="12" ${FONT}>${esc(b.text)}</text>`);
  });
  return svg(W, height, body);
}

export interface Series {
  name: string;
  points: [number, number][];
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
}

function axis(values: number[], log: boolean, zero: boolean): Axis {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (!vs.length) return { min: log ? 1 : 0, max: log ? 10 : 1, log };
  let min = Math.min(...vs);
  let max = Math.max(...vs);
  if (log) {
    min = 10 ** Math.floor(Math.log10(min));
    max = 10 ** Math.ceil(Math.log10(max));
    if (min === max) max = min * 10;
  } else {
    if (zero) min = Math.min(0, min);
    if (min === max) max = min + 1;
    const step = niceStep((max - min) / 5);
    min = Math.floor(min / step) * step;
    max = Math.ceil(max / step) * step;
  }
  return { min, max, log };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function ticks(a: Axis): number[] {
  if (a.log) {
    const out: number[] = [];
    for (let v = a.min; v <= a.max * 1.0001; v *= 10) out.push(v);
    return out;
  }
  const step = niceStep((a.max - a.min) / 5);
  const out: number[] = [];
  for (let v = a.min; v <= a.max + step / 1000; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function scale(a: Axis, v: number, from: number, to: number): number {
  const t = a.log ? (Math.log10(v) - Math.log10(a.min)) / (Math.log10(a.max) - Math.log10(a.min)) : (v - a.min) / (a.max - a.min);
  return from + t * (to - from);
}

/** 1500 → "1.5k", 2000000 → "2M". */
export function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(3))}`;
}

export function lineChart(o: {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
}): string {
  const height = 420;
  const left = 78;
  const right = 180;
  const top = o.subtitle ? 56 : 40;
  const bottom = 52;
  const x = axis(o.series.flatMap((s) => s.points.map((p) => p[0])), o.logX ?? false, false);
  const y = axis(o.series.flatMap((s) => s.points.map((p) => p[1])), o.logY ?? false, true);
  const px = (v: number) => scale(x, v, left, W - right);
  const py = (v: number) => scale(y, v, height - bottom, top);
  const body = [`<text x="12" y="22" font-size="15" font-weight="bold" ${FONT}>${esc(o.title)}</text>`];
  if (o.subtitle) body.push(`<text x="12" y="40" font-size="11" fill="#555" ${FONT}>${esc(o.subtitle)}</text>`);
  for (const t of ticks(x)) {
    const X = px(t).toFixed(1);
    body.push(`<line x1="${X}" y1="${top}" x2="${X}" y2="${height - bottom}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${X}" y="${height - bottom + 16}" font-size="11" text-anchor="middle" ${FONT}>${short(t)}</text>`);
  }
  for (const t of ticks(y)) {
    const Y = py(t).toFixed(1);
    body.push(`<line x1="${left}" y1="${Y}" x2="${W - right}" y2="${Y}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${left - 6}" y="${(py(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" ${FONT}>${short(t)}</text>`);
  }
  body.push(`<rect x="${left}" y="${top}" width="${W - left - right}" height="${height - top - bottom}" fill="none" stroke="#888"/>`);
  body.push(`<text x="${(left + W - right) / 2}" y="${height - 12}" font-size="12" text-anchor="middle" ${FONT}>${esc(o.xLabel)}</text>`);
  body.push(
    `<text x="16" y="${(top + height - bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})" ${FONT}>${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!x.log || p[0] > 0) && (!y.log || p[1] > 0));
    if (pts.length > 1) {
      body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of pts) body.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = top + 10 + i * 18;
    body.push(`<line x1="${W - right + 12}" y1="${ly}" x2="${W - right + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    body.push(`<text x="${W - right + 36}" y="${ly + 4}" font-size="11" ${FONT}>${esc(s.name)}</text>`);
  });
  return svg(W, height, body);
}
