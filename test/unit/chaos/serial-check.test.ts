/** The chaos checker's serial check (src/chaos/serial-check.ts), through the Checker, on hand-made records. */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { cleanRun, serialOf } from './history.js';

describe('message serials', () => {
  const history = (region: string, items: string[], serials: string[]): RecordEvent => ({ type: 'history', t: 900, region, channel: 'ch', items, serials, historyMs: 120_000, maxMessages: 10_000 });
  /** A clean run in which `client` was sent p1's `seq` under `serial`. */
  const reserial = (client: string, seq: number, serial: string | undefined) =>
    cleanRun().map((e) => (e.type === 'deliver' && e.client === client && e.seq === seq ? { ...e, serial } : e));
  const stored = (region: string) => history(region, ['p1#1', 'p1#2', 'p1#3'], [1, 2, 3].map((s) => serialOf('p1', s)));

  it('passes a run in which each message had one serial in its ACK, every delivery and every history', () => {
    const r = check([...cleanRun(), stored('r1'), stored('r2')]);
    expect(r.verdict).toBe('PASS');
    // 3 ACKs, 9 deliveries, 6 history items.
    expect(r.serials).toEqual({ messages: 3, sightings: 18, unserialed: 0, split: 0, resent: 0, shared: 0, examples: [] });
  });

  it('fails a run in which one message was sent to a subscriber, or stored, under another serial', () => {
    const sent = check(reserial('c', 2, 'other'));
    expect(sent.verdict).toBe('FAIL');
    expect(sent.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(sent.serials).toMatchObject({ split: 1, shared: 0, examples: ['ch p1#2 under s-p1-2 (sent to r1/a) and other (sent to r2/c)'] });
    const kept = check([...cleanRun(), history('r2', ['p1#1', 'p1#2', 'p1#3'], ['s-p1-1', 's-p1-3', 's-p1-3'])]);
    expect(kept.verdict).toBe('FAIL');
    expect(kept.serials).toMatchObject({ split: 1, shared: 1 });
    expect(kept.serials!.examples[1]).toBe('ch serial s-p1-3 names p1#3 (sent to r1/a) and p1#2 (history in r2)');
  });

  it('fails a run in which a message was delivered without a serial', () => {
    const r = check(reserial('b', 3, undefined));
    expect(r.verdict).toBe('FAIL');
    expect(r.serials).toMatchObject({ unserialed: 1, examples: ['ch p1#3 without a serial (sent to r1/b)'] });
  });

  it('counts a second serial of a message in flight when its publisher connected afresh (resent under a new id) as resent, not failed', () => {
    // p1's seq 2 was sent at 200 and answered at 205.
    const replaced = (t: number): RecordEvent => ({ type: 'connection', t, region: 'r1', client: 'p1', connectionId: 'new', previous: 'old' });
    const r = check([...reserial('c', 2, 'again'), replaced(202)]);
    expect(r.verdict).toBe('PASS');
    expect(r.serials).toMatchObject({ split: 0, resent: 1, shared: 0 });
    // A connection before it was sent, or after it was answered, excuses nothing.
    for (const t of [150, 210]) expect(check([...reserial('c', 2, 'again'), replaced(t)]).serials, `at ${t}`).toMatchObject({ split: 1, resent: 0 });
  });
});
