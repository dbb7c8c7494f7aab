/**
 * Random chaos scenarios (`ably-ng chaos random`): from a seed, a workload and a timeline
 * of faults drawn at random, written as an ordinary scenario file, so that a failing seed
 * is repeated with `ably-ng chaos run` on that file (or the same seed).
 *
 * What is drawn stays inside what the guarantees cover (DESIGN.md): an acknowledged
 * message survives the loss of any one node, so at most one node of a region is faulted
 * at a time (killed, stopped, paused or isolated), only in regions of three nodes or more
 * (a region needs a majority), or two of its nodes lose the links between them while both
 * keep the others (a partial partition, undone by the first one's rejoin); the next node
 * fault there waits a while after the last
 * one ended, for the region to take the node back. Region links get their own faults
 * meanwhile, one at a time per pair of regions (a partition, one way or both, a flapping
 * link, latency with jitter, loss, a narrow link, or latency with loss), and clients come
 * and go: more subscribers attach, subscribers move to another region. Everything ends
 * before the last seconds of publishing; the run then heals whatever is left, as every
 * scenario run does. Two clients per region stay in every channel's presence set, which
 * must show exactly them in every region once the run is over.
 *
 * In a region on NATS, a partial partition's place is taken by a kill -9 of the NATS server
 * most of its nodes are on, restarted when the partition would have been undone.
 *
 * With `pairs` (`--pairs`), regions of five nodes or more also get two nodes faulted at
 * once, often a channel's master and replica: both copies of its state may go, which the
 * guarantees answer with a declared break (90005), never a silent loss or a repeat.
 *
 * With `clocks` (`--clocks`), each region's wall clock is off by up to 8 s for the whole
 * run (the scenario's `clocks`, libfaketime), drawn after everything else, so a seed's
 * faults are the same with and without. With `nodeClocks` (`--node-clocks`), each node's
 * is off by up to 4 s more either way (nodes of one region disagreeing), drawn after those.
 * With `clockSteps` (`--clock-steps`), two to four times a node's wall clock is set to up
 * to 10 s either way from the machine's while it runs (a `clock` action, as NTP steps a
 * clock), a channel's master half of the time; one stepped while it is down starts with
 * it. With `tokens` (`--tokens`), clients authenticate with tokens that live 8 to 20 s,
 * renewed through the run, each TokenRequest replayed once (workload-tokens.ts). Drawn
 * after the clock steps. With `revocations` (`--revocations`), a revocation probe begins
 * every 8 to 14 s (workload-revocations.ts; the topology needs a key with
 * revocableTokens), drawn last.
 */
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Document, isMap, isSeq } from 'yaml';
import { loadTopology } from '../config/topology.js';
import { seeded, type Seeded } from '../rng.js';
import type { TimelineAction } from './scenario.js';

export interface RandomOptions {
  seed: number;
  /** Seconds of publishing (the faults end by its last few). */
  durationS: number;
  /** Topology file the scenario runs on. */
  topologyFile: string;
  /** In regions of five nodes or more, also fault two nodes at once (beyond the one-node guarantee). */
  pairs?: boolean;
  /** Each region's wall clock off by up to 8 s (a scenario's `clocks`). */
  clocks?: boolean;
  /** Each node's wall clock off by up to 4 s from its region's (a scenario's `clocks`, by node). */
  nodeClocks?: boolean;
  /** Steps of nodes' wall clocks while they run (`clock` actions), up to 10 s either way from the machine's. */
  clockSteps?: boolean;
  /** Clients on tokens of 8–20 s (a scenario's `workload.tokenTtlS`), each request replayed once. */
  tokens?: boolean;
  /** Revocation probes every 8–14 s (a scenario's `workload.revokeEveryS`). */
  revocations?: boolean;
  /** From a probe's token to its revocation (s; a scenario's `workload.revokeGapS`). */
  revocationGapS?: number;
}

/** The part of a scenario file the generator writes (scenario.ts validates it on load). */
export interface RandomScenarioDoc {
  name: string;
  description: string;
  topology: string;
  durationS: number;
  drainS: number;
  clocks?: Record<string, string>;
  workload: { channels: number; publishersPerRegion: number; subscribersPerRegion: number; intervalMs: number; presenceMembersPerRegion: number; tokenTtlS?: number; revokeEveryS?: number; revokeGapS?: number };
  timeline: TimelineAction[];
}

/** Faults start no earlier than this (s), and end this long before publishing stops. */
const FIRST_FAULT_S = 2;
const QUIET_END_S = 4;
/** After a node fault ends, the next one waits this long at least (s): a restarted node takes 1–2 s to serve and hand its channels back. */
const NODE_GAP_S: [number, number] = [5, 10];
const LINK_GAP_S: [number, number] = [1, 6];
/** Clients are added or moved no sooner than this after a node fault was undone (s). */
const CLIENT_AFTER_NODE_S = 3;

/** Clients per region in every channel's presence set, checked after the run (workload.ts). */
const PRESENCE_MEMBERS_PER_REGION = 2;

/** A time in the timeline, to a tenth of a second. */
const at = (t: number) => Number((Math.round(t / 0.1) * 0.1).toFixed(1));

interface Shape {
  /** `nats`: the region runs on NATS (its nodes reach each other only through the NATS servers). */
  regions: { name: string; nodes: string[]; nats?: boolean }[];
  channels: string[];
}

const UNDO = { kill: 'restart', stop: 'restart', pause: 'resume', isolate: 'rejoin' } as const;
const NODE_FAULTS = ['kill', 'stop', 'pause', 'isolate'] as const;

/** A region's node faults, and the windows from each one's start to its (last) undo. */
interface NodeFaults {
  actions: TimelineAction[];
  windows: [number, number][];
}

/**
 * Node faults in one region: one at a time, each undone before the next. With `pairs`, in
 * a region of five or more, half of them are two nodes at once (a majority remains): a
 * channel's replica and then its master (both copies of its state, beyond the one-node
 * guarantee), or two nodes drawn from the region. Each of the two is named (`as`) and
 * undone on its own.
 */
function nodeFaults(r: Seeded, region: Shape['regions'][number], channels: readonly string[], end: number, pairs: boolean): NodeFaults {
  const out: NodeFaults = { actions: [], windows: [] };
  let t = FIRST_FAULT_S + r.between(0, 3);
  while (t + 1 < end) {
    if (pairs && region.nodes.length >= 5 && r.chance(0.5)) {
      t = twoAtOnce(r, region, channels, end, t, out) + r.between(...NODE_GAP_S);
      continue;
    }
    const kind = r.pick([...NODE_FAULTS, 'cut'] as const);
    // Past the 4 s down timeout the node is failed over; below it, a paused or isolated
    // node is a blip, and a killed or stopped one is back (a new incarnation) before its
    // peers have given up on the old.
    const hold = Math.min(r.between(0.3, 8), end - t);
    // Drawn for every kind (a cut names its two nodes below), so that seeds keep their scenarios.
    const who = r.next();
    const node = who < 0.5 ? r.pick(region.nodes) : who < 0.75 ? `globalmaster:${region.name}` : `master:${r.pick(channels)}@${region.name}`;
    const back = { at: at(t + hold), node: `@last:${region.name}` };
    if (kind === 'cut' && region.nats) {
      // No link between two nodes of a NATS region to cut: one of its NATS servers dies instead (the one most of its nodes are on).
      out.actions.push({ at: at(t), action: 'nats-kill', region: region.name, server: 'busiest' }, { at: back.at, action: 'nats-restart', region: region.name });
    } else if (kind === 'cut') {
      // Named directly: a node and another of the region (a reference might resolve to the same one).
      const a = r.pick(region.nodes);
      const b = r.pick(region.nodes.filter((n) => n !== a));
      out.actions.push({ at: at(t), action: 'isolate', node: a, from: b }, { ...back, action: 'rejoin' });
    } else {
      // `@last:REGION` is the node the start resolved to: no other node action in the region comes between.
      out.actions.push({ at: at(t), action: kind, node }, { ...back, action: UNDO[kind] });
    }
    out.windows.push([at(t), at(t + hold)]);
    t += hold + r.between(...NODE_GAP_S);
  }
  return out;
}

/** Two nodes of a region faulted at once, from `t`; returns when the later one is undone. */
function twoAtOnce(r: Seeded, region: { name: string; nodes: string[] }, channels: readonly string[], end: number, t: number, out: NodeFaults): number {
  let targets: [string, string];
  if (r.chance(0.5)) {
    // The replica first, so the master cannot copy its state elsewhere before it goes too
    // (a replica paused or stopped is not yet out of the ring when the master dies).
    const channel = r.pick(channels);
    targets = [`replica:${channel}@${region.name}`, `master:${channel}@${region.name}`];
  } else {
    const a = r.pick(region.nodes);
    targets = [a, r.pick(region.nodes.filter((n) => n !== a))];
  }
  const n = out.windows.length;
  // The second starts within 1.5 s of the first, while the first is still on.
  const second = at(Math.min(t + r.between(0, 1.5), end - 0.3));
  let last = t;
  for (const [i, node] of targets.entries()) {
    const start = i === 0 ? at(t) : second;
    const kind = r.pick(NODE_FAULTS);
    const hold = Math.max(Math.min(r.between(0.3, 8), end - start), i === 0 ? second - start + 0.3 : 0);
    const name = `${region.name}-${n}-${i === 0 ? 'a' : 'b'}`;
    out.actions.push({ at: start, action: kind, node, as: name }, { at: at(start + hold), action: UNDO[kind], node: `@${name}` });
    last = Math.max(last, at(start + hold));
  }
  out.windows.push([at(t), last]);
  return last;
}

/** Faults on the link between two regions, one after another. */
function linkFaults(r: Seeded, a: string, b: string, end: number): TimelineAction[] {
  const out: TimelineAction[] = [];
  let t = FIRST_FAULT_S + r.between(0, 4);
  while (t + 1 < end) {
    const hold = Math.min(r.between(2, 12), end - t);
    const [x, y] = r.chance(0.5) ? [a, b] : [b, a];
    const heal: TimelineAction = { at: at(t + hold), action: 'heal', a, b };
    switch (r.int(6)) {
      case 0:
        out.push({ at: at(t), action: 'partition', a: x, b: y, oneWay: false }, heal);
        break;
      case 1:
        out.push({ at: at(t), action: 'partition', a: x, b: y, oneWay: true }, heal);
        break;
      case 2:
        // flap ends healed at untilS (expandTimeline)
        out.push({ at: at(t), action: 'flap', a, b, everyS: at(r.between(0.5, 3)), untilS: at(t + hold) });
        break;
      case 3:
        out.push({ at: at(t), action: 'latency', a, b, ms: Math.round(r.between(20, 400)), jitterMs: Math.round(r.between(0, 100)) }, heal);
        break;
      case 4:
        out.push({ at: at(t), action: 'bandwidth', a, b, bytesPerS: Math.round(r.between(4_000, 50_000)) }, heal);
        break;
      default:
        out.push(
          { at: at(t), action: 'latency', a, b, ms: Math.round(r.between(20, 300)), jitterMs: Math.round(r.between(0, 60)) },
          { at: at(t), action: 'loss', a, b, rate: Number(r.between(0.01, 0.2).toFixed(3)) },
          heal,
        );
    }
    t += hold + r.between(...LINK_GAP_S);
  }
  return out;
}

/**
 * Clients: a few more subscribers attaching, and a few moving to another region, never
 * while a node of a region they attach in (or leave) is faulted. The run waits for their
 * attaches before its next action, and an attach that waited for a paused node would hold
 * back the node's own resume.
 */
function clientActions(r: Seeded, s: Shape, end: number, nodeWindows: ReadonlyMap<string, [number, number][]>): TimelineAction[] {
  const out: TimelineAction[] = [];
  const names = s.regions.map((x) => x.name);
  // A time in [lo, hi) whose span of `len` s keeps clear of the regions' node faults (null if none is found).
  const clearTime = (regions: string[], lo: number, hi: number, len: number): number | null => {
    const windows = regions.flatMap((x) => nodeWindows.get(x) ?? []);
    for (let tries = 0; tries < 20; tries++) {
      const t = at(r.between(lo, hi));
      if (windows.every(([a, b]) => t + len + 1 < a || t > b + CLIENT_AFTER_NODE_S)) return t;
    }
    return null;
  };
  for (let i = r.int(3); i > 0; i--) {
    const region = r.pick(names);
    const t = clearTime([region], FIRST_FAULT_S, end - 2, 2);
    if (t !== null) out.push({ at: t, action: 'subscribe', region, subscribers: 1 + r.int(2) });
  }
  if (names.length < 2) return out;
  for (let i = r.int(3); i > 0; i--) {
    const from = r.pick(names);
    const to = r.pick(names.filter((n) => n !== from));
    const afterS = at(r.between(0, 3));
    const t = clearTime([from, to], FIRST_FAULT_S, end - afterS - 2, afterS + 2);
    if (t !== null) out.push({ at: t, action: 'move', from, to, subscribers: 1, afterS });
  }
  return out;
}

function summary(
  seed: number,
  o: { pairs: boolean; regionClocks: boolean; nodeClocks: boolean; clockSteps: boolean; tokens: boolean; revocations: boolean; revocationGapS?: number | undefined; clocks: Record<string, string> | null },
  timeline: readonly TimelineAction[],
): string {
  const count = new Map<string, number>();
  for (const a of timeline) if (!['heal', 'restart', 'resume', 'rejoin'].includes(a.action)) count.set(a.action, (count.get(a.action) ?? 0) + 1);
  const what = [...count].map(([k, n]) => `${n} ${k}`).join(', ');
  const clocks = o.clocks ? `; clocks ${Object.entries(o.clocks).map(([where, off]) => `${where} ${off}`).join(', ')}` : '';
  const flags = `${o.pairs ? ' --pairs' : ''}${o.regionClocks ? ' --clocks' : ''}${o.nodeClocks ? ' --node-clocks' : ''}${o.clockSteps ? ' --clock-steps' : ''}${o.tokens ? ' --tokens' : ''}${o.revocations ? ' --revocations' : ''}${o.revocations && o.revocationGapS !== undefined ? ` --revocation-gap ${o.revocationGapS}` : ''}`;
  return `Drawn by "ably-ng chaos random --seed ${seed}${flags}": ${what || 'no faults'}${clocks}.`;
}

/** An offset in quarters of a second, as a scenario's `clocks` has it. */
const offsetOf = (q: number): string => `${q < 0 ? '-' : '+'}${Math.abs(q) / 4}s`;

/**
 * The clock offsets: with `regions`, each region's up to 8 s either way; with `nodes`, each
 * node's up to 4 s either way from its region's (every node named, as its total). In
 * quarters of a second.
 */
function drawClocks(r: Seeded, shape: readonly { name: string; nodes: readonly string[] }[], o: { regions: boolean; nodes: boolean }): Record<string, string> | null {
  if (!o.regions && !o.nodes) return null;
  const out: Record<string, string> = {};
  const regionQ = new Map(shape.map((x) => [x.name, 0]));
  if (o.regions)
    for (const region of shape) {
      const q = r.int(65) - 32;
      regionQ.set(region.name, q);
      out[region.name] = offsetOf(q);
    }
  if (o.nodes) for (const region of shape) for (const node of region.nodes) out[node] = offsetOf(regionQ.get(region.name)! + r.int(33) - 16);
  return out;
}

/** Two to four steps of a node's wall clock, to within 10 s of the machine's (quarters of a second): a channel's master, or a node by name. */
function drawClockSteps(r: Seeded, shape: Shape, end: number): TimelineAction[] {
  const out: TimelineAction[] = [];
  for (let i = 2 + r.int(3); i > 0; i--) {
    const region = r.pick(shape.regions);
    const node = r.int(2) === 0 ? `master:${r.pick(shape.channels)}@${region.name}` : r.pick(region.nodes);
    out.push({ at: at(r.between(FIRST_FAULT_S, end)), action: 'clock', node, offset: offsetOf(r.int(81) - 40) });
  }
  return out;
}

/** The scenario for `seed`: the same seed and options give the same scenario. */
export function randomScenario(o: RandomOptions, scenarioDir: string): RandomScenarioDoc {
  const topology = loadTopology(o.topologyFile);
  const r = seeded(o.seed);
  const workload: RandomScenarioDoc['workload'] = {
    channels: 2 + r.int(4),
    publishersPerRegion: 1 + r.int(2),
    subscribersPerRegion: 2 + r.int(2),
    intervalMs: 40 + 10 * r.int(7),
    // Not drawn, so that a seed's faults are those it drew before presence was checked.
    presenceMembersPerRegion: PRESENCE_MEMBERS_PER_REGION,
  };
  const shape: Shape = {
    regions: topology.regions.map((x) => ({ name: x.name, nodes: x.nodes.map((n) => n.name), ...(x.transport === 'nats' ? { nats: true } : {}) })),
    channels: Array.from({ length: workload.channels }, (_, i) => `chaos-${i}`),
  };
  const end = o.durationS - QUIET_END_S;
  const timeline: TimelineAction[] = [];
  const nodeWindows = new Map<string, [number, number][]>();
  // Regions of three nodes or more keep a majority without one of them.
  for (const region of shape.regions.filter((x) => x.nodes.length >= 3)) {
    const faults = nodeFaults(r, region, shape.channels, end, o.pairs ?? false);
    nodeWindows.set(region.name, faults.windows);
    timeline.push(...faults.actions);
  }
  const names = shape.regions.map((x) => x.name);
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) timeline.push(...linkFaults(r, names[i]!, names[j]!, end));
  timeline.push(...clientActions(r, shape, end, nodeWindows));
  // Stable: actions at one instant keep the order they were drawn in (a start before its end).
  timeline.sort((x, y) => x.at - y.at);
  const clocks = drawClocks(r, shape.regions, { regions: o.clocks ?? false, nodes: o.nodeClocks ?? false });
  if (o.clockSteps) {
    timeline.push(...drawClockSteps(r, shape, end));
    timeline.sort((x, y) => x.at - y.at);
  }
  if (o.tokens) workload.tokenTtlS = 8 + r.int(13);
  if (o.revocations) workload.revokeEveryS = 8 + r.int(7);
  if (o.revocations && o.revocationGapS !== undefined) workload.revokeGapS = o.revocationGapS;
  return {
    name: `random-${o.seed}`,
    description: summary(o.seed, { pairs: o.pairs ?? false, regionClocks: o.clocks ?? false, nodeClocks: o.nodeClocks ?? false, clockSteps: o.clockSteps ?? false, tokens: o.tokens ?? false, revocations: o.revocations ?? false, revocationGapS: o.revocationGapS, clocks }, timeline),
    topology: relative(scenarioDir, resolve(o.topologyFile)) || '.',
    durationS: o.durationS,
    drainS: 20,
    ...(clocks ? { clocks } : {}),
    workload,
    timeline,
  };
}

/** Writes the scenario for `seed` to `dir/random-SEED.yaml`; returns the file. */
export function writeRandomScenario(o: RandomOptions, dir: string): string {
  const doc = randomScenario(o, dir);
  const file = join(dir, `${doc.name}.yaml`);
  const yaml = new Document(doc);
  // One line per action and for the workload, as hand-written scenarios have them.
  const timeline = yaml.get('timeline');
  if (isSeq(timeline)) for (const item of timeline.items) if (isMap(item)) item.flow = true;
  const workload = yaml.get('workload');
  if (isMap(workload)) workload.flow = true;
  writeFileSync(file, yaml.toString({ lineWidth: 0 }));
  return resolve(file);
}
