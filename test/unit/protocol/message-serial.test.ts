import { describe, expect, it } from 'vitest';
import { formatMessageSerial, parseMessageSerial } from '../../../src/protocol/message-serial.js';

const T = 1_764_000_000_000;

describe('message serials', () => {
  it('read back to the time and origin position they were made from', () => {
    for (const seq of [1, 9, 10, 35, 36, 1295, 1296, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      const s = formatMessageSerial(T + (seq % 1000), { region: 'eu-west_1', epoch: 'k3j2h1', seq });
      expect(parseMessageSerial(s), s).toEqual({ at: T + (seq % 1000), region: 'eu-west_1', epoch: 'k3j2h1', seq });
    }
    expect(formatMessageSerial(T, { region: 'eu', epoch: 'e', seq: 36 })).toBe('01764000000000-210@eu:e');
  });

  it('compare as strings as their times, then their seqs, compare as numbers', () => {
    const made: { at: number; seq: number; s: string }[] = [];
    for (const at of [0, 9, 10, T, T + 1, 99_999_999_999_999]) {
      for (const seq of [1, 2, 9, 10, 35, 36, 100, 1295, 1296, 46_655, 46_656, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
        made.push({ at, seq, s: formatMessageSerial(at, { region: 'r', epoch: 'e', seq }) });
      }
    }
    const byString = [...made].sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
    const byNumbers = [...made].sort((a, b) => a.at - b.at || a.seq - b.seq);
    expect(byString.map((m) => m.s)).toEqual(byNumbers.map((m) => m.s));
  });

  it('are told apart by their region and epoch where time and seq are the same', () => {
    const a = formatMessageSerial(T, { region: 'eu', epoch: 'e1', seq: 5 });
    const b = formatMessageSerial(T, { region: 'us', epoch: 'e1', seq: 5 });
    const c = formatMessageSerial(T, { region: 'eu', epoch: 'e2', seq: 5 });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it.each([
    ['a channelSerial', 'eu~k3j2h1~2s'],
    ['an Ably timeserial', '01726585978590-001@abcdefghij:001'],
    ['a length digit that does not match', '01764000000000-21@eu:e'],
    ['a leading zero', '01764000000000-201@eu:e'],
    ['seq 0', '01764000000000-10@eu:e'],
    ['a time of 13 digits', '1764000000000-11@eu:e'],
    ['no epoch', '01764000000000-11@eu'],
    ['a region with a dot', '01764000000000-11@e.u:e'],
    ['upper-case digits', '01764000000000-1A@eu:e'],
    ['more than 11 digits', '01764000000000-czzzzzzzzzzzz@eu:e'],
    ['too long', `01764000000000-11@${'r'.repeat(300)}:e`],
    ['empty', ''],
  ])('refuse %s', (_what, s) => {
    expect(parseMessageSerial(s)).toBeNull();
  });

  it('refuse what is not a string', () => {
    for (const v of [undefined, null, 5, {}, ['01764000000000-11@eu:e']]) expect(parseMessageSerial(v)).toBeNull();
  });
});
