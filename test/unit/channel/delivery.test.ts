import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { resumePoint } from '../../../src/channel/attach-point.js';
import { floorsAt, mergeFloors, seenElsewhere, unseen, withFloors } from '../../../src/channel/delivery.js';
import { formatSerial, parseSerial, type OriginPosition } from '../../../src/protocol/serial.js';

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

describe('mergeFloors (a subscriber with floors whose channel restarts in a new epoch)', () => {
  it('keeps per origin the further of two floors of one epoch, takes the new one at another epoch, and keeps the rest', () => {
    const had = new Map<string, OriginPosition>([
      ['us', { region: 'us', epoch: 'usep', seq: 9 }],
      ['ap', { region: 'ap', epoch: 'apep', seq: 5 }],
      ['sa', { region: 'sa', epoch: 'saep', seq: 3 }],
    ]);
    const added = new Map<string, OriginPosition>([
      ['us', { region: 'us', epoch: 'usep', seq: 7 }],
      ['ap', { region: 'ap', epoch: 'apep2', seq: 1 }],
      ['eu', { region: 'eu', epoch: 'euep', seq: 4 }],
    ]);
    expect(mergeFloors(had, added)).toEqual(
      new Map([
        ['us', { region: 'us', epoch: 'usep', seq: 9 }],
        ['ap', { region: 'ap', epoch: 'apep2', seq: 1 }],
        ['sa', { region: 'sa', epoch: 'saep', seq: 3 }],
        ['eu', { region: 'eu', epoch: 'euep', seq: 4 }],
      ]),
    );
    expect(mergeFloors(undefined, added)).toEqual(added);
    // A new map: neither argument changes.
    expect(had.get('us')!.seq).toBe(9);
    expect(added.get('us')!.seq).toBe(7);
  });
});

describe('a moved client carries its floors in the serials it is given (withFloors, unseen)', () => {
  const floors = new Map<string, OriginPosition>([
    ['us', { region: 'us', epoch: 'usep', seq: 9 }],
    ['ap', { region: 'ap', epoch: 'apep', seq: 4 }],
  ]);

  it("raises each floored origin's position to the floor, adds one the stream lacks, and leaves the rest", () => {
    // us behind the floor, ap not yet in the stream, sa not floored.
    const stream = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'us', epoch: 'usep', seq: 7 }, { region: 'sa', epoch: 'saep', seq: 3 }] });
    expect(parseSerial(withFloors(stream, floors))).toEqual({
      region: 'eu',
      epoch: 'euep',
      serial: 30,
      origins: [
        { region: 'us', epoch: 'usep', seq: 9 },
        { region: 'sa', epoch: 'saep', seq: 3 },
        { region: 'ap', epoch: 'apep', seq: 4 },
      ],
    });
    // A stream past a floor, or at another epoch of that origin, is left as it is.
    const past = formatSerial({ region: 'eu', epoch: 'euep', serial: 31, origins: [{ region: 'us', epoch: 'usep', seq: 12 }, { region: 'ap', epoch: 'apep2', seq: 1 }] });
    expect(withFloors(past, floors)).toBe(past);
    expect(withFloors(past, new Map())).toBe(past);
  });

  it("names this region's own position when the stream's serial had no vector (it carried only its own messages)", () => {
    const own = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [] });
    const given = withFloors(own, floors);
    // Read in another region (the client moves on): eu's part is there, at 30.
    expect(resumePoint(given, 'us').resume).toEqual({
      origins: [
        { region: 'eu', epoch: 'euep', seq: 30 },
        { region: 'us', epoch: 'usep', seq: 9 },
        { region: 'ap', epoch: 'apep', seq: 4 },
      ],
      from: 'eu',
    });
    expect(resumePoint(own, 'us').resume).toEqual({ origins: [{ region: 'eu', epoch: 'euep', seq: 30 }], from: 'eu' });
  });

  it('reads the floors back on a resume in the same region: the backlog without what it saw, and floors where the stream is still behind', () => {
    const given = withFloors(formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'eu', epoch: 'euep', seq: 20 }] }), floors);
    const { resume } = resumePoint(given, 'eu');
    expect(resume).toMatchObject({ epoch: 'euep', serial: 30 });
    const seen = (resume as { seen: OriginPosition[] }).seen;
    // The stream caught up with us while the client was away: us 8 and 9 come after serial 30.
    const backlog = [entry('us', 'usep', 8), entry('us', 'usep', 9), entry('eu', 'euep', 21), entry('us', 'usep', 10)];
    const here = formatSerial({ region: 'eu', epoch: 'euep', serial: 34, origins: [{ region: 'eu', epoch: 'euep', seq: 21 }, { region: 'us', epoch: 'usep', seq: 10 }] });
    expect(unseen(backlog, seen, here).map((e) => `${e.origin.region}${e.origin.seq}`)).toEqual(['eu21', 'us10']);
    // ap is still behind at the attach point: held back live.
    expect(floorsAt(seen, here)).toEqual(new Map([['ap', floors.get('ap')]]));
    // A client that never moved: its serial's vector is the stream's, so nothing is held back.
    const plain = formatSerial({ region: 'eu', epoch: 'euep', serial: 30, origins: [{ region: 'eu', epoch: 'euep', seq: 20 }, { region: 'us', epoch: 'usep', seq: 7 }] });
    const plainSeen = (resumePoint(plain, 'eu').resume as { seen: OriginPosition[] }).seen;
    expect(unseen(backlog, plainSeen, here)).toEqual(backlog);
    expect(floorsAt(plainSeen, here)).toBeUndefined();
  });
});
