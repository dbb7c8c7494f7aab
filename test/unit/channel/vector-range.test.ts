/**
 * What a client that comes from another region is given (src/channel/vector-range.ts):
 * its positions read against this region's history, origins its serial names no
 * position for, and points of loss it crosses.
 */
import { describe, expect, it } from 'vitest';
import { INTEREST_START_MARGIN_MS } from '../../../src/channel/channel-interest.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import type { Gap } from '../../../src/channel/gaps.js';
import { vectorRange, type VectorSource } from '../../../src/channel/vector-range.js';

const LOST = { code: 90003, statusCode: 404, message: 'messages from region ap were lost' };

/** An entry of this region's (eu) history: serial, origin region and seq, stored at `at` ms. */
function entry(serial: number, region: string, seq: number, at: number, epoch = `${region}ep`): LogEntry {
  return {
    kind: 'message',
    serial,
    channelSerial: `eu~euep~${serial}`,
    storedAt: at,
    origin: { region, epoch, seq },
    message: { id: `${region}:${seq}`, name: 'm', data: `${region}${seq}` },
  } as LogEntry;
}

/**
 * eu's history: us1 (t 1,000), eu1 (t 5,000), us2 (t 6,000), ap4 (t 7,000: ap1–3 never
 * came), eu2 (t 9,000). us's interest began at 8,000 (as eu's master knows it), eu's own at
 * 4,000; nothing dropped.
 */
function source(over: Partial<VectorSource> = {}): VectorSource {
  const log = [entry(1, 'us', 1, 1000), entry(2, 'eu', 1, 5000), entry(3, 'us', 2, 6000), entry(4, 'ap', 4, 7000), entry(5, 'eu', 2, 9000)];
  const positions: Record<string, number> = { eu: 2, us: 2, ap: 4 };
  return {
    region: 'eu',
    epoch: 'euep',
    localSeq: 2,
    position: (r) => positions[r],
    carried: ['us', 'ap'],
    meets: () => true,
    entries: (upto) => log.filter((e) => e.serial <= upto),
    interestSince: (r) => (r === 'us' ? 8000 : undefined),
    ownInterestSince: 4000,
    ownDroppedSince: () => false,
    droppedSince: () => false,
    gaps: () => [],
    ...over,
  };
}

const data = (entries: readonly LogEntry[]) => entries.map((e) => e.kind === 'message' && e.message.data);
const us = (seq: number) => ({ region: 'us', epoch: 'usep', seq });
const ap = (seq: number) => ({ region: 'ap', epoch: 'apep', seq });
const eu = (seq: number) => ({ region: 'eu', epoch: 'euep', seq });

describe('vectorRange', () => {
  it("gives each origin's part after the client's position, in this region's order", () => {
    expect(vectorRange(source(), [us(1), eu(1), ap(3)], 5, 'us')).toMatchObject({ gap: null, lost: null });
    expect(data(vectorRange(source(), [us(1), eu(1), ap(3)], 5, 'us').entries)).toEqual(['us2', 'ap4', 'eu2']);
    // One whose part here starts later than right after its position cannot be resumed.
    expect(vectorRange(source(), [us(1), eu(1), ap(0)], 5, 'us').gap).toBe('ap');
  });

  describe('an origin the client saw nothing of', () => {
    it("this region's own messages since shortly before the client's region's interest began", () => {
      // us's interest began at 8,000: eu1 (5,000) is from before the start's reach, eu2 (9,000) after.
      const r = vectorRange(source(), [us(1), ap(3)], 5, 'us');
      expect([data(r.entries), r.gap, r.lost]).toEqual([['us2', 'ap4', 'eu2'], null, null]);
      const reach = vectorRange(source({ interestSince: () => 5000 + INTEREST_START_MARGIN_MS }), [us(1), ap(3)], 5, 'us');
      expect(data(reach.entries)).toEqual(['eu1', 'us2', 'ap4', 'eu2']);
    });

    it("is refused where this region does not know when the client's region's interest began, if it has messages of its own", () => {
      expect(vectorRange(source({ interestSince: () => undefined }), [us(1), ap(3)], 5, 'us').gap).toBe('eu');
      // None of its own in this epoch: nothing it can have missed.
      const none = source({ interestSince: () => undefined, localSeq: 0, entries: (upto) => source().entries(upto).filter((e) => e.origin.region !== 'eu') });
      expect(vectorRange(none, [us(1), ap(3)], 5, 'us')).toMatchObject({ gap: null, lost: null });
    });

    it("is refused where retention dropped this region's own messages since then", () => {
      expect(vectorRange(source({ ownDroppedSince: (ms) => ms <= 6000 }), [us(1), ap(3)], 5, 'us').gap).toBe('eu');
    });

    it("gives another origin's messages only where this region's stream from there reaches back as far, whole", () => {
      // ap4 (7,000) is after us's interest began less the margin; eu's own interest (4,000) is older than us's.
      const r = vectorRange(source(), [us(1), eu(1)], 5, 'us');
      expect([data(r.entries), r.gap]).toEqual([['us2', 'ap4', 'eu2'], null]);
      // eu's interest began after us's: its stream from ap may lack what us's had, whether or
      // not an entry of ap's is held since then.
      expect(vectorRange(source({ ownInterestSince: 8500 }), [us(1), eu(1)], 5, 'us').gap).toBe('ap');
      const noneHeld = source({ ownInterestSince: 8500, entries: (upto) => source().entries(upto).filter((e) => e.origin.region !== 'ap') });
      expect(vectorRange(noneHeld, [us(1), eu(1)], 5, 'us').gap).toBe('ap');
      // Retention dropped entries since then: what is held of ap's part may not be whole.
      expect(vectorRange(source({ droppedSince: (ms) => ms <= 6000 }), [us(1), eu(1)], 5, 'us').gap).toBe('ap');
      expect(vectorRange(source({ interestSince: () => undefined }), [us(1), eu(2)], 5, 'us').gap).toBe('ap');
    });
  });

  describe('a point where an origin’s messages were lost here', () => {
    const point = (serial: number, origin?: { region: string; epoch: string; seq: number }): Gap => ({ serial, error: LOST, ...(origin ? { origin } : {}) });

    it('is told to a client that saw that origin less far than where the loss ended, and not to one that saw past it', () => {
      // Before ap4: ap's 1–3 lost here. A client that saw ap up to 0 is given ap4 and told;
      // one that saw up to 3 (in its region) lost nothing.
      const gaps = () => [point(4, { region: 'ap', epoch: 'apep', seq: 3 })];
      const keptFrom0 = source({ gaps, entries: (upto) => [entry(0, 'ap', 0, 500), ...source().entries(upto)] });
      const told = vectorRange(keptFrom0, [us(1), eu(1), ap(0)], 5, 'us');
      expect([told.gap, told.lost, data(told.entries)]).toEqual([null, LOST, ['us2', 'ap4', 'eu2']]);
      expect(vectorRange(source({ gaps }), [us(1), eu(1), ap(3)], 5, 'us').lost).toBeNull();
      // Of another epoch of that origin: not the client's stream.
      expect(vectorRange(source({ gaps }), [us(1), eu(1), { region: 'ap', epoch: 'apold', seq: 0 }], 5, 'us').lost).toBeNull();
    });

    it("of an origin the client saw nothing of: told where the point is within what it would have had", () => {
      const late = () => [point(4, { region: 'ap', epoch: 'apep', seq: 3 })]; // at ap4, stored 7,000
      const early = () => [point(2, { region: 'ap', epoch: 'apep', seq: 3 })]; // at eu1, stored 5,000
      expect(vectorRange(source({ gaps: late }), [us(1), eu(1)], 5, 'us').lost).toEqual(LOST);
      expect(vectorRange(source({ gaps: early }), [us(1), eu(1)], 5, 'us').lost).toBeNull();
      // Not knowing since when (nothing of its own here, nor carried): told if it is given anything after the point.
      const unknown = { interestSince: () => undefined, localSeq: 0, carried: [] };
      const onlyUs = (upto: number) => source().entries(upto).filter((e) => e.origin.region === 'us');
      expect(vectorRange(source({ ...unknown, entries: onlyUs, gaps: () => [point(3, { region: 'ap', epoch: 'apep', seq: 3 })] }), [us(1)], 5, 'us').lost).toEqual(LOST);
      expect(vectorRange(source({ ...unknown, entries: onlyUs, gaps: () => [point(4, { region: 'ap', epoch: 'apep', seq: 3 })] }), [us(1)], 5, 'us').lost).toBeNull();
    });

    it("recorded by an older node (whose is not said): told if anything given is at or after it", () => {
      expect(vectorRange(source({ gaps: () => [point(5)] }), [us(1), eu(1), ap(3)], 5, 'us').lost).toEqual(LOST);
      expect(vectorRange(source({ gaps: () => [point(5)] }), [us(2), eu(1), ap(4)], 4, 'us').lost).toBeNull();
    });
  });
});
