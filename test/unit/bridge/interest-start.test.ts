import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InterestStarts, type Release } from '../../../src/bridge/interest-start.js';
import { ForwardedEntries } from '../../../src/transport/entry-lists.js';
import type { ForwardedBatch } from '../../../src/transport/messages.js';

/** A batch of `bytes` bytes whose last origin seq is `seq` (its bytes are not read here). */
function batch(channel: string, seq: number, bytes = 100): ForwardedBatch {
  return { channel, region: 'r1', epoch: 'e1', gapBefore: false, entries: ForwardedEntries.fromBytes(Buffer.alloc(bytes), 1, seq) };
}

describe('InterestStarts', () => {
  let released: Release[];
  let starts: InterestStarts;
  beforeEach(() => {
    vi.useFakeTimers();
    released = [];
    starts = new InterestStarts({ timeoutMs: 2000, maxBytes: 1000 }, (r) => released.push(r));
  });
  afterEach(() => vi.useRealTimers());

  it('holds a new interest\'s live batches until its start, then gives them back in order, once', () => {
    starts.begin('r3', 'app:ch');
    expect(starts.hold('r3', batch('app:ch', 5))).toBe(true);
    expect(starts.hold('r3', batch('app:ch', 6))).toBe(true);
    // Other regions and other channels go at once.
    expect(starts.hold('r2', batch('app:ch', 6))).toBe(false);
    expect(starts.hold('r3', batch('app:other', 1))).toBe(false);
    expect(starts.pending).toBe(1);
    expect(starts.started('r3', 'app:ch').map((b) => b.entries.lastSeq)).toEqual([5, 6]);
    expect(starts.hold('r3', batch('app:ch', 7))).toBe(false);
    expect(starts.started('r3', 'app:ch')).toEqual([]);
    vi.advanceTimersByTime(5000);
    expect(released).toEqual([]);
    expect(starts.counts).toEqual({ waited: 1, timedOut: 0, full: 0 });
  });

  it('gives a start nobody waited for nothing to follow', () => {
    expect(starts.started('r3', 'app:ch')).toEqual([]);
    expect(starts.hold('r3', batch('app:ch', 1))).toBe(false);
  });

  it('lets a wait with nothing held end quietly (a channel not published here)', () => {
    starts.begin('r3', 'app:quiet');
    vi.advanceTimersByTime(2000);
    expect(released).toEqual([]);
    expect(starts.pending).toBe(0);
    expect(starts.counts).toEqual({ waited: 1, timedOut: 0, full: 0 });
  });

  it('releases what waited when the start does not come in time', () => {
    starts.begin('r3', 'app:ch');
    starts.hold('r3', batch('app:ch', 5));
    starts.hold('r3', batch('app:ch', 6));
    vi.advanceTimersByTime(1999);
    expect(released).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(released.map((r) => [r.region, r.why, r.batches.map((b) => b.entries.lastSeq)])).toEqual([['r3', 'timeout', [5, 6]]]);
    expect(starts.hold('r3', batch('app:ch', 7))).toBe(false);
    expect(starts.counts).toEqual({ waited: 1, timedOut: 1, full: 0 });
  });

  it('releases what waited, the batch that overflowed included, past the byte bound', () => {
    starts.begin('r3', 'app:ch');
    expect(starts.hold('r3', batch('app:ch', 5, 600))).toBe(true);
    expect(starts.hold('r3', batch('app:ch', 6, 600))).toBe(true);
    expect(released.map((r) => [r.why, r.batches.map((b) => b.entries.lastSeq)])).toEqual([['full', [5, 6]]]);
    expect(starts.hold('r3', batch('app:ch', 7))).toBe(false);
    expect(starts.counts.full).toBe(1);
  });

  it('drops what waited when the interest ends or the region\'s link goes down', () => {
    starts.begin('r3', 'app:a');
    starts.begin('r3', 'app:b');
    starts.begin('r2', 'app:a');
    starts.hold('r3', batch('app:a', 1));
    starts.end('r3', 'app:a');
    expect(starts.started('r3', 'app:a')).toEqual([]);
    starts.endRegion('r3');
    expect(starts.hold('r3', batch('app:b', 1))).toBe(false);
    expect(starts.hold('r2', batch('app:a', 1))).toBe(true);
    vi.advanceTimersByTime(5000);
    // Only r2's wait was left to time out.
    expect(released.map((r) => r.region)).toEqual(['r2']);
  });

  it('waits on interest a snapshot adds to what the role held; on a first snapshot, only where the audit found the master did not know', () => {
    const waits = (region: string, channel: string, seq = 1) => starts.hold(region, batch(channel, seq));
    // A view held before (the link was down): every addition is new to the masters.
    starts.added('r3', 'app:a', true);
    expect(waits('r3', 'app:a')).toBe(true);
    // After an audit: what the masters knew goes at once, the rest waits for its start.
    starts.audited([
      { channel: 'app:c', remote: [{ region: 'r3' }] },
      { channel: 'app:d', remote: [{ region: 'r2' }] },
    ]);
    starts.added('r3', 'app:c', false);
    starts.added('r3', 'app:d', false);
    expect(waits('r3', 'app:c')).toBe(false);
    expect(waits('r3', 'app:d')).toBe(true);
    // A channel whose master did not answer the audit: no start is known to come, so it does not wait.
    starts.added('r3', 'app:unheard', false);
    expect(waits('r3', 'app:unheard')).toBe(false);
    expect(starts.counts.waited).toBe(2);
    expect(released).toEqual([]);
  });

  it("holds a new role's first snapshot until its first audit, which sends on what the master knew and keeps the rest waiting", () => {
    starts.added('r3', 'app:known', false);
    starts.added('r3', 'app:new', false);
    starts.added('r3', 'app:ended', false);
    for (const seq of [1, 2]) {
      expect(starts.hold('r3', batch('app:known', seq))).toBe(true);
      expect(starts.hold('r3', batch('app:new', seq))).toBe(true);
    }
    starts.end('r3', 'app:ended');
    expect(starts.counts.waited).toBe(0);
    starts.added('r3', 'app:unheard', false);
    expect(starts.hold('r3', batch('app:unheard', 1))).toBe(true);
    starts.audited([
      { channel: 'app:known', remote: [{ region: 'r3' }] },
      { channel: 'app:new', remote: [] },
      { channel: 'app:ended', remote: [{ region: 'r3' }] },
    ]);
    // The master of app:unheard did not answer (an audit that was not complete): it goes on too.
    expect(released.map((r) => [r.region, r.why, r.batches.map((b) => `${b.channel}:${b.entries.lastSeq}`)])).toEqual([
      ['r3', 'known', ['app:known:1', 'app:known:2']],
      ['r3', 'known', ['app:unheard:1']],
    ]);
    expect(starts.hold('r3', batch('app:known', 3))).toBe(false);
    expect(starts.hold('r3', batch('app:new', 3))).toBe(true);
    expect(starts.counts).toEqual({ waited: 1, timedOut: 0, full: 0 });
    expect(starts.started('r3', 'app:new').map((b) => b.entries.lastSeq)).toEqual([1, 2, 3]);
    // The role given up and taken again: no audit yet, so its first snapshot waits again.
    starts.forgetAudit();
    starts.added('r3', 'app:later', false);
    expect(starts.hold('r3', batch('app:later', 1))).toBe(true);
  });
});
