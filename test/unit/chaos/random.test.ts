/**
 * `ably-ng chaos random`'s scenarios: repeatable from their seed, valid scenario files,
 * and inside what the guarantees cover (one node faulted at a time, only in regions that
 * keep a majority without it, everything undone before the end), over many seeds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomScenario, writeRandomScenario, type RandomScenarioDoc } from '../../../src/chaos/random.js';
import { checkScenarioRegions, loadScenario, type TimelineAction } from '../../../src/chaos/scenario.js';
import { loadTopology } from '../../../src/config/topology.js';
import { removeTempDir, tempDir } from '../../helpers/tmp.js';

const dir = tempDir('random-chaos');
afterAll(() => removeTempDir(dir));

const root = join(import.meta.dirname, '../../..');
const LOCAL = join(root, 'regions/local.yaml');
const THREE = join(root, 'test/chaos/topologies/three-regions.yaml');
const FIVE = join(root, 'test/chaos/topologies/five-nodes.yaml');
const NATS = join(root, 'test/chaos/topologies/nats.yaml');
const SEEDS = Array.from({ length: 200 }, (_, i) => i);

const STARTS: Record<string, string> = { kill: 'restart', stop: 'restart', pause: 'resume', isolate: 'rejoin' };
const UNDOS = new Set(Object.values(STARTS));
const LINK = new Set(['partition', 'latency', 'loss', 'bandwidth', 'flap']);

function scenarioOf(seed: number, topologyFile = LOCAL, durationS = 60): RandomScenarioDoc {
  return randomScenario({ seed, durationS, topologyFile }, dir);
}

/** The region a node action's target is in (a name, `globalmaster:R` or `master:CH@R`). */
function regionOf(node: string, regions: { name: string; nodes: { name: string }[] }[]): string | undefined {
  const m = /^(?:globalmaster:|master:[^@]+@)(.+)$/.exec(node);
  if (m) return m[1];
  return regions.find((r) => r.nodes.some((n) => n.name === node))?.name;
}

describe('random chaos scenarios', () => {
  it('are the same for the same seed, and differ between seeds', () => {
    expect(scenarioOf(7)).toEqual(scenarioOf(7));
    const distinct = new Set(SEEDS.slice(0, 20).map((s) => JSON.stringify(scenarioOf(s).timeline)));
    expect(distinct.size).toBe(20);
  });

  it('are written as scenario files that load as they were drawn, on the topology given', () => {
    for (const [seed, topo] of [
      [1, LOCAL],
      [2, THREE],
    ] as const) {
      const doc = scenarioOf(seed, topo);
      const file = writeRandomScenario({ seed, durationS: 60, topologyFile: topo }, dir);
      expect(file).toBe(join(dir, `random-${seed}.yaml`));
      const s = loadScenario(file);
      expect(s.topologyFile).toBe(topo);
      expect(s.name).toBe(`random-${seed}`);
      expect(s.description).toContain(`--seed ${seed}`);
      expect(s.workload).toMatchObject(doc.workload);
      expect(s.timeline).toEqual(doc.timeline);
      expect(() => checkScenarioRegions(s, loadTopology(topo).regions.map((r) => r.name))).not.toThrow();
      // One action per line, as hand-written scenarios are.
      expect(readFileSync(file, 'utf8')).toMatch(/^ {2}- \{ at: [\d.]+, action: \w+/m);
    }
  });

  it('fault one node of a region at a time, give the region time to take it back, and only where a majority remains', () => {
    let overlapping = 0;
    for (const topo of [LOCAL, THREE]) {
      const regions = loadTopology(topo).regions;
      const big = new Set(regions.filter((r) => r.nodes.length >= 3).map((r) => r.name));
      for (const seed of SEEDS) {
        const t = scenarioOf(seed, topo).timeline;
        const nodeActions = t.filter((a): a is TimelineAction & { node: string } => 'node' in a);
        expect(nodeActions.every((a) => STARTS[a.action] || UNDOS.has(a.action))).toBe(true);
        const inRegion = new Map<string, (TimelineAction & { node: string })[]>();
        for (const a of nodeActions) {
          const region = STARTS[a.action] ? regionOf(a.node, regions) : /^@last:(.+)$/.exec(a.node)?.[1];
          expect(region, `seed ${seed}: ${a.action} ${a.node}`).toBeDefined();
          inRegion.set(region!, [...(inRegion.get(region!) ?? []), a]);
        }
        for (const [region, actions] of inRegion) {
          expect(big.has(region), `seed ${seed}: a node fault in ${region}`).toBe(true);
          for (let i = 0; i < actions.length; i += 2) {
            const [start, undo] = [actions[i]!, actions[i + 1]];
            expect(STARTS[start.action], `seed ${seed}: ${start.action} at ${start.at}`).toBeDefined();
            if (start.action === 'isolate' && start.from !== undefined) {
              // A partial partition: two nodes of the region, named, and not the same one.
              const names = regions.find((x) => x.name === region)!.nodes.map((n) => n.name);
              expect(names).toContain(start.node);
              expect(names.filter((n) => n !== start.node)).toContain(start.from);
            }
            expect(undo, `seed ${seed}: ${start.action} at ${start.at} is undone`).toMatchObject({ action: STARTS[start.action], node: `@last:${region}` });
            expect(undo!.at).toBeGreaterThan(start.at);
            const next = actions[i + 2];
            if (next) expect(next.at - undo!.at, `seed ${seed}: gap after ${undo!.at} in ${region}`).toBeGreaterThanOrEqual(4.9);
          }
        }
        if (topo === LOCAL && inRegion.size === 2) {
          const [eu, us] = [inRegion.get('eu')!, inRegion.get('us')!];
          for (let i = 0; i < eu.length; i += 2) for (let j = 0; j < us.length; j += 2) if (eu[i]!.at < us[j + 1]!.at && us[j]!.at < eu[i + 1]!.at) overlapping++;
        }
      }
    }
    // Each region of three has faults of its own, at times while the other's are on.
    expect(overlapping).toBeGreaterThan(SEEDS.length / 2);
  });

  it('undo every fault before the last seconds of publishing, one link fault at a time per pair', () => {
    for (const seed of SEEDS) {
      const s = scenarioOf(seed, THREE, 45);
      const last = s.durationS - 4;
      const open = new Map<string, number>();
      for (const a of s.timeline) {
        expect(a.at, `seed ${seed}: ${a.action}`).toBeLessThanOrEqual(last + 1e-9);
        if (!LINK.has(a.action) && a.action !== 'heal') continue;
        const link = [(a as { a: string }).a, (a as { b: string }).b].sort().join('-');
        if (a.action === 'heal') {
          expect(open.has(link), `seed ${seed}: heal of ${link} at ${a.at} ends a fault`).toBe(true);
          open.delete(link);
        } else if (a.action === 'flap') {
          expect(open.has(link)).toBe(false);
          expect(a.untilS).toBeLessThanOrEqual(last + 1e-9);
        } else if (!(a.action === 'loss' && open.get(link) === a.at)) {
          // (loss comes with a latency drawn at the same instant)
          expect(open.has(link), `seed ${seed}: ${a.action} on ${link} at ${a.at} while another is open`).toBe(false);
          open.set(link, a.at);
        }
      }
      expect([...open.keys()], `seed ${seed}: left open`).toEqual([]);
    }
  });

  it('move and add clients only while no node of the regions they attach in or leave is faulted', () => {
    const localRegions = loadTopology(LOCAL).regions;
    let clients = 0;
    for (const seed of SEEDS) {
      const t = scenarioOf(seed).timeline;
      const faulted = new Set<string>();
      for (const a of t) {
        if ('node' in a) {
          if (STARTS[a.action]) faulted.add(regionOf(a.node, localRegions)!);
          else faulted.delete(a.node.replace('@last:', ''));
        }
        if (a.action === 'subscribe' || a.action === 'move') {
          const regions = a.action === 'move' ? [a.from, a.to] : [a.region];
          for (const region of regions) expect(faulted.has(region), `seed ${seed}: ${a.action} at ${a.at} while ${region} has a node faulted`).toBe(false);
          const end = a.at + (a.action === 'move' ? a.afterS : 0);
          const nextNode = t.find((x) => 'node' in x && x.at >= a.at && regions.includes(regionOf(x.node, localRegions) ?? ''));
          if (nextNode) expect(nextNode.at, `seed ${seed}: ${a.action} at ${a.at} clear of the next node fault there`).toBeGreaterThan(end);
        }
      }
      clients += t.filter((a) => a.action === 'subscribe' || a.action === 'move').length;
    }
    expect(clients).toBeGreaterThan(SEEDS.length / 2);
  });

  it('draw every kind of fault and client action over the seeds', () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      for (const a of scenarioOf(seed).timeline) {
        seen.add(a.action === 'partition' ? `partition${a.oneWay ? ' one-way' : ''}` : a.action === 'isolate' && a.from ? 'isolate from' : a.action);
        if ('node' in a && STARTS[a.action]) seen.add(a.node.replace(/:.*/, ':'));
      }
    }
    for (const k of ['kill', 'stop', 'pause', 'isolate', 'isolate from', 'restart', 'resume', 'rejoin', 'partition', 'partition one-way', 'flap', 'latency', 'loss', 'bandwidth', 'heal', 'subscribe', 'move', 'globalmaster:', 'master:']) {
      expect(seen, k).toContain(k);
    }
    // and nodes named directly
    expect([...seen].some((k) => /^(eu|us)-\d$/.test(k))).toBe(true);
  });

  it('on a region on NATS, kill one of its NATS servers where a mesh region would have two nodes cut from each other, and start it again', () => {
    let kills = 0;
    for (const seed of SEEDS.slice(0, 50)) {
      const s = scenarioOf(seed, NATS);
      const file = writeRandomScenario({ seed, durationS: 60, topologyFile: NATS }, dir);
      expect(() => checkScenarioRegions(loadScenario(file), ['eu', 'us'], [], ['eu'])).not.toThrow();
      for (const [i, a] of s.timeline.entries()) {
        // eu is on NATS: none of its nodes is cut from another; us is on the mesh: no NATS action there.
        if (a.action === 'isolate' && a.from) expect(a.node).toMatch(/^us-/);
        if (a.action !== 'nats-kill') continue;
        kills++;
        expect(a).toMatchObject({ region: 'eu', server: 'busiest' });
        const back = s.timeline.slice(i + 1).find((b) => b.action === 'nats-restart');
        expect(back).toMatchObject({ region: 'eu' });
        expect(back!.at).toBeGreaterThan(a.at);
      }
    }
    expect(kills).toBeGreaterThan(5);
  });

  describe('with --pairs', () => {
    const pairsOf = (seed: number, topologyFile = FIVE) => randomScenario({ seed, durationS: 60, topologyFile, pairs: true }, dir);

    it('change nothing where no region has five nodes (seeds keep their scenarios)', () => {
      for (const seed of SEEDS.slice(0, 50)) for (const topo of [LOCAL, THREE]) expect(pairsOf(seed, topo).timeline).toEqual(scenarioOf(seed, topo).timeline);
      expect(pairsOf(3).description).toContain('--seed 3 --pairs');
    });

    it('fault at most two nodes of a region of five at once, each named and undone on its own, often a channel\'s master and its replica', () => {
      const regions = loadTopology(FIVE).regions;
      let pairs = 0;
      let copies = 0;
      let singles = 0;
      for (const seed of SEEDS) {
        const doc = pairsOf(seed);
        const file = writeRandomScenario({ seed, durationS: 60, topologyFile: FIVE, pairs: true }, dir);
        expect(loadScenario(file).timeline).toEqual(doc.timeline);
        const last = doc.durationS - 4;
        // Per region: what is faulted now (by the name its undo uses), and when the last fault ended.
        const open = new Map<string, Map<string, string>>();
        const ended = new Map<string, number>();
        const starts: (TimelineAction & { node: string })[] = [];
        for (const a of doc.timeline) {
          if (!('node' in a)) continue;
          expect(a.at, `seed ${seed}: ${a.action} ${a.node}`).toBeLessThanOrEqual(last + 1e-9);
          if (STARTS[a.action]) {
            const region = regionOf(a.node.replace(/^replica:/, 'master:'), regions)!;
            expect(region, `seed ${seed}: ${a.node}`).toBe('eu');
            const now = open.get(region) ?? new Map<string, string>();
            if (now.size === 0) expect(a.at - (ended.get(region) ?? -10), `seed ${seed}: gap before ${a.at}`).toBeGreaterThanOrEqual(4.9);
            const ref = 'as' in a && a.as ? `@${a.as}` : `@last:${region}`;
            expect(now.has(ref), `seed ${seed}: ${ref} twice`).toBe(false);
            now.set(ref, STARTS[a.action]!);
            expect(now.size, `seed ${seed}: nodes faulted at ${a.at}`).toBeLessThanOrEqual(2);
            // The second of two starts while the first is still on.
            if (ref.endsWith('-b')) expect(now.size, `seed ${seed}: ${ref} at ${a.at} while its first is on`).toBe(2);
            open.set(region, now);
            starts.push(a);
          } else {
            const region = [...open].find(([, m]) => m.has(a.node))?.[0];
            expect(region, `seed ${seed}: ${a.action} ${a.node} undoes a fault`).toBeDefined();
            expect(open.get(region!)!.get(a.node)).toBe(a.action);
            open.get(region!)!.delete(a.node);
            if (open.get(region!)!.size === 0) ended.set(region!, a.at);
          }
        }
        expect([...open.values()].every((m) => m.size === 0), `seed ${seed}: left open`).toBe(true);
        for (let i = 0; i < starts.length; i++) {
          const [a, b] = [starts[i]!, starts[i + 1]];
          if (!('as' in a) || !a.as) {
            singles++;
            continue;
          }
          // Named faults come in twos, the second within 1.5 s of the first, on another node.
          expect(b && 'as' in b && b.as, `seed ${seed}: ${a.as} has a partner`).toBe(a.as.replace(/a$/, 'b'));
          expect(b!.at - a.at).toBeLessThanOrEqual(1.5 + 1e-9);
          expect(b!.node).not.toBe(a.node);
          pairs++;
          const m = /^replica:(.+)$/.exec(a.node);
          if (m) {
            expect(b!.node).toBe(`master:${m[1]}`);
            copies++;
          }
          i++;
        }
      }
      expect(pairs).toBeGreaterThan(SEEDS.length);
      expect(copies).toBeGreaterThan(pairs / 4);
      expect(copies).toBeLessThan(pairs);
      expect(singles).toBeGreaterThan(SEEDS.length);
    });
  });

  describe('with --clocks', () => {
    const clocksOf = (seed: number, topologyFile = LOCAL) => randomScenario({ seed, durationS: 60, topologyFile, clocks: true }, dir);

    it("draw each region's clock offset last, within 8 s either way: a seed's faults are the same with and without", () => {
      const offsets: number[] = [];
      for (const seed of SEEDS.slice(0, 100)) {
        for (const topo of [LOCAL, THREE]) {
          const s = clocksOf(seed, topo);
          expect(s.timeline).toEqual(scenarioOf(seed, topo).timeline);
          expect(s.workload).toEqual(scenarioOf(seed, topo).workload);
          expect(Object.keys(s.clocks!).sort()).toEqual(loadTopology(topo).regions.map((r) => r.name).sort());
          for (const off of Object.values(s.clocks!)) {
            expect(off).toMatch(/^[+-]\d+(\.\d+)?s$/);
            offsets.push(Number(off.slice(0, -1)));
          }
        }
      }
      expect(Math.min(...offsets)).toBe(-8);
      expect(Math.max(...offsets)).toBe(8);
      expect(scenarioOf(3).clocks).toBeUndefined();
      expect(clocksOf(3).description).toMatch(/--seed 3 --clocks": .*; clocks eu [+-][\d.]+s, us [+-][\d.]+s\.$/);
      // Written and read back as a scenario's clocks.
      const file = writeRandomScenario({ seed: 5, durationS: 60, topologyFile: LOCAL, clocks: true }, dir);
      expect(loadScenario(file).clocks).toEqual(clocksOf(5).clocks);
    });
  });

  describe('with --node-clocks', () => {
    it("draw each node's offset after the regions', within 4 s of its region's: the faults and the regions' offsets stay", () => {
      const spread: number[] = [];
      for (const seed of SEEDS.slice(0, 100)) {
        for (const topo of [LOCAL, THREE]) {
          const both = randomScenario({ seed, durationS: 60, topologyFile: topo, clocks: true, nodeClocks: true }, dir);
          const regions = randomScenario({ seed, durationS: 60, topologyFile: topo, clocks: true }, dir);
          expect(both.timeline).toEqual(scenarioOf(seed, topo).timeline);
          const t = loadTopology(topo);
          for (const region of t.regions) {
            expect(both.clocks![region.name]).toBe(regions.clocks![region.name]);
            for (const node of region.nodes) spread.push(Number(both.clocks![node.name]!.slice(0, -1)) - Number(both.clocks![region.name]!.slice(0, -1)));
          }
          expect(Object.keys(both.clocks!)).toHaveLength(t.regions.length + t.regions.reduce((n, r) => n + r.nodes.length, 0));
        }
      }
      expect(Math.min(...spread)).toBe(-4);
      expect(Math.max(...spread)).toBe(4);
      const alone = randomScenario({ seed: 7, durationS: 60, topologyFile: LOCAL, nodeClocks: true }, dir);
      expect(Object.keys(alone.clocks!).sort()).toEqual(['eu-1', 'eu-2', 'eu-3', 'us-1', 'us-2', 'us-3']);
      expect(alone.description).toMatch(/--seed 7 --node-clocks": .*; clocks eu-1 [+-][\d.]+s, eu-2 /);
      const file = writeRandomScenario({ seed: 7, durationS: 60, topologyFile: LOCAL, nodeClocks: true }, dir);
      const read = loadScenario(file);
      expect(read.clocks).toEqual(alone.clocks);
      const t = loadTopology(LOCAL);
      expect(() => checkScenarioRegions(read, t.regions.map((r) => r.name), t.regions.flatMap((r) => r.nodes.map((n) => n.name)))).not.toThrow();
    });
  });

  describe('with --clock-steps', () => {
    it("draw two to four steps of a running node's clock last, within 10 s of the machine's, a channel's master half of the time", () => {
      const offsets: number[] = [];
      let masters = 0;
      let named = 0;
      for (const seed of SEEDS.slice(0, 100)) {
        for (const topo of [LOCAL, THREE]) {
          const s = randomScenario({ seed, durationS: 60, topologyFile: topo, clockSteps: true }, dir);
          const steps = s.timeline.filter((a) => a.action === 'clock');
          expect(s.timeline.filter((a) => a.action !== 'clock')).toEqual(scenarioOf(seed, topo).timeline);
          expect(steps.length).toBeGreaterThanOrEqual(2);
          expect(steps.length).toBeLessThanOrEqual(4);
          const t = loadTopology(topo);
          for (const step of steps) {
            if (step.action !== 'clock') continue;
            expect(step.at).toBeGreaterThanOrEqual(2);
            expect(step.at).toBeLessThanOrEqual(60 - 4);
            if (/^master:chaos-\d+@/.test(step.node)) masters++;
            else {
              expect(t.regions.flatMap((r) => r.nodes.map((n) => n.name))).toContain(step.node);
              named++;
            }
            offsets.push(Number(step.offset.slice(0, -1)));
          }
        }
      }
      expect(Math.min(...offsets)).toBe(-10);
      expect(Math.max(...offsets)).toBe(10);
      expect(masters).toBeGreaterThan(100);
      expect(named).toBeGreaterThan(100);
      const one = randomScenario({ seed: 11, durationS: 60, topologyFile: LOCAL, clockSteps: true }, dir);
      expect(one.description).toMatch(/--seed 11 --clock-steps": .*\d clock/);
      const file = writeRandomScenario({ seed: 11, durationS: 60, topologyFile: LOCAL, clockSteps: true }, dir);
      expect(loadScenario(file).timeline).toEqual(one.timeline);
    });
  });

  describe('with --tokens', () => {
    it('draw a token lifetime of 8 to 20 s after everything else: the faults and clocks stay', () => {
      const ttls = new Set<number>();
      for (const seed of SEEDS.slice(0, 100)) {
        const plain = randomScenario({ seed, durationS: 60, topologyFile: THREE, clocks: true, clockSteps: true }, dir);
        const s = randomScenario({ seed, durationS: 60, topologyFile: THREE, clocks: true, clockSteps: true, tokens: true }, dir);
        expect(s.timeline).toEqual(plain.timeline);
        expect(s.clocks).toEqual(plain.clocks);
        const { tokenTtlS, ...rest } = s.workload;
        expect(rest).toEqual(plain.workload);
        expect(tokenTtlS).toBeGreaterThanOrEqual(8);
        expect(tokenTtlS).toBeLessThanOrEqual(20);
        ttls.add(tokenTtlS!);
      }
      expect(ttls.size).toBe(13);
      const file = writeRandomScenario({ seed: 12, durationS: 60, topologyFile: LOCAL, tokens: true }, dir);
      expect(loadScenario(file).workload.tokenTtlS).toBe(randomScenario({ seed: 12, durationS: 60, topologyFile: LOCAL, tokens: true }, dir).workload.tokenTtlS);
      expect(readFileSync(file, 'utf8')).toMatch(/--seed 12 --tokens"/);
    });

    it('with --revocations, also a revocation probe every 8 to 14 s, drawn last', () => {
      const every = new Set<number>();
      for (const seed of SEEDS.slice(0, 60)) {
        const tokens = randomScenario({ seed, durationS: 60, topologyFile: LOCAL, tokens: true }, dir);
        const s = randomScenario({ seed, durationS: 60, topologyFile: LOCAL, tokens: true, revocations: true }, dir);
        const { revokeEveryS, ...rest } = s.workload;
        expect(rest).toEqual(tokens.workload);
        expect(s.timeline).toEqual(tokens.timeline);
        every.add(revokeEveryS!);
      }
      expect([...every].sort((a, b) => a - b)).toEqual([8, 9, 10, 11, 12, 13, 14]);
      // --revocation-gap: the probes' gap, and nothing else drawn differently; named in the description.
      const plain = randomScenario({ seed: 7, durationS: 60, topologyFile: LOCAL, revocations: true }, dir);
      const gap = randomScenario({ seed: 7, durationS: 60, topologyFile: LOCAL, revocations: true, revocationGapS: 2 }, dir);
      expect(gap.workload).toEqual({ ...plain.workload, revokeGapS: 2 });
      expect(gap.timeline).toEqual(plain.timeline);
      expect(gap.description).toContain('--revocations --revocation-gap 2"');
      expect(plain.workload.revokeGapS).toBeUndefined();
      // The topologies the random runs use have a key with revocable tokens.
      for (const topo of [LOCAL, THREE, FIVE]) expect(loadTopology(topo).apps[0]!.keys.some((k) => k.revocableTokens)).toBe(true);
    });
  });
});
