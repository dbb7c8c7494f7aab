/**
 * A connection's ACKs and NACKs: in msgSerial order whatever order slots finish in,
 * runs of one outcome grouped, each ACKed message with its own channelSerials.
 */
import { describe, expect, it } from 'vitest';
import { AblyError } from '../../../src/errors.js';
import { AckQueue } from '../../../src/gateway/acks.js';
import { Action } from '../../../src/protocol/actions.js';

describe('AckQueue', () => {
  it('holds finished slots until those ahead finish, then groups runs of one outcome in order', () => {
    const q = new AckQueue();
    const s = [0, 1, 2, 3, 4, 5].map((n) => q.slot(n));
    expect(q.ack(s[1]!, ['e:2'])).toEqual([]);
    expect(q.nack(s[3]!, AblyError.of('messageTooLarge', 'too big'))).toEqual([]);
    expect(q.ack(s[2]!, ['e:3', 'e:4'])).toEqual([]);
    expect(q.pending).toBe(6);
    // Slot 0 finishing releases 0–2 as one ACK and 3 as a NACK; 4 is still open.
    const out = q.ack(s[0]!, ['e:1']);
    expect(out).toEqual([
      { action: Action.ACK, msgSerial: 0, count: 3, res: [{ serials: ['e:1'] }, { serials: ['e:2'] }, { serials: ['e:3', 'e:4'] }] },
      { action: Action.NACK, msgSerial: 3, count: 1, error: expect.objectContaining({ code: 40009 }) },
    ]);
    expect(q.pending).toBe(2);
    expect(q.ack(s[5]!, [])).toEqual([]);
    expect(q.ack(s[4]!, ['e:5'])).toEqual([{ action: Action.ACK, msgSerial: 4, count: 2, res: [{ serials: ['e:5'] }, { serials: [] }] }]);
    expect(q.pending).toBe(0);
  });

  it('does not group slots whose msgSerials are not consecutive', () => {
    const q = new AckQueue();
    const a = q.slot(7);
    const b = q.slot(9);
    q.ack(b, ['e:9']);
    expect(q.ack(a, ['e:7'])).toEqual([
      { action: Action.ACK, msgSerial: 7, count: 1, res: [{ serials: ['e:7'] }] },
      { action: Action.ACK, msgSerial: 9, count: 1, res: [{ serials: ['e:9'] }] },
    ]);
  });
});
