/**
 * The plot of `membership-scale.ts`, as a hand-written SVG (no plotting dependency):
 * three panels over the region size N — membership messages/s and bytes/s at the default
 * heartbeat interval (log scale), and convergence in heartbeat intervals — mesh against NATS.
 */
import { HEARTBEAT_INTERVAL_MS } from '../cluster/membership.js';
import type { ScaleResult } from './membership-scale.js';

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  /** Drawn wide and pale, under the others (a line another one may cover). */
  under?: boolean;
  points: [number, number][];
}

const W = 330;
const H = 260;
const M = { left: 58, right: 12, top: 28, bottom: 40 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function si(x: number): string {
  if (x >= 1e9) return `${+(x / 1e9).toPrecision(3)}G`;
  if (x >= 1e6) return `${+(x / 1e6).toPrecision(3)}M`;
  if (x >= 1e3) return `${+(x / 1e3).toPrecision(3)}k`;
  return `${+x.toPrecision(3)}`;
}

function panel(x0: number, title: string, series: Series[], logY: boolean, xMax: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => (logY ? y > 0 : true));
  let yMin: number;
  let yMax: number;
  if (logY) {
    yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
    yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  } else {
    yMin = 0;
    const top = Math.max(...ys, 1);
    const step = 10 ** Math.floor(Math.log10(top));
    yMax = Math.ceil(top / step) * step;
  }
  const X = (x: number) => x0 + M.left + (x / xMax) * pw;
  const Y = (y: number) =>
    M.top + ph - (logY ? ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph : ((y - yMin) / (yMax - yMin)) * ph);
  const out: string[] = [];
  out.push(`<text x="${x0 + M.left + pw / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  // y ticks
  const yTicks: number[] = [];
  if (logY) for (let v = yMin; v <= yMax * 1.0001; v *= 10) yTicks.push(v);
  else for (let i = 0; i <= 5; i++) yTicks.push(yMin + ((yMax - yMin) * i) / 5);
  for (const v of yTicks) {
    const y = Y(v);
    out.push(`<line x1="${x0 + M.left}" y1="${y}" x2="${x0 + M.left + pw}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + M.left - 4}" y="${y + 4}" text-anchor="end">${si(v)}</text>`);
  }
  // x ticks
  const xStep = xMax <= 50 ? 10 : 25;
  for (let v = 0; v <= xMax; v += xStep) {
    const x = X(v);
    out.push(`<line x1="${x}" y1="${M.top + ph}" x2="${x}" y2="${M.top + ph + 4}" stroke="#999"/>`);
    out.push(`<text x="${x}" y="${M.top + ph + 16}" text-anchor="middle">${v}</text>`);
  }
  out.push(`<text x="${x0 + M.left + pw / 2}" y="${H - 6}" text-anchor="middle">nodes in the region (N)</text>`);
  const style = (s: Series) =>
    `stroke="${s.color}" stroke-width="${s.under ? 6 : 2}"${s.under ? ' stroke-opacity="0.35"' : ''}${s.dashed ? ' stroke-dasharray="6 4"' : ''}`;
  for (const s of [...series.filter((x) => x.under), ...series.filter((x) => !x.under)]) {
    const pts = s.points.filter((p) => !logY || p[1] > 0);
    if (!pts.length) continue;
    out.push(`<polyline fill="none" ${style(s)} points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="${s.under ? 4 : 2.5}" fill="${s.color}"${s.under ? ' fill-opacity="0.35"' : ''}/>`);
  }
  // legend, under the panel
  series.forEach((s, i) => {
    const y = H + 8 + i * 15;
    const x = x0 + M.left;
    out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" ${style(s)}/>`);
    out.push(`<text x="${x + 28}" y="${y}">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

export function membershipSvg(results: ScaleResult[]): string {
  const of = (kind: 'mesh' | 'nats', f: (r: ScaleResult) => number): [number, number][] =>
    results.filter((r) => r.transport === kind).map((r) => [r.nodes, f(r)]);
  const MESH = '#d62728';
  const NATS = '#1f77b4';
  const xMax = Math.max(...results.map((r) => r.nodes));
  const xAxis = Math.ceil(xMax / 25) * 25;
  const panels = [
    panel(
      0,
      'membership messages / s',
      [
        { label: 'mesh: frames sent (= delivered)', color: MESH, under: true, points: of('mesh', (r) => r.trafficAtDefaultInterval.sentPerS) },
        { label: 'NATS: published by nodes', color: NATS, dashed: true, points: of('nats', (r) => r.trafficAtDefaultInterval.sentPerS) },
        { label: 'NATS: delivered to nodes', color: NATS, points: of('nats', (r) => r.trafficAtDefaultInterval.deliveredPerS) },
      ],
      true,
      xAxis,
    ),
    panel(
      W,
      'membership bytes / s',
      [
        { label: 'mesh: sent (= delivered)', color: MESH, under: true, points: of('mesh', (r) => r.trafficAtDefaultInterval.sentBytesPerS) },
        { label: 'NATS: published by nodes', color: NATS, dashed: true, points: of('nats', (r) => r.trafficAtDefaultInterval.sentBytesPerS) },
        { label: 'NATS: delivered to nodes', color: NATS, points: of('nats', (r) => r.trafficAtDefaultInterval.deliveredBytesPerS) },
      ],
      true,
      xAxis,
    ),
    panel(
      2 * W,
      'convergence (heartbeat intervals)',
      [
        { label: 'mesh: all see all up', color: MESH, points: of('mesh', (r) => r.joinConvergenceIntervals) },
        { label: 'NATS: all see all up', color: NATS, points: of('nats', (r) => r.joinConvergenceIntervals) },
        { label: 'mesh: all see a death', color: MESH, dashed: true, points: of('mesh', (r) => r.deathConvergenceIntervals) },
        { label: 'NATS: all see a death', color: NATS, dashed: true, points: of('nats', (r) => r.deathConvergenceIntervals) },
      ],
      false,
      xAxis,
    ),
  ];
  const width = 3 * W;
  const height = H + 4 * 15 + 26;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...panels,
    `<text x="${width / 2}" y="${height - 4}" text-anchor="middle" fill="#555">Traffic at ${HEARTBEAT_INTERVAL_MS} ms heartbeats (runs beyond 50 nodes used longer intervals, scaled); mesh: in-memory stand-in for N·(N−1) links; NATS: one local nats-server</text>`,
    '</svg>',
    '',
  ].join('\n');
}
