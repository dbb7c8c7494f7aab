import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../../src/channel/dedup.js';

describe('DedupWindow', () => {
  it('remembers the serial an id was stored under', () => {
    const w = new DedupWindow();
    w.add('a', 'r~e~1', 1000);
    w.add('b', 'r~e~2', 1000);
    expect(w.lookup('a')).toBe('r~e~1');
    expect(w.lookup('b')).toBe('r~e~2');
    expect(w.lookup('c')).toBeUndefined();
    expect(w.size).toBe(2);
  });

  it('keeps the first serial when an id is added again', () => {
    const w = new DedupWindow();
    w.add('a', 'r~e~1', 1000);
    w.add('a', 'r~e~9', 2000);
    expect(w.lookup('a')).toBe('r~e~1');
    expect(w.size).toBe(1);
    expect(w.entries()).toEqual([{ id: 'a', channelSerial: 'r~e~1', at: 1000 }]);
  });

  it('forgets ids seen before now - window and keeps one seen exactly at the cutoff', () => {
    const w = new DedupWindow();
    w.add('old', 's1', 1000);
    w.add('edge', 's2', 2000);
    w.add('new', 's3', 3000);
    w.expire(7000, 5000);
    expect(w.lookup('old')).toBeUndefined();
    expect(w.lookup('edge')).toBe('s2');
    expect(w.lookup('new')).toBe('s3');
    expect(w.size).toBe(2);
  });

  it('takes an id again, with its new serial, once it has been forgotten', () => {
    const w = new DedupWindow();
    w.add('a', 's1', 1000);
    w.expire(10_000, 5000);
    w.add('a', 's7', 10_000);
    expect(w.lookup('a')).toBe('s7');
    w.expire(12_000, 5000);
    expect(w.lookup('a')).toBe('s7');
    expect(w.entries()).toEqual([{ id: 'a', channelSerial: 's7', at: 10_000 }]);
  });

  it('lists what it holds in time order', () => {
    const w = new DedupWindow();
    for (let i = 0; i < 5; i++) w.add(`m${i}`, `s${i}`, i * 100);
    w.expire(250, 100);
    expect(w.entries()).toEqual([
      { id: 'm2', channelSerial: 's2', at: 200 },
      { id: 'm3', channelSerial: 's3', at: 300 },
      { id: 'm4', channelSerial: 's4', at: 400 },
    ]);
  });

  it('stays correct after compacting many expired ids', () => {
    const w = new DedupWindow();
    for (let i = 0; i < 3000; i++) w.add(`m${i}`, `s${i}`, i);
    w.expire(2500, 0); // forgets m0..m2499
    expect(w.size).toBe(500);
    expect(w.lookup('m2499')).toBeUndefined();
    expect(w.lookup('m2500')).toBe('s2500');
    expect(w.entries().map((e) => e.id)).toEqual(Array.from({ length: 500 }, (_, i) => `m${2500 + i}`));
    w.add('late', 'sL', 3000);
    w.expire(2999, 0);
    expect(w.entries().map((e) => e.id)).toEqual(['m2999', 'late']);
  });
});
