import { describe, expect, it } from 'vitest';
import { formatSerial, newEpoch, parseSerial, type ChannelPosition } from '../../../src/protocol/serial.js';

describe('formatSerial', () => {
  it('writes region, epoch and the serial in base 36', () => {
    expect(formatSerial({ region: 'eu', epoch: 'abc', serial: 35, origins: [] })).toBe('eu~abc~z');
    expect(formatSerial({ region: 'eu', epoch: 'abc', serial: 36, origins: [] })).toBe('eu~abc~10');
  });

  it('appends one |region~epoch~seq part per origin', () => {
    const p: ChannelPosition = {
      region: 'eu',
      epoch: 'e1',
      serial: 10,
      origins: [
        { region: 'eu', epoch: 'e1', seq: 4 },
        { region: 'us-east', epoch: 'x_9', seq: 6 },
      ],
    };
    expect(formatSerial(p)).toBe('eu~e1~a|eu~e1~4|us-east~x_9~6');
  });
});

describe('parseSerial', () => {
  it.each<ChannelPosition>([
    { region: 'eu', epoch: 'abc', serial: 0, origins: [] },
    { region: 'eu', epoch: 'abc', serial: 1, origins: [] },
    { region: 'us-west_2', epoch: 'Zz-9', serial: 123_456_789, origins: [] },
    { region: 'eu', epoch: 'e', serial: Number.MAX_SAFE_INTEGER, origins: [] },
    {
      region: 'eu',
      epoch: 'e1',
      serial: 77,
      origins: [
        { region: 'eu', epoch: 'e1', seq: 40 },
        { region: 'us', epoch: 'e2', seq: 37 },
        { region: 'ap', epoch: 'e3', seq: 0 },
      ],
    },
  ])('reads back what formatSerial wrote: $region $epoch $serial', (p) => {
    expect(parseSerial(formatSerial(p))).toEqual(p);
  });

  it.each([
    ['the empty string', ''],
    ['plain text', 'garbage'],
    ['an Ably serial from elsewhere', '01234567890:0'],
    ['two parts', 'eu~abc'],
    ['four parts', 'eu~abc~1~2'],
    ['an empty region', '~abc~1'],
    ['an empty epoch', 'eu~~1'],
    ['an empty number', 'eu~abc~'],
    ['upper-case digits', 'eu~abc~Z'],
    ['a negative number', 'eu~abc~-1'],
    ['a fraction', 'eu~abc~1.5'],
    ['a space in the region', 'e u~abc~1'],
    ['a dot in the epoch', 'eu~a.b~1'],
    ['a trailing bar', 'eu~abc~1|'],
    ['a bad origin part', 'eu~abc~1|us~x'],
    ['a bad second origin part', 'eu~abc~1|us~x~1|ap~y~!'],
    ['a number of 13 digits', 'eu~abc~1000000000000'],
    ['a number beyond the safe integers', 'eu~abc~zzzzzzzzzzzz'],
    ['a huge origin seq', 'eu~abc~1|us~x~zzzzzzzzzzzz'],
    ['more than 2048 characters', `eu~abc~1${'|us~x~1'.repeat(300)}`],
  ])('rejects %s', (_what, s) => {
    expect(parseSerial(s)).toBeNull();
  });

  it('rejects a value that is not a string', () => {
    expect(parseSerial(42 as unknown as string)).toBeNull();
    expect(parseSerial(undefined as unknown as string)).toBeNull();
  });

  it('accepts a long serial just under the length cap', () => {
    const s = `eu~abc~1${'|us~x~1'.repeat(291)}`;
    expect(s.length).toBeLessThanOrEqual(2048);
    expect(parseSerial(s)?.origins).toHaveLength(291);
  });
});

describe('newEpoch', () => {
  it('makes epochs a serial can carry', () => {
    for (let i = 0; i < 50; i++) {
      const epoch = newEpoch();
      expect(epoch).toMatch(/^[0-9a-z]+$/);
      expect(parseSerial(formatSerial({ region: 'r', epoch, serial: 1, origins: [] }))?.epoch).toBe(epoch);
    }
  });

  it('makes a different epoch each time', () => {
    const seen = new Set(Array.from({ length: 200 }, () => newEpoch()));
    expect(seen.size).toBe(200);
  });
});
