/** The chaos checker's version check (src/chaos/versions-check.ts), through the Checker, on hand-made records. */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { cleanRun } from './history.js';

describe('version probes', () => {
  const append = (t: number, region: string, fragment: string, versionSerial: string, outcome: 'ack' | 'nack' | 'unknown' = 'ack'): RecordEvent => ({
    type: 'append',
    t,
    region,
    serial: 'S',
    fragment,
    outcome,
    ...(outcome === 'unknown' ? {} : { doneAt: t + 5 }),
    ...(outcome === 'ack' ? { versionSerial } : {}),
  });
  const standing = (region: string, data: string | null, serial = 'S'): RecordEvent => ({ type: 'standing', t: 900, region, serial, data, ...(data === null ? { error: 'no answer' } : {}) });
  const appends = [append(100, 'r1', '|r1:1', 'V1'), append(110, 'r2', '|r2:1', 'V2'), append(120, 'r1', '|r1:2', 'V3')];

  it("passes when every region shows the base and every acknowledged append once, in their serials' order", () => {
    const r = check([...cleanRun(), ...appends, standing('r1', 'base|r1:1|r2:1|r1:2'), standing('r2', 'base|r1:1|r2:1|r1:2')]);
    expect(r.verdict).toBe('PASS');
    expect(r.versions).toMatchObject({ appends: { sent: 3, acked: 3 }, messages: 1, regions: ['r1', 'r2'], fragments: 3, diverged: 0, missing: 0, misordered: 0, unchecked: 0 });
    // The probe's events are not the main workload's.
    expect(r.totals.channels).toBe(1);
    expect(check(cleanRun()).versions).toBeNull();
  });

  it('fails a region that shows another message, misses, repeats or misorders an append, cannot be read, or nothing to compare', () => {
    const cases: [string, RecordEvent[], Record<string, number>][] = [
      ['diverged', [standing('r1', 'base|r1:1|r2:1|r1:2'), standing('r2', 'base|r1:1|r2:1')], { diverged: 1, missing: 1 }],
      ['missing', [standing('r1', 'base|r1:1|r1:2'), standing('r2', 'base|r1:1|r1:2')], { missing: 2 }],
      ['twice', [standing('r1', 'base|r1:1|r2:1|r2:1|r1:2')], { duplicated: 1 }],
      ['misordered', [standing('r1', 'base|r2:1|r1:1|r1:2')], { misordered: 1 }],
      ['foreign', [standing('r1', 'bass|r1:1|r2:1|r1:2|x:9')], { foreign: 1 }],
      ['unreadable', [standing('r1', null)], { unreadable: 1, unchecked: 1 }],
      ['nothing read', [], { unchecked: 1 }],
    ];
    for (const [what, reads, off] of cases) {
      const r = check([...cleanRun(), ...appends, ...reads]);
      expect(r.verdict, what).toBe('FAIL');
      expect(r.versions, what).toMatchObject(off);
    }
    // Every append refused: nothing acknowledged to check.
    const refused = check([...cleanRun(), append(100, 'r1', '|r1:1', '', 'nack'), standing('r1', 'base')]);
    expect(refused.versions).toMatchObject({ unchecked: 1 });
  });

  it('leaves out a region that lost continuity after a message was begun, and what was appended through it before; counts a repeat of an append unanswered at a fresh connection as resent', () => {
    const lost: RecordEvent = { type: 'continuity', t: 115, region: 'r2', client: 'versions-r2', channel: 'mutable:versions', resumed: false };
    const r = check([...cleanRun(), ...appends, lost, standing('r1', 'base|r1:1|r1:2'), standing('r2', 'base')]);
    expect(r.verdict).toBe('PASS');
    expect(r.versions).toMatchObject({ regions: ['r1'], excused: ['r2'], missing: 0 });
    // An append through r2 after its signal is expected.
    const after = check([...cleanRun(), ...appends, lost, append(130, 'r2', '|r2:2', 'V4'), standing('r1', 'base|r1:1|r1:2')]);
    expect(after.versions).toMatchObject({ missing: 1 });
    const fresh = (t: number): RecordEvent => ({ type: 'connection', t, region: 'r1', client: 'versions-r1', connectionId: 'b', previous: 'a' });
    const again = check([...cleanRun(), ...appends, fresh(102), standing('r1', 'base|r1:1|r1:1|r2:1|r1:2')]);
    expect(again.verdict).toBe('PASS');
    expect(again.versions).toMatchObject({ duplicated: 0, resent: 1, misordered: 0 });
    // A fresh connection after the append was answered excuses nothing.
    expect(check([...cleanRun(), ...appends, fresh(200), standing('r1', 'base|r1:1|r1:1|r2:1|r1:2')]).versions).toMatchObject({ duplicated: 1, resent: 0 });
    expect(again.notes.join('\n')).not.toMatch(/replaced/);
  });

  it('checks each message begun on its own, and only against its own appends', () => {
    const second = [{ ...appends[0]!, serial: 'T', fragment: '|r1:3' } as RecordEvent];
    const r = check([...cleanRun(), ...appends, ...second, standing('r1', 'base|r1:1|r2:1|r1:2'), standing('r1', 'base|r1:3', 'T'), standing('r2', 'base|r1:3|r1:1', 'T')]);
    expect(r.versions).toMatchObject({ messages: 2, diverged: 1, foreign: 1 });
  });

  describe("the probes' annotations", () => {
    const annotate = (t: number, region: string, n: number, outcome: 'ack' | 'nack' | 'unknown' = 'ack'): RecordEvent => ({
      ...(append(t, region, `ann-${region}-${n}`, '', outcome) as Extract<RecordEvent, { type: 'append' }>),
      annotation: true,
      versionSerial: undefined,
    });
    const counts = (c: Record<string, number>, votes: Record<string, number> = { r1: 1 }) =>
      JSON.stringify({
        counts: Object.fromEntries(Object.entries(c).map(([r, n]) => [r, { total: n, clientIds: { 'versions-probe': n }, totalUnidentified: 0, clipped: false, totalClientIds: 1 }])),
        votes: Object.fromEntries(Object.entries(votes).map(([r, n]) => [r, { total: n, clientIds: ['versions-probe'], clipped: false }])),
      });
    const read = (region: string, summary: string): RecordEvent => ({ ...(standing(region, 'base|r1:1|r2:1|r1:2') as Extract<RecordEvent, { type: 'standing' }>), summary });
    const sent = [annotate(100, 'r1', 1), annotate(110, 'r2', 1), annotate(120, 'r1', 2), annotate(125, 'r1', 3, 'unknown')];

    it('passes when every region sums them up the same, each count between the acknowledged and the sent', () => {
      for (const r1 of [2, 3]) {
        const r = check([...cleanRun(), ...appends, ...sent, read('r1', counts({ r1, r2: 1 })), read('r2', counts({ r2: 1, r1 }))]);
        expect(r.verdict, `r1 counted ${r1}`).toBe('PASS');
        expect(r.versions!.annotations).toEqual({ sent: 4, acked: 3, nacked: 0, unknown: 1, counted: 1, diverged: 0, short: 0, over: 0, split: 0 });
        // No vote standing (the last was taken back) is as good as one.
        expect(check([...cleanRun(), ...appends, ...sent, read('r1', counts({ r1, r2: 1 }, {}))]).verdict).toBe('PASS');
      }
    });

    it('fails a summary of another region unlike the others, a count short of the acknowledged or over the sent, another clientId, votes under two names, or none acknowledged', () => {
      const cases: [string, RecordEvent[], Record<string, unknown>][] = [
        ['diverged', [...sent, read('r1', counts({ r1: 2, r2: 1 })), read('r2', counts({ r1: 3, r2: 1 }))], { annotations: { diverged: 1 } }],
        ['short', [...sent, read('r1', counts({ r1: 1, r2: 1 }))], { annotations: { short: 1 } }],
        ['over', [...sent, read('r1', counts({ r1: 4, r2: 1 }))], { annotations: { over: 1 } }],
        ['foreign', [...sent, read('r1', counts({ r1: 2, r2: 1 }).replace('"versions-probe":1', '"someone":1'))], { foreign: 1 }],
        ['split', [...sent, read('r1', counts({ r1: 2, r2: 1 }, { r1: 1, r2: 1 }))], { annotations: { split: 1 } }],
        ['none acknowledged', [annotate(100, 'r1', 1, 'nack'), read('r1', counts({}))], { unchecked: 1 }],
      ];
      for (const [what, events, off] of cases) {
        const r = check([...cleanRun(), ...appends, ...events]);
        expect(r.verdict, what).toBe('FAIL');
        expect(r.versions, what).toMatchObject(off);
      }
    });
  });
});
