/**
 * The chaos check of message versions (workload-versions.ts): each message the version
 * probes appended to, as each region's `getMessage` shows it after the drain (`standing`
 * lines), against the appends made to it (`append` lines). Violations:
 * - diverged: a region shows another message than the others;
 * - missing: an acknowledged append is not in it;
 * - duplicated: a fragment is in it twice (unless the append was unanswered when its
 *   prober's SDK connected afresh, a `connection` line: the SDK then sends it again under
 *   a new id, which makes a second version: `resent`);
 * - misordered: two acknowledged appends in it in another order than their version
 *   serials' (a resent fragment is left out of this: its ACK is its second copy's);
 * - foreign: it is not the base and fragments that were sent;
 * - unreadable: a region's could not be read;
 * - unchecked: no region's message could be compared, or no append was acknowledged.
 * The probes' annotations (README "Annotations"), a count per region of its probe's
 * annotations of each message: every region's summary of them must be the same
 * (`summaries diverged`), each region's count at least its acknowledged annotations
 * (`counted short`) and at most those it sent (`counted over`: one counted twice), each
 * under the probes' clientId (`foreign`), and that client's votes under one name at most
 * (`split`); none acknowledged where some were sent is `unchecked`.
 * Where the probe channel's continuity was lost in a region (a `continuity` line: its
 * state may have been lost, both copies), that region is left out of the comparison of
 * the messages begun before the signal, and the appends and annotations made through it
 * before the signal are not expected (they may have been lost with it).
 */
import { PROBE_ANNOTATION_TYPE, PROBE_CLIENT_ID, VERSIONS_BASE, VERSIONS_CHANNEL } from './workload-versions.js';
import type { AppendEvent, RecordEvent, StandingEvent } from './record.js';

export interface VersionFigures {
  appends: { sent: number; acked: number; nacked: number; unknown: number };
  /** Messages compared (read in at least one region not left out). */
  messages: number;
  /** Regions whose messages were compared, and those left out of some (continuity lost there). */
  regions: string[];
  excused: string[];
  /** Fragments in the messages as the first region compared shows them. */
  fragments: number;
  diverged: number;
  missing: number;
  duplicated: number;
  resent: number;
  misordered: number;
  foreign: number;
  unreadable: number;
  unchecked: number;
  /** The probes' annotations, and what their summaries showed. */
  annotations: { sent: number; acked: number; nacked: number; unknown: number; counted: number; diverged: number; short: number; over: number; split: number };
  examples: string[];
}

/** Whether an event is the version probes' (the checker hands these to VersionCheck). */
export function isVersionProbeEvent(e: RecordEvent): boolean {
  return e.type === 'append' || e.type === 'standing' || (e.type === 'continuity' && e.channel === VERSIONS_CHANNEL) || (e.type === 'connection' && e.client.startsWith('versions-'));
}

export class VersionCheck {
  private readonly appends: AppendEvent[] = [];
  private readonly annotations: AppendEvent[] = [];
  private readonly standings: StandingEvent[] = [];
  /** Per region, the time of its last continuity signal on the probe channel, and of each fresh connection. */
  private readonly lostAt = new Map<string, number>();
  private readonly freshAt = new Map<string, number[]>();

  /** A version probe's event (isVersionProbeEvent); others are not handed here. */
  add(e: RecordEvent): void {
    if (e.type === 'append') (e.annotation ? this.annotations : this.appends).push(e);
    else if (e.type === 'standing') this.standings.push(e);
    else if (e.type === 'continuity') this.lostAt.set(e.region, Math.max(this.lostAt.get(e.region) ?? 0, e.t));
    else if (e.type === 'connection') this.freshAt.set(e.region, [...(this.freshAt.get(e.region) ?? []), e.t]);
  }

  /** Whether an append was unanswered when its prober's SDK connected afresh (it may have been sent again). */
  private resent(a: AppendEvent | undefined): boolean {
    return !!a && (this.freshAt.get(a.region) ?? []).some((t) => a.t <= t && t <= (a.doneAt ?? Infinity));
  }

  /** The figures; null when the workload had no version probes. */
  figures(maxExamples: number): VersionFigures | null {
    if (this.appends.length === 0 && this.standings.length === 0) return null;
    const f: VersionFigures = {
      appends: { sent: this.appends.length, acked: 0, nacked: 0, unknown: 0 },
      messages: 0,
      regions: [],
      excused: [...this.lostAt.keys()].sort(),
      fragments: 0,
      diverged: 0,
      missing: 0,
      duplicated: 0,
      resent: 0,
      misordered: 0,
      foreign: 0,
      unreadable: 0,
      unchecked: 0,
      annotations: { sent: this.annotations.length, acked: 0, nacked: 0, unknown: 0, counted: 0, diverged: 0, short: 0, over: 0, split: 0 },
      examples: [],
    };
    const example = (x: string) => {
      if (f.examples.length < maxExamples) f.examples.push(x);
    };
    const sent = new Map<string, AppendEvent>();
    for (const a of this.appends) {
      if (a.outcome === 'ack') f.appends.acked++;
      else if (a.outcome === 'nack') f.appends.nacked++;
      else f.appends.unknown++;
      sent.set(a.fragment, a);
    }
    const regions = new Set<string>();
    const bySerial = new Map<string, StandingEvent[]>();
    for (const s of this.standings) bySerial.set(s.serial, [...(bySerial.get(s.serial) ?? []), s]);
    for (const [serial, reads] of bySerial) {
      // Left out: a region that lost continuity after the message was begun (its first append, or its read if none).
      const begun = Math.min(...this.appends.filter((a) => a.serial === serial).map((a) => a.t), Infinity);
      const lost = (region: string) => (this.lostAt.get(region) ?? -Infinity) >= begun;
      const expected = this.appends
        .filter((a) => a.serial === serial && a.outcome === 'ack' && !((this.lostAt.get(a.region) ?? -Infinity) >= a.t))
        .sort((a, b) => ((a.versionSerial ?? '') < (b.versionSerial ?? '') ? -1 : 1));
      let reference: { region: string; data: string } | null = null;
      for (const s of [...reads].sort((a, b) => (a.region < b.region ? -1 : 1))) {
        if (lost(s.region)) continue;
        regions.add(s.region);
        if (s.data === null) {
          f.unreadable++;
          example(`${s.region}: message ${serial} could not be read (${s.error ?? 'no reason'})`);
          continue;
        }
        const [base, ...rest] = s.data.split('|');
        const fragments = rest.map((x) => `|${x}`);
        if (reference === null) {
          reference = { region: s.region, data: s.data };
          f.messages++;
          f.fragments += fragments.length;
        } else if (s.data !== reference.data) {
          f.diverged++;
          example(`${s.region} shows ${clip(s.data)}, ${reference.region} ${clip(reference.data)} (message ${serial})`);
        }
        if (base !== VERSIONS_BASE || fragments.some((x) => sent.get(x)?.serial !== serial)) {
          f.foreign++;
          example(`${s.region}: message ${serial} is not its base and fragments sent to it: ${clip(s.data)}`);
        }
        const at = new Map<string, number>();
        const twice = new Set<string>();
        fragments.forEach((x, i) => {
          if (!at.has(x)) return void at.set(x, i);
          twice.add(x);
          if (this.resent(sent.get(x))) f.resent++;
          else {
            f.duplicated++;
            example(`${s.region}: ${x} is in message ${serial} twice`);
          }
        });
        let before = -1;
        for (const a of expected) {
          const i = at.get(a.fragment);
          if (i === undefined) {
            f.missing++;
            example(`${s.region}: ${a.fragment} (acknowledged, ${a.versionSerial}) is not in message ${serial}`);
            continue;
          }
          if (twice.has(a.fragment)) continue;
          if (i < before) {
            f.misordered++;
            example(`${s.region}: ${a.fragment} (${a.versionSerial}) comes before an append acknowledged with a lower serial`);
          }
          before = Math.max(before, i);
        }
      }
    }
    this.summaries(f, bySerial, example);
    f.regions = [...regions].sort();
    if (f.messages === 0 || f.appends.acked === 0) {
      f.unchecked++;
      example(f.messages === 0 ? 'no region\'s message could be compared' : 'no append was acknowledged');
    }
    return f;
  }

  /**
   * The probes' annotations of each message against each region's summary of them (the
   * reads of `bySerial`, regions that lost continuity since the message began left out).
   */
  private summaries(f: VersionFigures, bySerial: Map<string, StandingEvent[]>, example: (x: string) => void): void {
    const a = f.annotations;
    for (const x of this.annotations) {
      if (x.outcome === 'ack') a.acked++;
      else if (x.outcome === 'nack') a.nacked++;
      else a.unknown++;
    }
    if (this.annotations.length === 0) return;
    for (const [serial, reads] of bySerial) {
      const mine = this.annotations.filter((x) => x.serial === serial);
      const begun = Math.min(...mine.map((x) => x.t), Infinity);
      let reference: { region: string; text: string } | null = null;
      for (const s of [...reads].sort((x, y) => (x.region < y.region ? -1 : 1))) {
        if ((this.lostAt.get(s.region) ?? -Infinity) >= begun || s.data === null) continue;
        const text = canonical(s.summary);
        if (reference === null) {
          reference = { region: s.region, text };
          a.counted++;
        } else if (text !== reference.text) {
          a.diverged++;
          example(`${s.region} sums up the annotations of message ${serial} as ${clip(text)}, ${reference.region} as ${clip(reference.text)}`);
        }
        const parsed = JSON.parse(text) as { counts?: Record<string, { total?: number; clientIds?: Record<string, number> }>; votes?: Record<string, { total?: number; clientIds?: string[] }> };
        const byName = parsed.counts ?? {};
        const votes = Object.entries(parsed.votes ?? {});
        if (votes.length > 1 || votes.some(([, v]) => v.total !== 1 || v.clientIds?.[0] !== PROBE_CLIENT_ID)) {
          a.split++;
          example(`${s.region}: the probes' client stands under ${votes.map(([n, v]) => `${n} (${v.total})`).join(', ')} of message ${serial}'s votes (unique.v1: one name at most)`);
        }
        for (const region of new Set(mine.map((x) => x.region))) {
          const from = mine.filter((x) => x.region === region);
          const acked = from.filter((x) => x.outcome === 'ack' && !((this.lostAt.get(region) ?? -Infinity) >= x.t)).length;
          const got = byName[region]?.total ?? 0;
          if (got < acked) {
            a.short++;
            example(`${s.region}: message ${serial} counts ${got} of ${region}'s ${PROBE_ANNOTATION_TYPE} annotations, ${acked} acknowledged`);
          } else if (got > from.length) {
            a.over++;
            example(`${s.region}: message ${serial} counts ${got} of ${region}'s annotations, ${from.length} sent`);
          }
          const clients = Object.keys(byName[region]?.clientIds ?? {});
          if (got > 0 && (clients.length !== 1 || clients[0] !== PROBE_CLIENT_ID)) {
            f.foreign++;
            example(`${s.region}: message ${serial}'s count under ${region} is by ${clients.join(', ') || 'no client'}, not its probe`);
          }
        }
      }
    }
    if (a.acked === 0) {
      f.unchecked++;
      example('no annotation was acknowledged');
    }
  }
}

/** A summary's JSON with its keys in order (regions' summaries compared as values). */
function canonical(text: string | undefined): string {
  const sortKeys = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) : v;
  try {
    return JSON.stringify(sortKeys(JSON.parse(text ?? '{}')));
  } catch {
    return text ?? '';
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 40)}…${s.slice(-40)} (${s.length} chars)` : s;
}

/** Whether the version check fails the run. */
export function versionsFailed(f: VersionFigures | null | undefined): boolean {
  return !!f && versionsOff(f) > 0;
}

/** What the run line counts as off. */
export function versionsOff(f: VersionFigures): number {
  return f.diverged + f.missing + f.duplicated + f.misordered + f.foreign + f.unreadable + f.unchecked + f.annotations.diverged + f.annotations.short + f.annotations.over + f.annotations.split;
}

/** The report's lines: each probe message the same in every region, every acknowledged append in it once, in its serial's order. */
export function versionLines(f: VersionFigures): string[] {
  const a = f.appends;
  return [
    `versions: ${a.sent} appends (${a.acked} acknowledged, ${a.nacked} refused, ${a.unknown} unanswered); ${f.messages} message(s) compared in ${f.regions.join(', ') || 'no region'}, with ${f.fragments} fragments` +
      (f.excused.length ? ` (continuity lost in ${f.excused.join(', ')}: left out of what was begun before)` : '') +
      `; diverged ${f.diverged}, missing ${f.missing}, twice ${f.duplicated}${f.resent ? ` (and ${f.resent} resent)` : ''}, out of order ${f.misordered}, foreign ${f.foreign}, unreadable ${f.unreadable}, unchecked ${f.unchecked}`,
    ...(f.annotations.sent
      ? [
          `annotations: ${f.annotations.sent} sent (${f.annotations.acked} acknowledged, ${f.annotations.nacked} refused, ${f.annotations.unknown} unanswered); ${f.annotations.counted} message(s) summed up; ` +
            `summaries diverged ${f.annotations.diverged}, counted short ${f.annotations.short}, counted over ${f.annotations.over}, votes split ${f.annotations.split}`,
        ]
      : []),
    ...f.examples.map((x) => `  FAIL: ${x}`),
  ];
}
