import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { floorsAt, seenElsewhere } from '../../../src/channel/delivery.js';
import { formatSerial, type OriginPosition } from '../../../src/protocol/serial.js';

const entry = (region: string, epoch: string, seq: number): LogEntry => ({
  kind: 'message',
  serial: seq,
  channelSerial: '',
  storedAt: 0,
  origin: { region, epoch, seq },
  message: { id: `${region}${seq}`, timestamp: 0 },
});

describe('seenElsewhere (a client that came from another region)', () => {
  it('holds back the messages it saw there, by origin, and lets the rest through once past its floor', () => {
    const floors = new Map<string, OriginPosition>([['us', { region: 'us', epoch: 'usep', seq: 5 }]]);
    expect([4, 5].map((s) => seenElsewhere(floors, entry('us', 'usep', s)))).toEqual([true, true]);
    // Other origins were never seen there.
    expect(seenElsewhere(floors, entry('eu', 'euep', 1))).toBe(false);
    expect(floors.size).toBe(1);
    // Past it: the floor goes (what follows from there is past it too).
    expect(seenElsewhere(floors, entry('us', 'usep', 6))).toBe(false);
    expect(floors.size).toBe(0);
  });

  it('lets presence through (the client began its presence set afresh here), and drops a floor at another epoch', () => {
    const floors = new Map<string, OriginPosition>([['us', { region: 'us', epoch: 'usep', seq: 5 }]]);
    const enter: LogEntry = { kind: 'presence', serial: 3, channelSerial: '', storedAt: 0, origin: { region: 'us', epoch: 'usep', seq: 3 }, presence: { id: 'p', action: 2, clientId: 'c', connectionId: 'x', timestamp: 0 }, host: '' };
    expect(seenElsewhere(floors, enter)).toBe(false);
    expect(floors.size).toBe(1);
    expect(seenElsewhere(floors, entry('us', 'usep2', 1))).toBe(false);
    expect(floors.size).toBe(0);
  });
});

describe('floorsAt (what to hold back for a client that came from another region)', () => {
  const client = [
    { region: 'eu', epoch: 'euep', seq: 4 },
    { region: 'us', epoch: 'usep', seq: 9 },
    { region: 'ap', epoch: 'apep', seq: 2 },
  ];

  it('keeps floors only for origins this stream had not passed at the attach point, never its own region', () => {
    // At the attach point here (region eu): us's stream at 7 (behind the client), ap's at 2 (not behind).
    const here = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'eu', epoch: 'euep', seq: 12 }, { region: 'us', epoch: 'usep', seq: 7 }, { region: 'ap', epoch: 'apep', seq: 2 }] });
    expect(floorsAt(client, here)).toEqual(new Map([['us', client[1]]]));
    // No stream from us yet: held back too.
    const noUs = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'eu', epoch: 'euep', seq: 12 }, { region: 'ap', epoch: 'apep', seq: 5 }] });
    expect(floorsAt(client, noUs)).toEqual(new Map([['us', client[1]]]));
    // Past them all: none, so it takes shared batches.
    const past = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'eu', epoch: 'euep', seq: 12 }, { region: 'us', epoch: 'usep', seq: 9 }, { region: 'ap', epoch: 'apep', seq: 2 }] });
    expect(floorsAt(client, past)).toBeUndefined();
  });
});
