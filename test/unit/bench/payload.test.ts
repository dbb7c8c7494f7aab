import { describe, expect, it } from 'vitest';
import { DeliveryStats, makePayload, MARK_TEXT, PayloadScanner, PAYLOAD_BYTES } from '../../../src/bench/payload.js';
import { LatencySamples } from '../../../src/bench/latency.js';

/** A scanner whose deliveries are collected as [seq, sendUs]. */
function scanner(streaming = false): { s: PayloadScanner; got: [number, number][]; stats: DeliveryStats } {
  const stats = new DeliveryStats(new LatencySamples());
  const got: [number, number][] = [];
  const deliver = stats.deliver.bind(stats);
  stats.deliver = (seq, sendUs, atUs, sc) => {
    got.push([seq, sendUs]);
    deliver(seq, sendUs, atUs, sc);
  };
  return { s: new PayloadScanner(stats, streaming), got, stats };
}

/** An Ably MESSAGE frame holding these payloads, as the server sends it (JSON). */
function ablyFrame(payloads: string[]): Buffer {
  return Buffer.from(JSON.stringify({ action: 15, channel: 'c', messages: payloads.map((data, i) => ({ id: `x:${i}`, data, timestamp: 1 })) }));
}

describe('PayloadScanner', () => {
  it('finds every payload of a frame that holds several, and nothing in one that holds none', () => {
    const { s, got, stats } = scanner();
    const payloads = [makePayload(7, 1_000_001), makePayload(8, 1_000_002), makePayload(123456, 1_732_999_999_999_999)];
    expect(s.scan(ablyFrame(payloads), 2_000_000)).toBe(3);
    expect(got).toEqual([
      [7, 1_000_001],
      [8, 1_000_002],
      [123456, 1_732_999_999_999_999],
    ]);
    expect(stats.frames).toBe(1);
    expect(s.scan(Buffer.from('{"action":0}'), 1)).toBe(0);
    expect(s.scan(Buffer.from(MARK_TEXT.slice(0, -1)), 1)).toBe(0);
  });

  it("finds a marker at any offset, right after other tildes and the marker's own bytes", () => {
    const parts = MARK_TEXT.split('');
    // Every start and every end of the marker but its first seven bytes (which, with the
    // marker's first byte after them, are a marker: its first and last bytes are the same).
    const starts = parts.map((_, k) => MARK_TEXT.slice(0, k)).slice(0, -1);
    const leads = ['', 'x', 'xx', '~', '~~', '~~~', ...starts, ...parts.map((_, k) => MARK_TEXT.slice(k + 1)), MARK_TEXT.slice(0, -1) + 'x'];
    for (const lead of leads) {
      for (let pad = 0; pad < MARK_TEXT.length + 2; pad++) {
        const { s, got } = scanner();
        expect(s.scan(Buffer.from(`${'y'.repeat(pad)}${lead}${MARK_TEXT}9~10~xxxx"`), 1), `after ${JSON.stringify(lead)}, ${pad} in`).toBe(1);
        expect(got).toEqual([[9, 10]]);
      }
    }
  });

  it('skips the padding of a payload whose head it read, and finds a payload right after one', () => {
    const { s, got } = scanner();
    const one = makePayload(1, 2);
    expect(one).toHaveLength(PAYLOAD_BYTES);
    // Back to back (the next marker right where the padding ends), and one byte apart.
    expect(s.scan(Buffer.from(`${one}${makePayload(3, 4)}`), 1)).toBe(2);
    expect(s.scan(Buffer.from(`${makePayload(5, 6)}"${makePayload(7, 8)}`), 1)).toBe(2);
    expect(got).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
    // What the padding holds is not looked at: a marker there is no payload.
    const head = `${MARK_TEXT}9~10~`;
    const inPadding = `${head}${MARK_TEXT}11~12~`.padEnd(PAYLOAD_BYTES, 'x');
    const { s: s2, got: got2 } = scanner();
    expect(s2.scan(Buffer.from(inPadding), 1)).toBe(1);
    expect(got2).toEqual([[9, 10]]);
  });

  it('streaming: a payload cut anywhere between two chunks is counted once, whole', () => {
    const text = `MSG a 1 100\r\n${makePayload(41, 555_000)}\r\nMSG a 1 100\r\n${makePayload(42, 556_000)}\r\n`;
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { s, got } = scanner(true);
      s.scan(bytes.subarray(0, cut), 1);
      s.scan(bytes.subarray(cut), 2);
      expect(got, `cut at ${cut}`).toEqual([
        [41, 555_000],
        [42, 556_000],
      ]);
    }
  });
});
