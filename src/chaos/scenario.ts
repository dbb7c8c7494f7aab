/**
 * Chaos scenario files (`test/chaos/scenarios/*.yaml`): a topology, a workload, and a
 * timeline of faults, validated with path-named errors like topology files.
 *
 * Timeline actions (times in seconds from the start of publishing):
 *   partition {a, b, oneWay?}      heal {a?, b?}
 *   latency {a, b, ms, jitterMs?}  loss {a, b, rate}   bandwidth {a, b, bytesPerS}
 *   flap {a, b, everyS, untilS}    (cut and heal the link every `everyS` seconds)
 *   kill|stop|pause|resume|isolate|rejoin|restart {node}
 *   isolate|rejoin {node, from}    (only the links between node and from: a partial partition)
 *   clock {node, offset}           (the node's wall clock is `offset` from the machine's from
 *                                   now on, as an NTP step would set it, and when it starts
 *                                   again; libfaketime, clocks.ts)
 *   rolling-restart {region, gapS?}
 *   nats-kill {region, server?}    (kill -9 of one of a NATS region's servers, which the run
 *                                   starts: `busiest`, the one most of the region's nodes are
 *                                   connected to, by default, or its number from 1)
 *   nats-restart {region}          (the region's NATS servers killed are started again)
 *   subscribe {region, subscribers?}   (that many more subscribers attach there, to every channel)
 *   move {from, to, subscribers?, afterS?}   (that many of `from`'s subscribers leave it and,
 *                                       afterS later, continue in `to` from their
 *                                       connection's recovery key)
 * A node may be named directly, or as `globalmaster:REGION` (the node holding that
 * region's globalmaster role at the time), `master:CHANNEL@REGION` (the channel's master
 * there), `replica:CHANNEL@REGION` (its replica there), `@last` (the node the previous node action acted on), `@last:REGION` (the
 * node the previous node action in that region acted on), or `@NAME`: the node an earlier
 * kill, stop, pause or isolate with `as: NAME` acted on (two faults at once in a region,
 * each undone on its own).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TopologyError } from '../config/topology.js';
import { CLOCK_OFFSET } from './clocks.js';

const link = { a: z.string().min(1), b: z.string().min(1) };
const node = { node: z.string().min(1) };
/** A name for the node a fault acted on, for a later action's `@NAME` (not `last`). */
const label = { as: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and "-"').refine((n) => n !== 'last', '"last" is taken by @last').optional() };
const at = { at: z.number().min(0) };

const action = z.discriminatedUnion('action', [
  z.object({ ...at, action: z.literal('partition'), ...link, oneWay: z.boolean().default(false) }).strict(),
  z.object({ ...at, action: z.literal('heal'), a: z.string().optional(), b: z.string().optional() }).strict(),
  z.object({ ...at, action: z.literal('latency'), ...link, ms: z.number().min(0), jitterMs: z.number().min(0).default(0) }).strict(),
  z.object({ ...at, action: z.literal('loss'), ...link, rate: z.number().min(0).max(1) }).strict(),
  z.object({ ...at, action: z.literal('bandwidth'), ...link, bytesPerS: z.number().min(1) }).strict(),
  z.object({ ...at, action: z.literal('flap'), ...link, everyS: z.number().min(0.5), untilS: z.number().min(0) }).strict(),
  z.object({ ...at, action: z.literal('kill'), ...node, ...label }).strict(),
  z.object({ ...at, action: z.literal('stop'), ...node, ...label }).strict(),
  z.object({ ...at, action: z.literal('restart'), ...node }).strict(),
  z.object({ ...at, action: z.literal('pause'), ...node, ...label }).strict(),
  z.object({ ...at, action: z.literal('resume'), ...node }).strict(),
  z.object({ ...at, action: z.literal('isolate'), ...node, from: z.string().min(1).optional(), ...label }).strict(),
  z.object({ ...at, action: z.literal('rejoin'), ...node, from: z.string().min(1).optional() }).strict(),
  z.object({ ...at, action: z.literal('clock'), ...node, offset: z.string().regex(CLOCK_OFFSET, 'a clock offset: a sign, a number, and s, m, h or d (say +6s)') }).strict(),
  z.object({ ...at, action: z.literal('rolling-restart'), region: z.string().min(1), gapS: z.number().min(0).default(3) }).strict(),
  z.object({ ...at, action: z.literal('nats-kill'), region: z.string().min(1), server: z.union([z.number().int().min(1), z.literal('busiest')]).default('busiest') }).strict(),
  z.object({ ...at, action: z.literal('nats-restart'), region: z.string().min(1) }).strict(),
  z.object({ ...at, action: z.literal('subscribe'), region: z.string().min(1), subscribers: z.number().int().min(1).max(50).default(1) }).strict(),
  z
    .object({
      ...at,
      action: z.literal('move'),
      from: z.string().min(1),
      to: z.string().min(1),
      subscribers: z.number().int().min(1).max(50).default(1),
      afterS: z.number().min(0).max(60).default(0),
    })
    .strict()
    .refine((a) => a.from !== a.to, { message: 'from and to must be different regions', path: ['to'] }),
]);

export type TimelineAction = z.infer<typeof action>;

const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and "-"'),
    description: z.string().default(''),
    /** Topology file, relative to the scenario file (its ports are replaced by free ones). */
    topology: z.string().min(1),
    /** Seconds of publishing. */
    durationS: z.number().min(1).max(600),
    /** At most this long (s) after publishing stops, for the stragglers to arrive. */
    drainS: z.number().min(0).max(120).default(15),
    workload: z
      .object({
        channels: z.number().int().min(1).max(50).default(2),
        publishersPerRegion: z.number().int().min(0).max(50).default(1),
        subscribersPerRegion: z.number().int().min(0).max(200).default(2),
        /** Regions that start with another number of subscribers than subscribersPerRegion (0: none until a `subscribe`). */
        subscribersByRegion: z.record(z.string(), z.number().int().min(0).max(200)).default({}),
        intervalMs: z.number().int().min(1).default(50),
        /**
         * Clients per region that enter presence on every channel (each under a clientId of
         * its own) and stay; after the drain, every region's presence set must converge on
         * exactly them (the checker's presence check). 0: no presence check.
         */
        presenceMembersPerRegion: z.number().int().min(0).max(20).default(0),
        /**
         * Clients authenticate with tokens that live this long (s), from signed TokenRequests
         * through their SDK's authCallback, renewed as they expire; each request is also
         * replayed once, which must be refused (the checker's token check). Absent: the key.
         */
        tokenTtlS: z.number().min(5).max(3600).optional(),
        /**
         * A revocation probe begins this often (s): a token for a clientId of its own, revoked
         * `revokeGapS` later through another region, which every region must then refuse (the
         * checker's revocation check). Needs a key with revocableTokens in the topology.
         */
        revokeEveryS: z.number().min(2).max(600).optional(),
        /**
         * From a probe's token to its revocation (s; default 30, more than regions' clocks are
         * apart in any run). Shorter, a region must judge the token on the clock of the region
         * that issued it to refuse it (README "Token revocation").
         */
        revokeGapS: z.number().min(0).max(300).optional(),
      })
      .strict()
      .default({ channels: 2, publishersPerRegion: 1, subscribersPerRegion: 2, subscribersByRegion: {}, intervalMs: 50, presenceMembersPerRegion: 0 }),
    /** Environment of the node processes (e.g. a debug switch that breaks a guarantee). */
    env: z.record(z.string(), z.string()).default({}),
    /**
     * Regions whose nodes' wall clocks, or nodes whose wall clock, are off by this much
     * for the whole run (`+6s`, `-1.5s`, `+2m`; libfaketime, clocks.ts); a node's own
     * offset replaces its region's; the others keep the machine's.
     */
    clocks: z.record(z.string(), z.string().regex(CLOCK_OFFSET, 'a clock offset: a sign, a number, and s, m, h or d (say +6s)')).default({}),
    /** What the checker should say: `fail` for a run that breaks a guarantee on purpose. */
    expect: z.enum(['pass', 'fail']).default('pass'),
    timeline: z.array(action).default([]),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema> & { file: string; topologyFile: string };

export function loadScenario(file: string): Scenario {
  const path = resolve(file);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TopologyError([`cannot read scenario: ${(e as Error).message}`], path);
  }
  const parsed = scenarioSchema.safeParse(doc);
  if (!parsed.success) {
    throw new TopologyError(
      parsed.error.issues.map((i) => `${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)'}: ${i.message}`),
      path,
    );
  }
  const s = parsed.data;
  for (const [i, a] of s.timeline.entries()) {
    if (a.at > s.durationS) throw new TopologyError([`timeline[${i}].at: ${a.at} s is after the end (durationS ${s.durationS})`], path);
    if (a.action === 'move' && a.at + a.afterS > s.durationS) {
      throw new TopologyError([`timeline[${i}].afterS: the subscribers would arrive after the end (${a.at} + ${a.afterS} s > durationS ${s.durationS})`], path);
    }
  }
  checkLabels(s.timeline, path);
  return { ...s, file: path, topologyFile: resolve(dirname(path), s.topology) };
}

/** Every `@NAME` is named by an `as` earlier in the file, and no name twice. */
function checkLabels(timeline: readonly TimelineAction[], path: string): void {
  const named = new Set<string>();
  const errors: string[] = [];
  for (const [i, a] of timeline.entries()) {
    for (const [field, ref] of [['node', 'node' in a ? a.node : undefined], ['from', 'from' in a && a.action !== 'move' ? a.from : undefined]] as const) {
      const m = ref === undefined ? null : /^@([^:]+)$/.exec(ref);
      if (m && m[1] !== 'last' && !named.has(m[1]!)) errors.push(`timeline[${i}].${field}: "${ref}" is not named by an earlier action's "as"`);
    }
    if ('as' in a && a.as !== undefined) {
      if (named.has(a.as)) errors.push(`timeline[${i}].as: "${a.as}" is already the name of an earlier action's node`);
      named.add(a.as);
    }
  }
  if (errors.length) throw new TopologyError(errors, path);
}

/** Expands `flap` into its partitions and heals; sorts by time. */
export function expandTimeline(timeline: readonly TimelineAction[]): TimelineAction[] {
  const out: TimelineAction[] = [];
  for (const a of timeline) {
    if (a.action !== 'flap') {
      out.push(a);
      continue;
    }
    let cut = true;
    for (let t = a.at; t < a.untilS; t += a.everyS) {
      out.push(cut ? { at: t, action: 'partition', a: a.a, b: a.b, oneWay: false } : { at: t, action: 'heal', a: a.a, b: a.b });
      cut = !cut;
    }
    if (!cut) out.push({ at: a.untilS, action: 'heal', a: a.a, b: a.b });
  }
  return out.sort((x, y) => x.at - y.at);
}

/**
 * Every region a scenario names (in its workload and timeline) is one of the topology's,
 * and one on NATS (`natsRegions`) where an action is for NATS servers; a key of its
 * `clocks` is a region or one of the topology's `nodes`.
 */
export function checkScenarioRegions(s: Scenario, regions: readonly string[], nodes: readonly string[] = [], natsRegions: readonly string[] = []): void {
  const known = new Set(regions);
  const errors: string[] = [];
  const need = (path: string, region: string | undefined) => {
    if (region !== undefined && !known.has(region)) errors.push(`${path}: no region "${region}" in ${s.topology} (it has ${regions.join(', ')})`);
  };
  for (const r of Object.keys(s.workload.subscribersByRegion)) need(`workload.subscribersByRegion.${r}`, r);
  for (const r of Object.keys(s.clocks)) {
    if (!known.has(r) && !nodes.includes(r)) errors.push(`clocks.${r}: no region or node "${r}" in ${s.topology} (regions ${regions.join(', ')})`);
  }
  for (const [i, a] of s.timeline.entries()) {
    if ('a' in a) need(`timeline[${i}].a`, a.a);
    if ('b' in a) need(`timeline[${i}].b`, a.b);
    if ('region' in a) need(`timeline[${i}].region`, a.region);
    if ((a.action === 'nats-kill' || a.action === 'nats-restart') && known.has(a.region) && !natsRegions.includes(a.region)) {
      errors.push(`timeline[${i}].region: region "${a.region}" does not run on NATS (transport: nats in ${s.topology})`);
    }
    if (a.action === 'move') {
      need(`timeline[${i}].from`, a.from);
      need(`timeline[${i}].to`, a.to);
    }
  }
  if (errors.length) throw new TopologyError(errors, s.file);
}
