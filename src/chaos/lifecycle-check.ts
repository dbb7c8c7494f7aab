/**
 * The chaos check of channel lifecycle events ([meta]channel.lifecycle, src/channel/lifecycle.ts).
 *
 * The workload keeps a client on the metachannel in every region for the whole run (so
 * every region's events reach every region), and at the end, its clients still attached,
 * reads the metachannel's history in each region (`LifecycleRecordEvent`). For each of the
 * workload's channels, in each region's history:
 * - a region's events alternate (active, inactive, active…), and so do the deployment's
 *   (opened, closed…): the same twice in a row is a **repeat** (a start or an end told
 *   again, which a master that took the channel over must not do);
 * - where a region has clients attached at the end, its last event is `region.active`,
 *   and the channel's last `channel.opened`: else one is **missing** (a start never told,
 *   or an end told while clients stayed).
 * A repeat in a region where two nodes were out at once (killed, paused or cut off: a channel's master and replica
 * may both have gone, and with them what was announced: beyond the one-node guarantee) is
 * counted apart (`beyond`), not failed; so is anything off in the history of such a region
 * (the metachannel's copies may have gone too).
 */
import type { FaultEvent } from './record.js';

/** One region's history of the metachannel, as the check reads it. */
export interface LifecycleRecordEvent {
  type: 'lifecycle';
  t: number;
  /** The region whose history this is. */
  region: string;
  /** Its events of the workload's channels, oldest first. `region`: a region's event's region (none: the deployment's). */
  events: { id: string; name: string; channel: string; region?: string }[];
  /** Each workload channel: the regions with workload clients attached to it at the end. */
  attached: Record<string, string[]>;
  /** Each channel's home region (the one that tells its opening and closing). */
  home: Record<string, string>;
  /** Each region's nodes (whose kills make a repeat beyond the guarantee). */
  nodes: Record<string, string[]>;
  /** Why the history could not be read (after retries). */
  error?: string;
}

export interface LifecycleFigures {
  /** Histories read, and events in them. */
  views: number;
  events: number;
  repeated: number;
  missing: number;
  /** Repeats and missing events where two nodes of the region were out at once. */
  beyond: number;
  unread: number;
  examples: string[];
}

const ALTERNATE: Record<string, string> = {
  'channel.region.active': 'channel.region.inactive',
  'channel.region.inactive': 'channel.region.active',
  'channel.opened': 'channel.closed',
  'channel.closed': 'channel.opened',
};

/**
 * What takes a node out with its copies for the check. A `stop` counts: it hands over what
 * it masters, but its replica copies go with it, and a master paused meanwhile then has
 * none left (chaos seed 5203: the master of two channels paused while their replica
 * stopped; both restarted in a new epoch and their regions' activity was told again).
 */
const DOWN = new Set(['kill', 'pause', 'isolate', 'stop']);

/** Regions where two or more of their nodes were out (killed, paused or cut off whole) and not yet back at the same time. */
export function regionsLosingTwo(faults: readonly FaultEvent[], nodes: Record<string, string[]>): Set<string> {
  const regionOf = new Map(Object.entries(nodes).flatMap(([r, ns]) => ns.map((n) => [n, r] as const)));
  const down = new Map<string, Set<string>>();
  const out = new Set<string>();
  for (const f of [...faults].sort((a, b) => a.t - b.t)) {
    if (!DOWN.has(f.action)) continue;
    const region = regionOf.get(f.target);
    if (!region) continue;
    let d = down.get(region);
    if (!d) down.set(region, (d = new Set()));
    if (f.phase === 'start') d.add(f.target);
    else d.delete(f.target);
    if (d.size >= 2) out.add(region);
  }
  return out;
}

/** The check's figures (null: no history of the metachannel was read). */
export function lifecycleFigures(views: readonly LifecycleRecordEvent[], faults: readonly FaultEvent[], maxExamples: number): LifecycleFigures | null {
  if (views.length === 0) return null;
  const f: LifecycleFigures = { views: views.length, events: 0, repeated: 0, missing: 0, beyond: 0, unread: 0, examples: [] };
  const example = (s: string) => {
    if (f.examples.length < maxExamples) f.examples.push(s);
  };
  for (const v of views) {
    if (v.error !== undefined) {
      f.unread++;
      example(`${v.region}'s history of the metachannel unread: ${v.error}`);
      continue;
    }
    f.events += v.events.length;
    const lost = regionsLosingTwo(faults, v.nodes);
    // A region that lost two nodes at once may have lost the metachannel's copies too: its whole view is beyond the guarantee.
    const viewLost = lost.has(v.region);
    for (const channel of Object.keys(v.attached)) {
      // Each region's sequence, and the deployment's (key '').
      const seqs = new Map<string, string[]>();
      for (const e of v.events) {
        if (e.channel !== channel) continue;
        const k = e.region ?? '';
        let s = seqs.get(k);
        if (!s) seqs.set(k, (s = []));
        s.push(e.name);
      }
      for (const [k, s] of seqs) {
        const whose = k === '' ? (v.home[channel] ?? '') : k;
        for (let i = 1; i < s.length; i++) {
          if (ALTERNATE[s[i - 1]!] === s[i]) continue;
          if (viewLost || lost.has(whose)) f.beyond++;
          else {
            f.repeated++;
            example(`${channel} in ${v.region}'s history: ${s[i]}${k ? ` of ${k}` : ''} twice in a row (${s.join(', ')})`);
          }
        }
      }
      const here = v.attached[channel]!;
      for (const r of here) {
        const last = seqs.get(r)?.at(-1);
        if (last !== 'channel.region.active') {
          if (viewLost || lost.has(r)) {
            f.beyond++;
            continue;
          }
          f.missing++;
          example(`${channel} in ${v.region}'s history: ${r} has clients attached, its last event is ${last ?? 'none'}`);
        }
      }
      const lastGlobal = seqs.get('')?.at(-1);
      if (here.length && lastGlobal !== 'channel.opened') {
        if (viewLost || lost.has(v.home[channel] ?? '')) {
          f.beyond++;
          continue;
        }
        f.missing++;
        example(`${channel} in ${v.region}'s history: attached in ${here.join(', ')}, the last of opened and closed is ${lastGlobal ?? 'none'}`);
      }
    }
  }
  return f;
}

export const lifecycleFailed = (f: LifecycleFigures | null | undefined): boolean => !!f && f.repeated + f.missing + f.unread > 0;

/** The check's lines (`prefix` before each). */
export function lifecycleLines(f: LifecycleFigures | null | undefined, prefix: string): string[] {
  if (!f) return [];
  const beyond = f.beyond ? `; ${f.beyond} off where two nodes of a region were out at once (beyond the guarantee), counted apart` : '';
  return [
    `${prefix}lifecycle: ${f.events} events in ${f.views} regions' histories of [meta]channel.lifecycle; repeated ${f.repeated}, missing ${f.missing}, unread ${f.unread}${beyond}`,
    ...f.examples.map((x) => `${prefix}  ${x}`),
  ];
}

/** Validates a record line of the check (record.ts). */
export function lifecycleRecordProblem(r: Record<string, unknown>): string | null {
  if (typeof r.region !== 'string') return 'lifecycle.region must be a string';
  if (!Array.isArray(r.events) || !r.events.every((e) => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).name === 'string' && typeof (e as Record<string, unknown>).channel === 'string')) {
    return 'lifecycle.events must be a list of {id, name, channel, region?}';
  }
  const lists = (o: unknown) => typeof o === 'object' && o !== null && Object.values(o).every((x) => Array.isArray(x) && x.every((y) => typeof y === 'string'));
  if (!lists(r.attached)) return 'lifecycle.attached must map channels to lists of regions';
  if (!lists(r.nodes)) return 'lifecycle.nodes must map regions to lists of nodes';
  if (typeof r.home !== 'object' || r.home === null) return 'lifecycle.home must map channels to regions';
  return null;
}
