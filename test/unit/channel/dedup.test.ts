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

  it('forgets the oldest ids while the ids and serials it holds take more than maxBytes, still finding the others', () => {
    const w = new DedupWindow({ segmentBits: 2 });
    for (let i = 0; i < 20; i++) w.add(`id-${i}`, `s~${i}`, 1000 + i); // 4 or 5 bytes of id, 3 or 4 of serial
    const held = w.entryBytes;
    expect(held).toBe(20 * 4 + 10 + 20 * 3 + 10);
    w.expire(2000, 60_000, held);
    expect(w.size).toBe(20);
    // id-0 … id-9 hold 7 bytes each, the rest 9: room for 10 of the newest less one byte drops 11.
    w.expire(2000, 60_000, 10 * 9 - 1);
    expect(w.size).toBe(9);
    expect(w.entryBytes).toBe(9 * 9);
    expect(w.lookup('id-10')).toBeUndefined();
    expect(w.lookup('id-11')).toBe('s~11');
    expect(w.lookup('id-19')).toBe('s~19');
    w.add('id-20', 's~20', 1020);
    expect(w.entryBytes).toBe(10 * 9);
    w.expire(2000, 60_000, 0);
    expect([w.size, w.entryBytes, w.empty]).toEqual([0, 0, true]);
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

  it('answers lookups for ids added without one (indexed on the first lookup), after expiry too', () => {
    const w = new DedupWindow();
    for (let i = 0; i < 10; i++) w.add(`m${i}`, `s${i}`, i * 100);
    w.expire(450, 100); // m0..m3 expire before anything was indexed
    expect(w.empty).toBe(false);
    expect(w.lookup('m3')).toBeUndefined();
    expect(w.lookup('m4')).toBe('s4');
    expect(w.lookup('m9')).toBe('s9');
    w.add('m10', 's10', 1000);
    expect(w.lookup('m10')).toBe('s10');
    expect(w.size).toBe(7);
    w.expire(5000, 100);
    expect(w.empty).toBe(true);
    expect(w.size).toBe(0);
  });

  it('a slot that expires removes its id only if the id still maps to that slot\'s serial', () => {
    const w = new DedupWindow();
    w.add('x', 's1', 1000);
    w.add('x', 's1', 2000); // the same message again (a resent batch)
    expect(w.lookup('x')).toBe('s1');
    w.expire(6500, 5000); // the first slot goes, and x with it
    expect(w.lookup('x')).toBeUndefined();
    w.addNew('x', 's7', 6500); // published anew once forgotten
    w.expire(7500, 5000); // the old repeat's slot goes: x must stay, with its new serial
    expect(w.lookup('x')).toBe('s7');
    expect(w.entries()).toEqual([{ id: 'x', channelSerial: 's7', at: 6500 }]);
  });

  it('mixes ids looked up and ids only added, in time order', () => {
    const w = new DedupWindow();
    w.add('a', 'sa', 1);
    expect(w.lookup('b')).toBeUndefined();
    w.addNew('b', 'sb', 2);
    w.add('c', 'sc', 3);
    w.add('a', 'sz', 4); // a repeat: the first serial stays
    expect(w.lookup('a')).toBe('sa');
    expect(w.lookup('c')).toBe('sc');
    expect(w.entries().map((e) => e.id)).toEqual(['a', 'b', 'c']);
  });

  it('drops a window that expires whole at once, and takes ids again after it', () => {
    const w = new DedupWindow({ segmentBits: 2, splitAt: 8, splitBits: 2 });
    for (let t = 0; t < 100; t++) w.addNew(`id-${t}`, `s${t}`, t);
    w.expire(150, 50); // everything is older than 100
    expect(w.empty).toBe(true);
    expect(w.size).toBe(0);
    expect(w.bytes).toBe(0);
    expect(w.lookup('id-99')).toBeUndefined();
    w.addNew('id-99', 'again', 160);
    w.expire(160, 50);
    expect(w.lookup('id-99')).toBe('again');
  });

  it('refuses an index split into fewer than two tables', () => {
    expect(() => new DedupWindow({ splitBits: 0 })).toThrow(/splitBits/);
  });
});

