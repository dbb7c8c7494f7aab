import { describe, expect, it } from 'vitest';
import { PayloadScanner } from '../../../src/bench/payload.js';
import { AckBook, AckState, GroupRecorder } from '../../../src/bench/probe/recorder.js';

function setup(subscribers: number, acked: number[]) {
  const rec = new GroupRecorder();
  const scanners = Array.from({ length: subscribers }, () => {
    const s = new PayloadScanner(rec);
    rec.register(s);
    return s;
  });
  const acks = new AckBook();
  for (const seq of acked) acks.set(seq, AckState.ACKED);
  return { rec, scanners, acks };
}

describe('GroupRecorder', () => {
  it('counts what each subscriber missed and what came twice, for acknowledged messages only', () => {
    const { rec, scanners, acks } = setup(2, [0, 1, 2]);
    acks.set(3, AckState.NACKED);
    // subscriber 0: 0, 1, 1 (duplicate), 2; subscriber 1: 0, 2 (misses 1)
    for (const [sub, seq, at] of [[0, 0, 1000], [0, 1, 2000], [1, 0, 2500], [0, 1, 3000], [0, 2, 4000], [1, 2, 9000]] as const) {
      rec.deliver(seq, 0, at, scanners[sub]!);
    }
    const s = rec.summary({ fromSeq: 0, toSeq: 4 }, acks);
    expect(s).toMatchObject({ subscribers: 2, acked: 3, nacked: 1, expected: 6, delivered: 6, missing: 1, duplicates: 1, outOfOrder: 1 });
    expect(s.maxGapMs).toBe(6.5);
    expect(s.completeAtUsMax).toBe(9000);
  });

  it('says when the first message published after a moment reached the first and the last subscriber', () => {
    const { rec, scanners, acks } = setup(2, [0, 1, 2]);
    rec.deliver(0, 100, 200, scanners[0]!);
    rec.deliver(0, 100, 1200, scanners[1]!); // late delivery of a message sent before the moment
    rec.deliver(1, 1500, 2000, scanners[0]!);
    rec.deliver(1, 1500, 3000, scanners[1]!);
    const s = rec.summary({ fromSeq: 0, toSeq: 3, afterUs: 1000 }, acks);
    expect(s.after).toEqual({ firstDeliveryMs: 0.2, firstPublishedAfterMs: 1, allSubscribersMs: 2 });
  });

  it('leaves out a subscriber that failed to attach', () => {
    const { rec, scanners, acks } = setup(2, [0]);
    rec.failed(scanners[1]!);
    rec.deliver(0, 0, 10, scanners[0]!);
    expect(rec.summary({ fromSeq: 0, toSeq: 1 }, acks)).toMatchObject({ subscribers: 1, expected: 1, missing: 0 });
  });
});
