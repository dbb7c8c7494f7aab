/**
 * The chaos checker's history check (src/chaos/history-check.ts): each region's stored
 * history of a channel, read after the drain, against what was acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { cleanRun, del, gap, pub, sub, unsub } from './history.js';

/** A `history` line: the channel `ch` as region `region` stores it (read at 1000, two minutes kept). */
function stored(region: string, items: string[], o: { historyMs?: number; maxMessages?: number; error?: string } = {}): RecordEvent {
  return { type: 'history', t: 1000, region, channel: 'ch', items, historyMs: o.historyMs ?? 120_000, maxMessages: o.maxMessages ?? 10_000, ...(o.error ? { error: o.error } : {}) };
}

const ALL = ['p1#1', 'p1#2', 'p1#3'];

describe('check history', () => {
  it('has no history figures when the record has no history lines', () => {
    expect(check(cleanRun()).history).toBeNull();
  });

  it("passes when each region's history holds every acknowledged message once, in its publisher's order", () => {
    const r = check([...cleanRun(), stored('r1', ALL), stored('r2', ALL)]);
    expect(r.verdict).toBe('PASS');
    // r1's own three; r2 (subscriber c from the start) another region's three.
    expect(r.history).toEqual({ reads: 2, items: 6, expected: 6, excused: 0, missing: 0, duplicates: 0, order: 0, unread: 0, examples: [] });
  });

  it('fails a history missing an acknowledged message, and names it', () => {
    const r = check([...cleanRun(), stored('r1', ALL), stored('r2', ['p1#1', 'p1#3'])]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.history).toMatchObject({ expected: 6, missing: 1 });
    expect(r.history!.examples).toEqual([{ kind: 'missing', region: 'r2', channel: 'ch', publisher: 'p1', seq: 2 }]);
  });

  it('fails a history that holds a message twice, or after a later one of its publisher', () => {
    const twice = check([...cleanRun(), stored('r1', ['p1#1', 'p1#2', 'p1#2', 'p1#3']), stored('r2', ALL)]);
    expect(twice.verdict).toBe('FAIL');
    expect(twice.history).toMatchObject({ duplicates: 1, order: 0, missing: 0 });
    const swapped = check([...cleanRun(), stored('r1', ['p1#1', 'p1#3', 'p1#2']), stored('r2', ALL)]);
    expect(swapped.verdict).toBe('FAIL');
    expect(swapped.history).toMatchObject({ duplicates: 0, order: 1, missing: 0 });
    expect(swapped.history!.examples).toEqual([{ kind: 'order', region: 'r1', channel: 'ch', publisher: 'p1', seq: 2, detail: 'after #3' }]);
  });

  it('fails a history that could not be read', () => {
    const r = check([...cleanRun(), stored('r1', ALL), stored('r2', [], { error: 'timed out' })]);
    expect(r.verdict).toBe('FAIL');
    expect(r.history).toMatchObject({ unread: 1, expected: 3 });
  });

  it("excuses what was published before a continuity signal in the region (its state may have gone with it)", () => {
    const r = check([...cleanRun(), gap(250, 'c'), stored('r1', ALL), stored('r2', ['p1#3'])]);
    expect(r.verdict).toBe('PASS');
    expect(r.history).toMatchObject({ expected: 4, excused: 2, missing: 0 });
  });

  it("expects another region's messages only where the channel had a subscriber, from when it came", () => {
    // Without c, r2 has no interest: only its own messages (q1's) are expected there.
    const noC = [...cleanRun().filter((e) => !('client' in e && e.client === 'c')), pub(150, 'q1', 1), del(190, 'a', 'q1', 1, 150), del(190, 'b', 'q1', 1, 150)];
    const inR1 = ['p1#1', 'q1#1', 'p1#2', 'p1#3'];
    const r = check([...noC, stored('r1', inR1), stored('r2', ['q1#1'])]);
    expect(r.verdict).toBe('PASS');
    // r1: its three and r2's one; r2: its own one, none of r1's.
    expect(r.history).toMatchObject({ expected: 5, missing: 0 });
    // Its own are expected all the same.
    expect(check([...noC, stored('r1', inR1), stored('r2', [])]).history).toMatchObject({ missing: 1 });
  });

  it("expects another region's messages only since the region last came to have a subscriber", () => {
    // c leaves r2 at 150; d comes at 250: r2's interest begins again then, and only p1#3 is expected there.
    const gapInInterest = [...cleanRun(), unsub(150, 'c'), sub(250, 'd'), del(350, 'd', 'p1', 3, 300)];
    const r = check([...gapInInterest, stored('r1', ALL), stored('r2', ['p1#3'])]);
    expect(r.history).toMatchObject({ expected: 4, missing: 0 });
    expect(r.verdict).toBe('PASS');
    // With nobody there at the end, none of another region's messages is expected.
    const left = check([...cleanRun(), unsub(400, 'c'), stored('r1', ALL), stored('r2', [])]);
    expect(left.history).toMatchObject({ expected: 3, missing: 0 });
  });

  it('does not expect what the retention let go, by age or by the count cap', () => {
    // Read at 1000 with 5.7 s kept: messages before 1000 − 5700 + 5000 = 300 may be gone.
    // A history half as long as its cap (presence counts against it too) may have lost
    // its oldest: nothing before its first message is expected.
    const r = check([...cleanRun(), stored('r1', ['p1#3'], { historyMs: 5700 }), stored('r2', ['p1#2', 'p1#3'], { maxMessages: 4 })]);
    expect(r.verdict).toBe('PASS');
    expect(r.history).toMatchObject({ expected: 3, missing: 0 });
    // Below half of the cap, what is missing is missing.
    expect(check([...cleanRun(), stored('r1', ALL), stored('r2', ['p1#2', 'p1#3'], { maxMessages: 5 })]).history).toMatchObject({ missing: 1 });
  });
});
