/**
 * The chaos check of message versions (workload-versions.ts): the message the version
 * probes append to, as each region's `getMessage` shows it after the drain (`standing`
 * lines), against the appends made (`append` lines). Violations:
 * - diverged: a region shows another message than the others;
 * - missing: an acknowledged append is not in it;
 * - duplicated: a fragment is in it twice (unless its prober's SDK connected afresh, a
 *   `connection` line, and so sent its unanswered appends again under new ids: `resent`);
 * - misordered: two acknowledged appends in it in another order than their version serials';
 * - foreign: it is not the base and fragments that were sent;
 * - unreadable: a region's could not be read.
 * A region where the probe channel's continuity was lost (a `continuity` line: its state
 * may have been lost, both copies) is left out of the comparison, and the appends made
 * through it are not expected anywhere (they may have been lost with it).
 */
import { VERSIONS_BASE, VERSIONS_CHANNEL } from './workload-versions.js';
import type { AppendEvent, ConnectionEvent, ContinuityEvent, StandingEvent } from './record.js';

export interface VersionFigures {
  appends: { sent: number; acked: number; nacked: number; unknown: number };
  /** Regions whose message was compared, and those left out (continuity lost there). */
  regions: string[];
  excused: string[];
  /** Fragments in the message as the compared regions show it (the first of them). */
  fragments: number;
  diverged: number;
  missing: number;
  duplicated: number;
  resent: number;
  misordered: number;
  foreign: number;
  unreadable: number;
  examples: string[];
}

/** Whether an event is the version probes' (the checker hands these to VersionCheck). */
export function isVersionProbeEvent(e: { type: string; channel?: string; client?: string }): boolean {
  return e.type === 'append' || e.type === 'standing' || (e.type === 'continuity' && e.channel === VERSIONS_CHANNEL) || (e.type === 'connection' && (e.client ?? '').startsWith('versions-'));
}

export class VersionCheck {
  private readonly appends: AppendEvent[] = [];
  private readonly standings: StandingEvent[] = [];
  private readonly lostIn = new Set<string>();
  private readonly freshIn = new Set<string>();

  add(e: AppendEvent | StandingEvent | ContinuityEvent | ConnectionEvent): void {
    if (e.type === 'append') this.appends.push(e);
    else if (e.type === 'standing') this.standings.push(e);
    else if (e.type === 'continuity') this.lostIn.add(e.region);
    else this.freshIn.add(e.region);
  }

  /** The figures; null when the workload had no version probes. */
  figures(maxExamples: number): VersionFigures | null {
    if (this.appends.length === 0 && this.standings.length === 0) return null;
    const f: VersionFigures = {
      appends: { sent: this.appends.length, acked: 0, nacked: 0, unknown: 0 },
      regions: [],
      excused: [...this.lostIn].sort(),
      fragments: 0,
      diverged: 0,
      missing: 0,
      duplicated: 0,
      resent: 0,
      misordered: 0,
      foreign: 0,
      unreadable: 0,
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
    const expected = this.appends.filter((a) => a.outcome === 'ack' && !this.lostIn.has(a.region)).sort((a, b) => ((a.versionSerial ?? '') < (b.versionSerial ?? '') ? -1 : 1));
    let reference: string | null = null;
    for (const s of [...this.standings].sort((a, b) => (a.region < b.region ? -1 : 1))) {
      if (this.lostIn.has(s.region)) continue;
      f.regions.push(s.region);
      if (s.data === null) {
        f.unreadable++;
        example(`${s.region}: the message could not be read (${s.error ?? 'no reason'})`);
        continue;
      }
      if (reference === null) reference = s.data;
      else if (s.data !== reference) {
        f.diverged++;
        example(`${s.region} shows ${clip(s.data)}, ${f.regions[0]} ${clip(reference)}`);
      }
      const [base, ...rest] = s.data.split('|');
      const fragments = rest.map((x) => `|${x}`);
      if (reference === s.data) f.fragments = fragments.length;
      if (base !== VERSIONS_BASE || fragments.some((x) => !sent.has(x))) {
        f.foreign++;
        example(`${s.region}: not the base and fragments sent: ${clip(s.data)}`);
      }
      const at = new Map<string, number>();
      fragments.forEach((x, i) => {
        if (!at.has(x)) return void at.set(x, i);
        if (this.freshIn.has(sent.get(x)?.region ?? '')) f.resent++;
        else {
          f.duplicated++;
          example(`${s.region}: ${x} is in it twice`);
        }
      });
      let before = -1;
      for (const a of expected) {
        const i = at.get(a.fragment);
        if (i === undefined) {
          f.missing++;
          example(`${s.region}: ${a.fragment} (acknowledged, ${a.versionSerial}) is not in it`);
          continue;
        }
        if (i < before) {
          f.misordered++;
          example(`${s.region}: ${a.fragment} (${a.versionSerial}) comes before an append acknowledged with a lower serial`);
        }
        before = Math.max(before, i);
      }
    }
    return f;
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 40)}…${s.slice(-40)} (${s.length} chars)` : s;
}

/** What the run line counts as off. */
export function versionsOff(f: VersionFigures): number {
  return f.diverged + f.missing + f.duplicated + f.misordered + f.foreign + f.unreadable;
}
