/**
 * A connection's ACKs and NACKs: in msgSerial order whatever order slots finish in,
 * runs of one outcome grouped, each ACKed message with its own channelSerials; slots
 * finished before one flush leave together.
 */
import { describe, expect, it } from 'vitest';
import { AblyError } from '../../../src/errors.js';
import { AckQueue } from '../../../src/gateway/acks.js';
import { Action } from '../../../src/protocol/actions.js';

describe('AckQueue', () => {
  it('holds finished slots until those ahead finish, then groups runs of one outcome in order', () => {
    const q = new AckQueue();
    const s = [0, 1, 2, 3, 4, 5].map((n) => q.slot(n));
    q.ack(s[1]!, ['e:2']);
    expect(q.flush()).toEqual([]);
    q.nack(s[3]!, AblyError.of('messageTooLarge', 'too big'));
    q.ack(s[2]!, ['e:3', 'e:4']);
    expect(q.flush()).toEqual([]);
    expect(q.pending).toBe(6);
    // Slot 0 finishing releases 0–2 as one ACK and 3 as a NACK; 4 is still open.
    q.ack(s[0]!, ['e:1']);
    expect(q.flush()).toEqual([
      { action: Action.ACK, msgSerial: 0, count: 3, res: [{ serials: ['e:1'] }, { serials: ['e:2'] }, { serials: ['e:3', 'e:4'] }] },
      { action: Action.NACK, msgSerial: 3, count: 1, error: expect.objectContaining({ code: 40009 }) },
    ]);
    expect(q.pending).toBe(2);
    expect(q.flush()).toEqual([]);
    q.ack(s[5]!, []);
    expect(q.flush()).toEqual([]);
    q.ack(s[4]!, ['e:5']);
    expect(q.flush()).toEqual([{ action: Action.ACK, msgSerial: 4, count: 2, res: [{ serials: ['e:5'] }, { serials: [] }] }]);
    expect(q.pending).toBe(0);
  });

  it('sends slots finished in order before one flush as one ACK', () => {
    const q = new AckQueue();
    const s = [10, 11, 12].map((n) => q.slot(n));
    for (const [i, slot] of s.entries()) q.ack(slot, [`e:${i}`]);
    expect(q.pending).toBe(3);
    expect(q.flush()).toEqual([{ action: Action.ACK, msgSerial: 10, count: 3, res: [{ serials: ['e:0'] }, { serials: ['e:1'] }, { serials: ['e:2'] }] }]);
    expect(q.pending).toBe(0);
  });

  it('given send, flushes once after the turn: slots finished in one turn leave as one ACK', async () => {
    const sent: unknown[] = [];
    const q = new AckQueue((pm) => sent.push(pm));
    const s = [0, 1, 2].map((n) => q.slot(n));
    q.ack(s[0]!, ['e:1']);
    q.ack(s[1]!, ['e:2']);
    expect(sent).toEqual([]); // not within the turn
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toEqual([{ action: Action.ACK, msgSerial: 0, count: 2, res: [{ serials: ['e:1'] }, { serials: ['e:2'] }] }]);
    q.nack(s[2]!, AblyError.of('messageTooLarge', 'too big'));
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ action: Action.NACK, msgSerial: 2, count: 1, error: expect.objectContaining({ code: 40009 }) });
    expect(q.pending).toBe(0);
  });

  it('sends at once on flushNow (before a close), and nothing again after the turn', async () => {
    const sent: unknown[] = [];
    const q = new AckQueue((pm) => sent.push(pm));
    q.nack(q.slot(0), AblyError.of('messageTooLarge', 'too big'));
    q.flushNow();
    expect(sent).toEqual([{ action: Action.NACK, msgSerial: 0, count: 1, error: expect.objectContaining({ code: 40009 }) }]);
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
  });

  it('does not group slots whose msgSerials are not consecutive', () => {
    const q = new AckQueue();
    const a = q.slot(7);
    const b = q.slot(9);
    q.ack(b, ['e:9']);
    q.ack(a, ['e:7']);
    expect(q.flush()).toEqual([
      { action: Action.ACK, msgSerial: 7, count: 1, res: [{ serials: ['e:7'] }] },
      { action: Action.ACK, msgSerial: 9, count: 1, res: [{ serials: ['e:9'] }] },
    ]);
  });
});
