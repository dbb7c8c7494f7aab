import { describe, expect, it } from 'vitest';
import { lifecycleFailed, lifecycleFigures, lifecycleLines, lifecycleRecordProblem, regionsLosingTwo, type LifecycleRecordEvent } from '../../../src/chaos/lifecycle-check.js';
import type { FaultEvent } from '../../../src/chaos/record.js';
import { validateRecordEvent as validateEvent } from '../../../src/chaos/record.js';

const NODES = { eu: ['eu-1', 'eu-2', 'eu-3'], us: ['us-1', 'us-2', 'us-3'] };

let n = 0;
const ev = (name: string, channel: string, region?: string) => ({ id: `id${n++}`, name, channel, ...(region ? { region } : {}) });

function view(events: LifecycleRecordEvent['events'], o: { region?: string; attached?: Record<string, string[]> } = {}): LifecycleRecordEvent {
  return { type: 'lifecycle', t: 1, region: o.region ?? 'eu', events, attached: o.attached ?? { c: ['eu', 'us'] }, home: { c: 'us' }, nodes: NODES };
}

const OPEN_BOTH = [ev('channel.region.active', 'c', 'eu'), ev('channel.opened', 'c'), ev('channel.region.active', 'c', 'us')];
const kill = (target: string, t: number, phase: 'start' | 'end' = 'start'): FaultEvent => ({ type: 'fault', t, action: 'kill', target, phase });

describe('lifecycleFigures', () => {
  it('passes a channel opened and active in each region with clients, after any number of whole cycles', () => {
    const cycles = [
      ...OPEN_BOTH,
      ev('channel.region.inactive', 'c', 'us'),
      ev('channel.region.active', 'c', 'us'),
      // Another channel's events, and a channel not the workload's, are no one's business here.
      ev('channel.region.active', 'other', 'eu'),
    ];
    const f = lifecycleFigures([view(cycles), view(cycles, { region: 'us' })], [], 10)!;
    expect(f).toMatchObject({ views: 2, events: 12, repeated: 0, missing: 0, beyond: 0, unread: 0 });
    expect(lifecycleFailed(f)).toBe(false);
  });

  it('fails a start told twice, and an end told while clients stayed', () => {
    const repeated = [...OPEN_BOTH, ev('channel.region.active', 'c', 'eu')];
    const f = lifecycleFigures([view(repeated)], [], 10)!;
    expect(f.repeated).toBe(1);
    expect(f.examples[0]).toMatch(/channel.region.active of eu twice in a row/);
    expect(lifecycleFailed(f)).toBe(true);

    const ended = [...OPEN_BOTH, ev('channel.region.inactive', 'c', 'us'), ev('channel.closed', 'c')];
    const g = lifecycleFigures([view(ended)], [], 10)!;
    // us's last is inactive though its clients are attached, and the channel's last is closed.
    expect(g).toMatchObject({ repeated: 0, missing: 2 });
    expect(lifecycleLines(g, '  ')[0]).toMatch(/repeated 0, missing 2/);
  });

  it('fails a start never told', () => {
    const f = lifecycleFigures([view([ev('channel.region.active', 'c', 'eu')])], [], 10)!;
    // us's active and the channel's opening.
    expect(f.missing).toBe(2);
    // A region without clients at the end is not expected to be active.
    expect(lifecycleFigures([view([ev('channel.region.active', 'c', 'eu'), ev('channel.opened', 'c')], { attached: { c: ['eu'] } })], [], 10)!.missing).toBe(0);
  });

  it('counts a repeat apart where two nodes of the region were down at once, not one after the other', () => {
    const repeated = [...OPEN_BOTH, ev('channel.region.active', 'c', 'us'), ev('channel.opened', 'c')];
    const both = lifecycleFigures([view(repeated)], [kill('us-1', 1), kill('us-2', 2)], 10)!;
    // us is also the home: its opening repeated is beyond too.
    expect(both).toMatchObject({ repeated: 0, beyond: 2 });
    expect(lifecycleFailed(both)).toBe(false);
    const apart = lifecycleFigures([view(repeated)], [kill('us-1', 1), kill('us-1', 2, 'end'), kill('us-2', 3)], 10)!;
    expect(apart).toMatchObject({ repeated: 2, beyond: 0 });
    // Two of another region: no excuse for us's events, in us's history.
    expect(lifecycleFigures([view(repeated, { region: 'us' })], [kill('eu-1', 1), kill('eu-2', 2)], 10)!.repeated).toBe(2);
    // A start missing from us's history of eu, where eu lost two: counted apart.
    expect(lifecycleFigures([view([ev('channel.region.active', 'c', 'us'), ev('channel.opened', 'c')], { region: 'us' })], [kill('eu-1', 1), kill('eu-2', 2)], 10)!).toMatchObject({ missing: 0, beyond: 1 });
    // In the history of a region that lost two, nothing is held against anyone (the metachannel's copies may have gone).
    expect(lifecycleFigures([view([ev('channel.region.active', 'c', 'eu')])], [kill('eu-1', 1), kill('eu-2', 2)], 10)!).toMatchObject({ missing: 0, beyond: 2 });
  });

  it('fails a history it could not read, and has nothing to say without any', () => {
    const f = lifecycleFigures([{ ...view([]), error: 'timeout' }], [], 10)!;
    expect(f.unread).toBe(1);
    expect(lifecycleFailed(f)).toBe(true);
    expect(lifecycleFigures([], [], 10)).toBeNull();
  });
});

describe('regionsLosingTwo', () => {
  it('names a region only while two of its nodes are out together (killed, paused, cut off whole or stopped)', () => {
    expect([...regionsLosingTwo([kill('eu-1', 1), kill('eu-1', 2, 'end'), kill('eu-2', 3)], NODES)]).toEqual([]);
    expect([...regionsLosingTwo([kill('eu-2', 3), kill('eu-1', 1)], NODES)]).toEqual(['eu']);
    // A stop takes its replica copies with it (seed 5203): with another node out, two are.
    expect([...regionsLosingTwo([{ type: 'fault', t: 1, action: 'stop', target: 'eu-1', phase: 'start' }, kill('eu-2', 2)], NODES)]).toEqual(['eu']);
    expect([...regionsLosingTwo([{ type: 'fault', t: 1, action: 'stop', target: 'eu-1', phase: 'start' }, { type: 'fault', t: 2, action: 'stop', target: 'eu-1', phase: 'end' }, kill('eu-2', 3)], NODES)]).toEqual([]);
    // A paused replica and its master killed (master-and-replica-killed); a node cut off from one other is not out.
    expect([...regionsLosingTwo([{ type: 'fault', t: 1, action: 'pause', target: 'eu-3', phase: 'start' }, kill('eu-1', 2)], NODES)]).toEqual(['eu']);
    expect([...regionsLosingTwo([{ type: 'fault', t: 1, action: 'isolate', target: 'eu-3 from eu-2', phase: 'start' }, kill('eu-1', 2)], NODES)]).toEqual([]);
  });
});

describe('lifecycle record lines', () => {
  it('are validated', () => {
    expect(lifecycleRecordProblem(view(OPEN_BOTH) as unknown as Record<string, unknown>)).toBeNull();
    expect(() => validateEvent(view(OPEN_BOTH), 1)).not.toThrow();
    expect(() => validateEvent({ ...view(OPEN_BOTH), attached: { c: [1] } }, 1)).toThrow(/attached/);
    expect(() => validateEvent({ ...view(OPEN_BOTH), events: [{ channel: 'c' }] }, 1)).toThrow(/events/);
  });
});
