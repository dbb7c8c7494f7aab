import { describe, expect, it } from 'vitest';
import { PayloadScanner } from '../../../src/bench/payload.js';
import { mergeWindows } from '../../../src/bench/kernel-bursts.js';
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

  it('gives the latency of the deliveries whose flight overlapped no window left out, beside that of all', () => {
    const { rec, scanners, acks } = setup(1, Array.from({ length: 200 }, (_, i) => i));
    // 200 messages sent every 10 ms, 1 ms in flight, except those sent into one of two
    // stalls, which took 20 ms.
    const stalls = [{ fromUs: 500_000, toUs: 520_000 }, { fromUs: 1_500_000, toUs: 1_530_000 }];
    for (let seq = 0; seq < 200; seq++) {
      const sent = seq * 10_000;
      const hit = stalls.some((w) => sent <= w.toUs && sent + 1000 >= w.fromUs);
      rec.deliver(seq, sent, sent + (hit ? 20_000 : 1000), scanners[0]!);
    }
    const all = rec.summary({ fromSeq: 0, toSeq: 200 }, acks);
    expect(all.outside).toBeUndefined();
    expect(all.p99Ms).toBe(20);
    const s = rec.summary({ fromSeq: 0, toSeq: 200, exclude: mergeWindows(stalls.map((w) => ({ ...w }))) }, acks);
    expect(s.p99Ms).toBe(20);
    // Sent at 500, 510, 520 and 1500, 1510, 1520, 1530 ms: seven flights overlap a window.
    expect(s.outside).toEqual({ share: 0.965, p50Ms: 1, p99Ms: 1, maxMs: 1 });
  });
});
