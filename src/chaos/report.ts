/**
 * Reports of chaos runs, from the checker's `Report`: the text summary the checker CLI
 * prints; per scenario a markdown summary, the JSON and a timeline picture (SVG, drawn
 * here by hand); for a set of scenarios one combined `REPORT.md` with a table and links.
 * The render functions are pure; the `write*` functions put their output on disk.
 *
 *   DIR/NAME/summary.md    verdict, violations with examples, faults, latency, availability
 *   DIR/NAME/check.json    the checker's Report
 *   DIR/NAME/timeline.svg  deliveries/s and p50 latency per region over time, faults shaded
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Anomaly, Availability, FaultFigures, HistoryExample, LatencyStats, Report, Violation } from './checker.js';
import { occupancyLines } from './occupancy-check.js';
import { lifecycleLines } from './lifecycle-check.js';
import { serialLines, serialsOff } from './serial-check.js';
import { versionLines, versionsOff } from './versions-check.js';

// ---------------------------------------------------------------------------------------
// Text: the checker's summary and the phrases the markdown shares with it

export function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function formatShare(a: Availability): string {
  return a.share === null ? '–' : `${(a.share * 100).toFixed(a.share === 1 ? 0 : 1)}% (${a.acked}/${a.sent})`;
}

/** Seconds since the start of the record, e.g. `+12.3 s`. */
export function formatOffset(t: number, start: number): string {
  return `+${((t - start) / 1000).toFixed(1)} s`;
}

export function faultLabel(f: { action: string; target: string }): string {
  return f.target ? `${f.action} ${f.target}` : f.action;
}

export function formatConvergence(f: FaultFigures): string {
  return f.convergenceMs === null ? `never (${f.unconverged} missing)` : formatMs(f.convergenceMs);
}

export function describeViolation(v: Violation, start: number): string {
  switch (v.kind) {
    case 'lost':
      return `lost: ${v.channel} ${v.region}/${v.client} never got ${v.publisher}#${v.seq} (acked, sent ${formatOffset(v.publishedAt, start)}) and had no continuity signal after it`;
    case 'duplicate':
      return `duplicate: ${v.channel} ${v.region}/${v.client} got ${v.publisher}#${v.seq} ${v.deliveries} times`;
    case 'order':
      return `order: ${v.channel} ${v.region}/${v.client} got ${v.publisher}#${v.seq} after #${v.afterSeq} (${formatOffset(v.at, start)})`;
    case 'regionOrder':
      return `region order: ${v.channel} ${v.region}: ${v.clients[0]} got ${v.first.publisher}#${v.first.seq} before ${v.second.publisher}#${v.second.seq}, ${v.clients[1]} the other way round`;
  }
}

export function describeAnomaly(a: Anomaly): string {
  return a.kind === 'deliveredButNacked'
    ? `delivered but NACKed: ${a.channel} ${a.publisher}#${a.seq} (${a.deliveries} deliveries${a.error ? `; ${a.error.code} ${a.error.message}` : ''})`
    : `delivered but never published: ${a.channel} ${a.publisher}#${a.seq} (${a.deliveries} deliveries)`;
}

function statsCell(s: LatencyStats): string {
  return s.count === 0 ? '–' : `p50 ${formatMs(s.p50Ms)}, p99 ${formatMs(s.p99Ms)} (n=${s.count})`;
}

/** The text the CLI prints. */
/** The presence check: one line of figures, then a line per view that was off (`prefix` before each). */
export function presenceLines(r: Report, prefix: string): string[] {
  const p = r.presence;
  if (!p) return [];
  const when = p.convergedAfterMs === null ? `${p.mismatched} of ${p.views} views off at the end` : `all ${p.views} views within ${(p.convergedAfterMs / 1000).toFixed(1)} s of the check's start`;
  return [
    `${prefix}presence: ${p.members} members expected in every set; ${when}`,
    ...p.examples.map((x) => `${prefix}  ${x.channel} in ${x.region}, seen by ${x.observer}: missing [${x.missing.join(', ')}], extra [${x.extra.join(', ')}]`),
  ];
}

/** The history check: one line of figures, then a line per example (`prefix` before each). */
export function historyLines(r: Report, prefix: string): string[] {
  const h = r.history;
  if (!h) return [];
  const what = (x: HistoryExample) => (x.kind === 'unread' ? `could not be read: ${x.detail}` : `${x.kind} ${x.publisher}#${x.seq}${x.detail ? ` (${x.detail})` : ''}`);
  return [
    `${prefix}history: ${h.reads} histories read, ${h.items} messages in them; expected ${h.expected}, excused ${h.excused}; missing ${h.missing}, duplicates ${h.duplicates}, out of order ${h.order}, unread ${h.unread}`,
    ...h.examples.map((x) => `${prefix}  ${x.channel} in ${x.region}: ${what(x)}`),
  ];
}

/** The token check: one line of figures, then a line per example (`prefix` before each). */
export function tokenLines(r: Report, prefix: string): string[] {
  const k = r.tokens;
  if (!k) return [];
  const q = k.requests;
  const p = k.replays;
  return [
    `${prefix}tokens: requests issued ${q.issued}, refused ${q.refused}, failed ${q.failed}; replays refused ${p.refused}, taken ${p.taken} (${k.takenInFaults} in or just after a fault, ${k.takenOutsideFaults} outside), failed ${p.failed}; fresh requests refused as replays ${k.freshRefused}`,
    ...k.examples.map(
      (x) => `${prefix}  ${x.kind === 'freshRefused' ? 'a fresh request refused as replayed' : 'a replay taken outside every fault'}: ${x.client} in ${x.region} at ${formatOffset(x.t, r.span.start)}${x.detail ? ` (${x.detail})` : ''}`,
    ),
  ];
}

/** The revocation check: one line of figures, then a line per node that never refused a revoked token. */
export function revocationLines(r: Report, prefix: string): string[] {
  const v = r.revocations;
  if (!v) return [];
  const ms = (x: number | null) => (x === null ? '–' : `${x} ms`);
  return [
    `${prefix}revocations: ${v.revocations} made; ${v.refused} of ${v.checks} (revocation, node) refused before the end, ${v.unseenCount} not; p50 ${ms(v.allMs.p50)}, max ${ms(v.allMs.max)} after the revocation (outside faults: p50 ${ms(v.outsideFaultsMs.p50)}, max ${ms(v.outsideFaultsMs.max)}, n=${v.outsideFaultsMs.count})`,
    ...v.unseen.map((x) => `${prefix}  ${x.node} still took the token of ${x.clientId}, revoked through ${x.through} at ${formatOffset(x.revokedAt, r.span.start)}`),
  ];
}

/** The token check's violations (fresh requests refused as replays, replays taken outside faults). */
export function tokensOff(r: Report): number {
  return r.tokens ? r.tokens.freshRefused + r.tokens.takenOutsideFaults : 0;
}

/** The history check's findings in all (missing, duplicates, order, unread). */
export function historyOff(r: Report): number {
  const h = r.history;
  return h ? h.missing + h.duplicates + h.order + h.unread : 0;
}

export function formatSummary(r: Report): string {
  const v = r.violations;
  const t = r.totals;
  const lines = [
    `chaos check: ${r.verdict}`,
    `  ${t.events} events over ${((r.span.end - r.span.start) / 1000).toFixed(1)} s; ${t.channels} channel(s), ${t.regions} region(s), ${t.subscribers} subscriber(s)`,
    `  publishes ${t.publishes.sent} (acked ${t.publishes.acked}, nacked ${t.publishes.nacked}, unknown ${t.publishes.unknown}); deliveries ${t.deliveries}; continuity signals ${t.continuity}; expected ${t.expected}, excused ${t.excused}`,
    `violations: lost ${v.lost}, duplicates ${v.duplicates}, per-publisher order ${v.order}, region order ${v.regionOrder}`,
    ...r.examples.map((x) => `  ${describeViolation(x, r.span.start)}`),
    ...presenceLines(r, '  '),
    ...occupancyLines(r, '  '),
    ...lifecycleLines(r.lifecycle, '  '),
    ...deltaLines(r),
    ...filterLines(r),
    ...historyLines(r, '  '),
    ...tokenLines(r, '  '),
    ...revocationLines(r, '  '),
    `anomalies: delivered but NACKed ${r.anomalies.deliveredButNacked}, delivered but never published ${r.anomalies.deliveredButNeverPublished}`,
    ...r.anomalies.examples.map((a) => `  ${describeAnomaly(a)}`),
    `faults: ${r.faults.length}`,
    ...r.faults.map(
      (f) =>
        `  ${faultLabel(f)} ${formatOffset(f.start, r.span.start)} → ${formatOffset(f.end, r.span.start)}${f.open ? ' (no end)' : ''}: convergence ${formatConvergence(f)}; availability ${
          f.availability.map((a) => `${a.region} ${formatShare(a)}`).join(', ') || '–'
        }`,
    ),
    'latency (publish → deliver):',
    `  in-region     outside faults ${statsCell(r.latency.inRegion.outsideFaults)}; inside ${statsCell(r.latency.inRegion.insideFaults)}`,
    `  cross-region  outside faults ${statsCell(r.latency.crossRegion.outsideFaults)}; inside ${statsCell(r.latency.crossRegion.insideFaults)}`,
    'regions:',
    ...r.byRegion.map(
      (g) =>
        `  ${g.region}: ${g.subscribers} subscriber(s), lost ${g.lost}, duplicates ${g.duplicates}, order ${g.order}, region order ${g.regionOrder}, excused ${g.excused}; in-region p50 ${formatMs(g.latency.inRegion.outsideFaults.p50Ms)}`,
    ),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

export interface ScenarioFiles {
  dir: string;
  markdown: string;
  json: string;
  svg: string;
}

const FILE_MARKDOWN = 'summary.md';
const FILE_JSON = 'check.json';
const FILE_SVG = 'timeline.svg';

/** Rows of the per-channel table shown in a scenario summary (those with findings first). */
const MAX_CHANNEL_ROWS = 40;

// ---------------------------------------------------------------------------------------
// Markdown

function cell(s: string | number): string {
  return String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: (string | number)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

function stats(s: LatencyStats): [string, string, string] {
  return [formatMs(s.p50Ms), formatMs(s.p99Ms), String(s.count)];
}

function availabilityList(list: Availability[]): string {
  return list.map((a) => `${a.region} ${formatShare(a)}`).join(', ') || '–';
}

export interface ScenarioText {
  /** One paragraph saying what the scenario does and what should happen. */
  description?: string;
}

/** The markdown summary of one scenario; links are relative to its own folder. */
export function renderScenarioMarkdown(name: string, r: Report, text: ScenarioText = {}): string {
  const t = r.totals;
  const v = r.violations;
  const out: string[] = [`# Chaos scenario ${name}: ${r.verdict}`, ''];
  if (text.description) out.push(text.description, '');
  out.push(
    `Record: ${t.events} events over ${((r.span.end - r.span.start) / 1000).toFixed(1)} s; ${t.channels} channel(s), ${t.regions} region(s), ${t.subscribers} subscriber(s).`,
    `Publishes ${t.publishes.sent} (acked ${t.publishes.acked}, nacked ${t.publishes.nacked}, unknown ${t.publishes.unknown}); deliveries ${t.deliveries}; continuity signals ${t.continuity}.`,
    `Expected (subscriber, acknowledged message) pairs ${t.expected}, of which excused by a signalled gap ${t.excused}.`,
    '',
    `![timeline](${FILE_SVG})`,
    '',
    `Files: [${FILE_JSON}](${FILE_JSON}) (the checker's full report), [${FILE_SVG}](${FILE_SVG}).`,
    '',
    '## Violations',
    '',
    ...table(
      ['check', 'count'],
      [
        ['lost (acknowledged, never delivered, no gap signalled)', v.lost],
        ['duplicates', v.duplicates],
        ['per-publisher order', v.order],
        ['region order (subscriber pairs that disagree)', v.regionOrder],
        ...(r.presence ? [['presence views not showing exactly the members at the end', r.presence.mismatched] as [string, number]] : []),
        ...(r.occupancy ? [['occupancy views not showing the clients attached at the end', r.occupancy.mismatched] as [string, number]] : []),
        ...(r.lifecycle ? [['lifecycle: a channel event repeated or missing, a history unread', r.lifecycle.repeated + r.lifecycle.missing + r.lifecycle.unread] as [string, number]] : []),
        ...(r.history ? [['stored history: missing, duplicated, out of order or unreadable', historyOff(r)] as [string, number]] : []),
        ...(r.serials ? [['serials: a message under two, one naming two, or none', serialsOff(r.serials)] as [string, number]] : []),
        ...(r.versions ? [['versions: a region\'s message other than the others\', or missing, repeating or misordering an append; or summing up the annotations otherwise, or counting short or over', versionsOff(r.versions)] as [string, number]] : []),
        ...(r.tokens ? [['tokens: fresh requests refused as replays, replays taken outside faults', tokensOff(r)] as [string, number]] : []),
        ...(r.revocations ? [['revocations: nodes still taking a revoked token at the end', r.revocations.unseenCount] as [string, number]] : []),
      ],
    ),
    '',
  );
  if (r.examples.length > 0) out.push('Examples:', '', ...r.examples.map((x) => `- ${describeViolation(x, r.span.start)}`), '');
  if (r.presence) out.push(...presenceLines(r, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');
  if (r.occupancy) out.push(...occupancyLines(r, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');
  if (r.lifecycle) out.push(...lifecycleLines(r.lifecycle, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');
  if (r.deltas) out.push(...deltaLines(r), '');
  if (r.filters) out.push(...filterLines(r), '');
  if (r.serials) out.push(...serialLines(r.serials), '');
  if (r.versions) out.push(...versionLines(r.versions), '');
  if (r.history) out.push(...historyLines(r, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');
  if (r.tokens) out.push(...tokenLines(r, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');
  if (r.revocations) out.push(...revocationLines(r, '- ').map((l, i) => (i === 0 ? l.slice(2) : l)), '');

  out.push('## Faults', '');
  if (r.faults.length === 0) out.push('No fault windows in this run.', '');
  else {
    out.push(
      ...table(
        ['fault', 'window', 'convergence after heal', 'availability (ACKed share of publishes sent in the window)'],
        r.faults.map((f) => [
          faultLabel(f),
          `${formatOffset(f.start, r.span.start)} → ${formatOffset(f.end, r.span.start)}${f.open ? ' (no end)' : ''}`,
          formatConvergence(f),
          availabilityList(f.availability),
        ]),
      ),
      '',
    );
  }
  out.push(`Availability outside fault windows: ${availabilityList(r.availability.outsideFaults)}.`, '');

  const l = r.latency;
  out.push(
    '## Latency, publish → deliver',
    '',
    ...table(
      ['path', 'outside faults p50', 'p99', 'n', 'inside faults p50', 'p99', 'n'],
      [
        ['in-region', ...stats(l.inRegion.outsideFaults), ...stats(l.inRegion.insideFaults)],
        ['cross-region', ...stats(l.crossRegion.outsideFaults), ...stats(l.crossRegion.insideFaults)],
        ...r.byRegion.flatMap((g) => [
          [`into ${g.region}, in-region`, ...stats(g.latency.inRegion.outsideFaults), ...stats(g.latency.inRegion.insideFaults)],
          [`into ${g.region}, cross-region`, ...stats(g.latency.crossRegion.outsideFaults), ...stats(g.latency.crossRegion.insideFaults)],
        ]),
      ],
    ),
    '',
    'A delivery is inside faults when the interval from its publish to its delivery overlaps a fault window.',
    '',
    '## Per region',
    '',
    ...table(
      ['region', 'subscribers', 'publishes (acked)', 'expected', 'excused', 'lost', 'duplicates', 'order', 'region order'],
      r.byRegion.map((g) => [g.region, g.subscribers, `${g.publishes.sent} (${g.publishes.acked})`, g.expected, g.excused, g.lost, g.duplicates, g.order, g.regionOrder]),
    ),
    '',
  );

  const rows = [...r.byChannel].sort((a, b) => findings(b) - findings(a));
  out.push(
    '## Per channel and region',
    '',
    ...table(
      ['channel', 'region', 'subscribers', 'expected', 'excused', 'lost', 'duplicates', 'order', 'region order'],
      rows.slice(0, MAX_CHANNEL_ROWS).map((c) => [c.channel, c.region, c.subscribers, c.expected, c.excused, c.lost, c.duplicates, c.order, c.regionOrder]),
    ),
    '',
  );
  if (rows.length > MAX_CHANNEL_ROWS) out.push(`(${rows.length - MAX_CHANNEL_ROWS} more rows in ${FILE_JSON})`, '');

  const a = r.anomalies;
  out.push(
    '## Anomalies (not violations)',
    '',
    `Delivered but NACKed: ${a.deliveredButNacked} (a NACK on timeout may still be delivered). Delivered but never published: ${a.deliveredButNeverPublished}.`,
    '',
    ...a.examples.map((x) => `- ${describeAnomaly(x)}`),
  );
  if (a.examples.length > 0) out.push('');
  if (r.notes.length > 0) out.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

function findings(c: { lost: number; duplicates: number; order: number; regionOrder: number; excused: number }): number {
  return (c.lost + c.duplicates + c.order + c.regionOrder) * 2 + (c.excused > 0 ? 1 : 0);
}

/** Worst convergence over a run's faults: the longest, or never. */
export function worstConvergence(faults: FaultFigures[]): string {
  if (faults.length === 0) return '–';
  const never = faults.filter((f) => f.convergenceMs === null);
  if (never.length > 0) return `never (${never.length}/${faults.length} faults)`;
  return formatMs(Math.max(...faults.map((f) => f.convergenceMs as number)));
}

/** Lowest availability of any region in any fault window. */
export function worstAvailability(faults: FaultFigures[]): string {
  let worst: Availability | null = null;
  for (const f of faults) {
    for (const a of f.availability) if (a.share !== null && (worst === null || a.share < (worst.share as number))) worst = a;
  }
  return worst ? `${formatShare(worst)} in ${worst.region}` : '–';
}

export interface CombinedEntry {
  scenario: string;
  report: Report;
  files: ScenarioFiles;
  description?: string;
}

function link(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}

/** The combined REPORT.md for several scenarios; links are relative to `reportDir`. */
export function renderCombinedReport(entries: CombinedEntry[], reportDir: string, title = 'Chaos results'): string {
  const passed = entries.filter((e) => e.report.verdict === 'PASS').length;
  const p = (s: LatencyStats) => (s.count === 0 ? '–' : `${formatMs(s.p50Ms)} / ${formatMs(s.p99Ms)}`);
  const out = [
    `# ${title}`,
    '',
    `${passed} of ${entries.length} scenario(s) passed.`,
    '',
    ...table(
      ['scenario', 'verdict', 'lost', 'dup', 'order', 'region order', 'presence (occupancy) views off', 'history off', 'tokens off (replays taken)', 'convergence (worst)', 'availability in faults (worst)', 'in-region p50/p99 outside faults', 'inside faults', 'files'],
      entries.map((e) => {
        const r = e.report;
        const v = r.violations;
        const f = e.files;
        return [
          e.scenario,
          r.verdict === 'PASS' ? 'PASS' : '**FAIL**',
          v.lost,
          v.duplicates,
          v.order,
          v.regionOrder,
          (r.presence ? `${r.presence.mismatched} of ${r.presence.views}` : '–') + (r.occupancy ? `; occupancy ${r.occupancy.mismatched} of ${r.occupancy.views}` : ''),
          (r.history ? `${historyOff(r)} (${r.history.expected} expected)` : '–') + (r.serials ? `; serials off ${serialsOff(r.serials)} of ${r.serials.messages}` : '') + (r.lifecycle ? `; lifecycle off ${r.lifecycle.repeated + r.lifecycle.missing + r.lifecycle.unread} of ${r.lifecycle.events}` : ''),
          (r.tokens ? `${tokensOff(r)} (${r.tokens.replays.taken} of ${r.tokens.requests.issued})` : '–') + (r.revocations ? `; revocations unseen ${r.revocations.unseenCount} of ${r.revocations.checks}` : ''),
          worstConvergence(r.faults),
          worstAvailability(r.faults),
          p(r.latency.inRegion.outsideFaults),
          p(r.latency.inRegion.insideFaults),
          `[summary](${link(reportDir, f.markdown)}) · [json](${link(reportDir, f.json)}) · [svg](${link(reportDir, f.svg)})`,
        ];
      }),
    ),
    '',
  ];
  const described = entries.filter((e) => e.description);
  if (described.length > 0) out.push('## Scenarios', '', ...described.map((e) => `- **${e.scenario}**: ${e.description}`), '');
  out.push(
    'Lost: acknowledged messages a continuously attached subscriber never received without being told of a gap. Convergence: from the end of a fault until every expected message published before it had arrived. Availability: share of the publishes sent in a fault window that were ACKed, for the region that did worst.',
  );
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// SVG timeline

const SVG_WIDTH = 960;
const MARGIN_LEFT = 70;
const MARGIN_RIGHT = 120;
const TOP = 70;
const PANEL_HEIGHT = 170;
const PANEL_GAP = 60;
const SVG_HEIGHT = TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 50;
const COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f'];
const FAULT_FILL = '#d62728';
const LABEL_ROWS = 3;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A round step at or above `v`: 1, 2 or 5 times a power of ten. */
function niceStep(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Axis {
  ticks: number[];
  /** 0 at the bottom of the panel, 1 at the top. */
  frac: (v: number) => number;
}

/** Linear from 0 to a round maximum, with 2 to 5 round ticks. */
function linearAxis(max: number): Axis {
  const step = niceStep(max / 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { ticks, frac: (v) => Math.max(0, v) / top };
}

/**
 * Logarithmic from 1 to a power of ten (latency: a 5 ms baseline and a 10 s heal both
 * stay readable); values under 1 sit on the bottom line.
 */
function logAxis(max: number): Axis {
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(max, 10))));
  const ticks = Array.from({ length: decades + 1 }, (_, i) => 10 ** i);
  return { ticks, frac: (v) => Math.log10(Math.max(1, v)) / decades };
}

const X_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

/**
 * The timeline of one run: deliveries per second per region (top) and the p50
 * publish→deliver latency per second per region (bottom), with every fault window shaded
 * across both panels and labelled with its action and target.
 */
export function renderTimelineSvg(r: Report, title = 'timeline'): string {
  const tl = r.timeline;
  const spanS = Math.max(1, (tl.buckets * tl.bucketMs) / 1000);
  const plotW = SVG_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
  const x = (s: number): number => MARGIN_LEFT + (Math.min(Math.max(s, 0), spanS) / spanS) * plotW;
  const xAt = (t: number): number => x((t - tl.start) / 1000);
  const bucketX = (i: number): number => x(((i + 0.5) * tl.bucketMs) / 1000);
  const panels = [
    { top: TOP, label: 'deliveries / s', values: tl.series.map((s) => s.deliveriesPerS as (number | null)[]), axis: linearAxis },
    { top: TOP + PANEL_HEIGHT + PANEL_GAP, label: 'p50 latency (ms, log scale)', values: tl.series.map((s) => s.p50Ms), axis: logAxis },
  ];
  const bottom = (panels[1]?.top ?? TOP) + PANEL_HEIGHT;
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_WIDTH}" height="${SVG_HEIGHT}" viewBox="0 0 ${SVG_WIDTH} ${SVG_HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${SVG_WIDTH}" height="${SVG_HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN_LEFT}" y="18" font-size="14" font-weight="bold">${escapeXml(`${title}: ${r.verdict}`)}</text>`,
  ];

  // Fault windows first, so that lines are drawn over them.
  o.push('<g class="faults">');
  r.faults.forEach((f, i) => {
    const x0 = xAt(f.start);
    const w = Math.max(1, xAt(f.end) - x0);
    const label = `${faultLabel(f)}${f.open ? ' (no end)' : ''}`;
    o.push(
      `<rect class="fault" x="${fmt(x0)}" y="${TOP}" width="${fmt(w)}" height="${bottom - TOP}" fill="${FAULT_FILL}" fill-opacity="0.12" stroke="${FAULT_FILL}" stroke-opacity="0.4"><title>${escapeXml(
        `${label}: ${formatOffset(f.start, r.span.start)} → ${formatOffset(f.end, r.span.start)}, convergence ${formatConvergence(f)}`,
      )}</title></rect>`,
      `<text class="fault-label" x="${fmt(x0 + 2)}" y="${32 + (i % LABEL_ROWS) * 12}" fill="${FAULT_FILL}">${escapeXml(label)}</text>`,
    );
  });
  o.push('</g>');

  const step = X_STEPS_S.find((s) => spanS / s <= 10) ?? X_STEPS_S[X_STEPS_S.length - 1]!;
  for (const p of panels) {
    let max = 0;
    for (const vs of p.values) for (const v of vs) if (v !== null && v > max) max = v;
    const axis = p.axis(max);
    const y = (v: number): number => p.top + PANEL_HEIGHT - axis.frac(v) * PANEL_HEIGHT;
    o.push(`<g class="panel">`, `<text x="${MARGIN_LEFT}" y="${p.top - 6}" font-weight="bold">${escapeXml(p.label)}</text>`);
    for (const v of axis.ticks) {
      o.push(
        `<line x1="${MARGIN_LEFT}" y1="${fmt(y(v))}" x2="${MARGIN_LEFT + plotW}" y2="${fmt(y(v))}" stroke="#dddddd"/>`,
        `<text x="${MARGIN_LEFT - 6}" y="${fmt(y(v) + 4)}" text-anchor="end">${fmt(v)}</text>`,
      );
    }
    for (let s = 0; s <= spanS + 1e-9; s += step) {
      o.push(
        `<line x1="${fmt(x(s))}" y1="${p.top + PANEL_HEIGHT}" x2="${fmt(x(s))}" y2="${p.top + PANEL_HEIGHT + 4}" stroke="#333333"/>`,
        `<text x="${fmt(x(s))}" y="${p.top + PANEL_HEIGHT + 16}" text-anchor="middle">${s} s</text>`,
      );
    }
    o.push(
      `<rect x="${MARGIN_LEFT}" y="${p.top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="#333333"/>`,
    );
    p.values.forEach((vs, si) => {
      let d = '';
      let pen = false;
      vs.forEach((v, i) => {
        if (v === null) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${fmt(bucketX(i))} ${fmt(y(v))} `;
        pen = true;
      });
      if (d) o.push(`<path d="${d.trim()}" fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="1.5"/>`);
    });
    if (p.values.length === 0) o.push(`<text x="${MARGIN_LEFT + plotW / 2}" y="${p.top + PANEL_HEIGHT / 2}" text-anchor="middle" fill="#888888">no deliveries</text>`);
    o.push('</g>');
  }
  o.push(`<text x="${MARGIN_LEFT + plotW / 2}" y="${bottom + 36}" text-anchor="middle">seconds since the start of the record</text>`);

  o.push('<g class="legend">');
  tl.series.forEach((s, i) => {
    const ly = TOP + 10 + i * 16;
    const lx = SVG_WIDTH - MARGIN_RIGHT + 12;
    o.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`,
      `<text x="${lx + 24}" y="${ly + 4}">${escapeXml(s.region)}</text>`,
    );
  });
  const fy = TOP + 10 + tl.series.length * 16;
  o.push(
    `<rect x="${SVG_WIDTH - MARGIN_RIGHT + 12}" y="${fy - 6}" width="18" height="12" fill="${FAULT_FILL}" fill-opacity="0.12" stroke="${FAULT_FILL}" stroke-opacity="0.4"/>`,
    `<text x="${SVG_WIDTH - MARGIN_RIGHT + 36}" y="${fy + 4}">fault</text>`,
    '</g>',
    '</svg>',
  );
  return `${o.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// Files

/** Writes DIR/NAME/{summary.md, check.json, timeline.svg}. */
export async function writeScenarioReport(dir: string, name: string, report: Report, text: ScenarioText = {}): Promise<ScenarioFiles> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  const files: ScenarioFiles = { dir: folder, markdown: join(folder, FILE_MARKDOWN), json: join(folder, FILE_JSON), svg: join(folder, FILE_SVG) };
  await Promise.all([
    writeFile(files.markdown, renderScenarioMarkdown(name, report, text)),
    writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`),
    writeFile(files.svg, renderTimelineSvg(report, name)),
  ]);
  return files;
}

/** Writes the combined report (e.g. `chaos/results/REPORT.md`) with links relative to it. */
export async function writeCombinedReport(path: string, entries: CombinedEntry[], title?: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderCombinedReport(entries, dirname(path), title));
}

/** The subscribers with a subscription filter: what they were given, and any message their filter holds back among it. */
function filterLines(r: Report): string[] {
  const f = r.filters;
  if (!f) return [];
  return [
    `filters: ${f.subscribers} subscriber(s) with a subscription filter were given ${f.delivered} messages, ${f.leaked} of them held back by their filter`,
    ...f.examples.map((x) => `  FAIL: leaked through a filter: ${x}`),
  ];
}

/** The subscribers in delta mode: what they decoded, and how often they attached again for a delta they could not apply. */
function deltaLines(r: Report): string[] {
  const d = r.deltas;
  if (!d) return [];
  return [
    `deltas: ${d.subscribers} subscriber(s) in delta mode were given ${d.received} messages and decoded ${d.decoded} deltas; ${d.reattached} attached again after a delta they could not apply (40018)`,
    ...(d.starved.length ? [`  FAIL: sent most messages whole, not as deltas: ${d.starved.join(', ')}`] : []),
  ];
}
