import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TopologyError } from '../../../src/config/topology.js';
import { clockFileEnv, clockOffsetEnv, nodeOffsets, setClockFile } from '../../../src/chaos/clocks.js';
import { checkScenarioRegions, loadScenario } from '../../../src/chaos/scenario.js';
import { removeTempDir, tempDir } from '../../helpers/tmp.js';

const dir = tempDir('scenario');
afterAll(() => removeTempDir(dir));

function scenario(name: string, body: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\ntopology: t.yaml\ndurationS: 20\n${body}`);
  return loadScenario(file);
}

function errorsOf(f: () => void): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof TopologyError) return e.problems;
    throw e;
  }
  return [];
}

describe('chaos scenario files', () => {
  it('reads late subscribers: a subscribe action and regions that start with another count', () => {
    const s = scenario(
      'late',
      'workload: { subscribersByRegion: { ap: 0 } }\ntimeline:\n  - { at: 5, action: subscribe, region: ap, subscribers: 3 }\n  - { at: 6, action: subscribe, region: us }\n',
    );
    expect(s.workload).toMatchObject({ subscribersPerRegion: 2, subscribersByRegion: { ap: 0 } });
    expect(s.timeline).toEqual([
      { at: 5, action: 'subscribe', region: 'ap', subscribers: 3 },
      { at: 6, action: 'subscribe', region: 'us', subscribers: 1 },
    ]);
    expect(errorsOf(() => scenario('bad', 'timeline:\n  - { at: 5, action: subscribe, region: ap, subscribers: 0 }\n'))).toEqual([
      'timeline[0].subscribers: Too small: expected number to be >=1',
    ]);
  });

  it('reads token auth for the workload, a lifetime of 5 s to an hour (absent, the key), and revocation probes', () => {
    expect(scenario('key', '').workload.tokenTtlS).toBeUndefined();
    expect(scenario('tokens', 'workload: { tokenTtlS: 6 }\n').workload.tokenTtlS).toBe(6);
    expect(errorsOf(() => scenario('short', 'workload: { tokenTtlS: 1 }\n'))).toEqual(['workload.tokenTtlS: Too small: expected number to be >=5']);
    expect(scenario('probes', 'workload: { revokeEveryS: 8 }\n').workload.revokeEveryS).toBe(8);
  });

  it('reads a move between two regions and names a move that goes nowhere, or to a region the topology lacks', () => {
    const s = scenario('move', 'timeline:\n  - { at: 5, action: move, from: eu, to: us, subscribers: 2, afterS: 3 }\n  - { at: 6, action: move, from: us, to: ap }\n');
    expect(s.timeline).toEqual([
      { at: 5, action: 'move', from: 'eu', to: 'us', subscribers: 2, afterS: 3 },
      { at: 6, action: 'move', from: 'us', to: 'ap', subscribers: 1, afterS: 0 },
    ]);
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us']))).toEqual(['timeline[1].to: no region "ap" in t.yaml (it has eu, us)']);
    expect(errorsOf(() => scenario('nowhere', 'timeline:\n  - { at: 5, action: move, from: eu, to: eu }\n'))).toEqual([
      'timeline[0].to: from and to must be different regions',
    ]);
    expect(errorsOf(() => scenario('late', 'timeline:\n  - { at: 5, action: move, from: eu, to: us, afterS: 60 }\n'))).toEqual([
      'timeline[0].afterS: the subscribers would arrive after the end (5 + 60 s > durationS 20)',
    ]);
  });

  it('takes NATS server actions only for a region on NATS, killing the busiest server when none is named', () => {
    const s = scenario('nats', 'timeline:\n  - { at: 5, action: nats-kill, region: eu }\n  - { at: 6, action: nats-kill, region: us, server: 2 }\n  - { at: 9, action: nats-restart, region: us }\n');
    expect(s.timeline[0]).toEqual({ at: 5, action: 'nats-kill', region: 'eu', server: 'busiest' });
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us'], [], ['eu']))).toEqual([
      'timeline[1].region: region "us" does not run on NATS (transport: nats in t.yaml)',
      'timeline[2].region: region "us" does not run on NATS (transport: nats in t.yaml)',
    ]);
    expect(errorsOf(() => scenario('nats-zero', 'timeline:\n  - { at: 5, action: nats-kill, region: eu, server: 0 }\n'))).toEqual(['timeline[0].server: Too small: expected number to be >=1']);
  });

  it("reads regions' clock offsets, and names one libfaketime would not read or a region the topology lacks", () => {
    const s = scenario('clocks', "clocks: { us: '+6s', ap: '-1.5m' }\n");
    expect(s.clocks).toEqual({ us: '+6s', ap: '-1.5m' });
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us']))).toEqual(['clocks.ap: no region or node "ap" in t.yaml (regions eu, us)']);
    expect(errorsOf(() => scenario('bad-clock', "clocks: { us: '6 seconds' }\n"))).toEqual(['clocks.us: a clock offset: a sign, a number, and s, m, h or d (say +6s)']);
    expect(scenario('no-clocks', '').clocks).toEqual({});
    expect(clockOffsetEnv('+6s')).toMatchObject({ FAKETIME: '+6s', FAKETIME_DONT_FAKE_MONOTONIC: '1' });
    expect(() => clockOffsetEnv('tomorrow')).toThrow(/not one libfaketime reads/);
  });

  it("reads nodes' clock offsets, a node's own replacing its region's", () => {
    const s = scenario('node-clocks', "clocks: { us: '+6s', us-2: '-2s', eu-1: '+1.5s' }\n");
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us'], ['eu-1', 'eu-2', 'us-1', 'us-2']))).toEqual([]);
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us'], ['eu-2', 'us-1', 'us-2']))).toEqual(['clocks.eu-1: no region or node "eu-1" in t.yaml (regions eu, us)']);
    const offsets = nodeOffsets(s.clocks, [
      { name: 'eu', nodes: [{ name: 'eu-1' }, { name: 'eu-2' }] },
      { name: 'us', nodes: [{ name: 'us-1' }, { name: 'us-2' }] },
    ]);
    expect(Object.fromEntries(offsets)).toEqual({ 'eu-1': '+1.5s', 'eu-2': '+0s', 'us-1': '+6s', 'us-2': '-2s' });
  });

  it("reads a clock step, and writes the node's clock file libfaketime reads", () => {
    const s = scenario('clock-step', "timeline:\n  - { at: 5, action: clock, node: 'master:chaos-0@eu', offset: '-6s' }\n");
    expect(s.timeline).toEqual([{ at: 5, action: 'clock', node: 'master:chaos-0@eu', offset: '-6s' }]);
    expect(errorsOf(() => scenario('bad-step', "timeline:\n  - { at: 5, action: clock, node: eu-1, offset: 'soon' }\n"))).toEqual([
      'timeline[0].offset: a clock offset: a sign, a number, and s, m, h or d (say +6s)',
    ]);
    const file = join(dir, 'eu-1.clock');
    setClockFile(file, '-6s');
    expect(readFileSync(file, 'utf8')).toBe('-6s\n');
    expect(clockFileEnv(file)).toMatchObject({ FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' });
    expect(clockFileEnv(file).FAKETIME).toBeUndefined();
    expect(() => setClockFile(file, 'yesterday')).toThrow(/not one libfaketime reads/);
  });

  it("names every region the topology lacks, with where it is named", () => {
    const s = scenario(
      'regions',
      'workload: { subscribersByRegion: { mars: 0 } }\ntimeline:\n  - { at: 1, action: partition, a: eu, b: ap }\n  - { at: 2, action: subscribe, region: us }\n  - { at: 3, action: rolling-restart, region: eu }\n',
    );
    expect(() => checkScenarioRegions(s, ['eu', 'ap', 'us'])).toThrow(TopologyError);
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us']))).toEqual([
      'workload.subscribersByRegion.mars: no region "mars" in t.yaml (it has eu, us)',
      'timeline[0].b: no region "ap" in t.yaml (it has eu, us)',
    ]);
    expect(errorsOf(() => checkScenarioRegions(s, ['eu', 'us', 'ap', 'mars']))).toEqual([]);
  });

  it('names a node with "as" for a later "@NAME", and refuses a name not given before, given twice, or "last"', () => {
    const s = scenario(
      'named',
      'timeline:\n  - { at: 1, action: pause, node: "replica:c@eu", as: copy }\n  - { at: 1, action: kill, node: "master:c@eu", as: m-1 }\n  - { at: 3, action: restart, node: "@m-1" }\n  - { at: 4, action: resume, node: "@copy" }\n  - { at: 5, action: isolate, node: eu-1, from: "@copy" }\n',
    );
    expect(s.timeline.slice(0, 3)).toEqual([
      { at: 1, action: 'pause', node: 'replica:c@eu', as: 'copy' },
      { at: 1, action: 'kill', node: 'master:c@eu', as: 'm-1' },
      { at: 3, action: 'restart', node: '@m-1' },
    ]);
    expect(
      errorsOf(() =>
        scenario(
          'unnamed',
          'timeline:\n  - { at: 1, action: restart, node: "@x" }\n  - { at: 2, action: kill, node: eu-1, as: x }\n  - { at: 3, action: stop, node: eu-2, as: x }\n  - { at: 4, action: rejoin, node: eu-3, from: "@y" }\n  - { at: 5, action: restart, node: "@last:eu" }\n',
        ),
      ),
    ).toEqual([
      'timeline[0].node: "@x" is not named by an earlier action\'s "as"',
      'timeline[2].as: "x" is already the name of an earlier action\'s node',
      'timeline[3].from: "@y" is not named by an earlier action\'s "as"',
    ]);
    expect(errorsOf(() => scenario('last', 'timeline:\n  - { at: 1, action: kill, node: eu-1, as: last }\n'))).toEqual(['timeline[0].as: "last" is taken by @last']);
    // Only the faults that start something are named.
    expect(errorsOf(() => scenario('resume-as', 'timeline:\n  - { at: 1, action: resume, node: eu-1, as: r }\n'))).toEqual([
      expect.stringMatching(/^timeline\[0\]: Unrecognized key: "as"/),
    ]);
  });
});
