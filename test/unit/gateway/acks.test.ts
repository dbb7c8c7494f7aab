/**
 * A connection's ACKs and NACKs: in msgSerial order whatever order slots finish in,
 * runs of one outcome grouped, each ACKed message with its own channelSerials; slots
 * finished in one turn leave together, at the end of the turn (or at once, before a close).
 */
import { describe, expect, it } from 'vitest';
import { AblyError } from '../../../src/errors.js';
import { AckQueue } from '../../../src/gateway/acks.js';
import { Action } from '../../../src/protocol/actions.js';
import type { ProtocolMessage } from '../../../src/protocol/types.js';

function queue() {
  const sent: ProtocolMessage[] = [];
  const q = new AckQueue({ sendMessage: (pm) => void sent.push(pm) });
  /** What was sent since the last call. */
  const taken = () => sent.splice(0);
  return { q, sent, taken };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('AckQueue', () => {
  it('holds finished slots until those ahead finish, then groups runs of one outcome in order', () => {
    const { q, taken } = queue();
    const s = [0, 1, 2, 3, 4, 5].map((n) => q.slot(n));
    q.ack(s[1]!, ['e:2']);
    q.flushNow();
    expect(taken()).toEqual([]);
    q.nack(s[3]!, AblyError.of('messageTooLarge', 'too big'));
    q.ack(s[2]!, ['e:3', 'e:4']);
    q.flushNow();
    expect(taken()).toEqual([]);
    expect(q.pending).toBe(6);
    // Slot 0 finishing releases 0–2 as one ACK and 3 as a NACK; 4 is still open.
    q.ack(s[0]!, ['e:1']);
    q.flushNow();
    expect(taken()).toEqual([
      { action: Action.ACK, msgSerial: 0, count: 3, res: [{ serials: ['e:1'] }, { serials: ['e:2'] }, { serials: ['e:3', 'e:4'] }] },
      { action: Action.NACK, msgSerial: 3, count: 1, error: expect.objectContaining({ code: 40009 }) },
    ]);
    expect(q.pending).toBe(2);
    q.flushNow();
    expect(taken()).toEqual([]);
    q.ack(s[5]!, []);
    q.flushNow();
    expect(taken()).toEqual([]);
    q.ack(s[4]!, ['e:5']);
    q.flushNow();
    expect(taken()).toEqual([{ action: Action.ACK, msgSerial: 4, count: 2, res: [{ serials: ['e:5'] }, { serials: [] }] }]);
    expect(q.pending).toBe(0);
  });

  it('sends the slots finished in one turn as one ACK, after the turn and not within it', async () => {
    const { q, sent, taken } = queue();
    const s = [10, 11, 12].map((n) => q.slot(n));
    q.ack(s[0]!, ['e:0']);
    q.ack(s[1]!, ['e:1']);
    expect(sent).toEqual([]); // not within the turn
    await turn();
    expect(taken()).toEqual([{ action: Action.ACK, msgSerial: 10, count: 2, res: [{ serials: ['e:0'] }, { serials: ['e:1'] }] }]);
    q.nack(s[2]!, AblyError.of('messageTooLarge', 'too big'));
    await turn();
    expect(taken()).toEqual([{ action: Action.NACK, msgSerial: 12, count: 1, error: expect.objectContaining({ code: 40009 }) }]);
    expect(q.pending).toBe(0);
  });

  it('sends at once on flushNow (before a close), and nothing again after the turn', async () => {
    const { q, taken } = queue();
    q.nack(q.slot(0), AblyError.of('messageTooLarge', 'too big'));
    q.flushNow();
    expect(taken()).toEqual([{ action: Action.NACK, msgSerial: 0, count: 1, error: expect.objectContaining({ code: 40009 }) }]);
    await turn();
    expect(taken()).toEqual([]);
  });

  it('groups NACKs only where the error is the same, message too: each refused publish is told its own reason', () => {
    const { q, taken } = queue();
    const s = [0, 1, 2].map((n) => q.slot(n));
    q.nack(s[0]!, AblyError.of('notPermitted', 'no publish on "a"'));
    q.nack(s[1]!, AblyError.of('notPermitted', 'no publish on "b"'));
    q.nack(s[2]!, AblyError.of('notPermitted', 'no publish on "b"'));
    q.flushNow();
    expect(taken().map((pm) => [pm.msgSerial, pm.count, pm.error?.message.replace(/^.*: /, '')])).toEqual([
      [0, 1, 'no publish on "a"'],
      [1, 2, 'no publish on "b"'],
    ]);
  });

  it('does not group slots whose msgSerials are not consecutive', () => {
    const { q, taken } = queue();
    const a = q.slot(7);
    const b = q.slot(9);
    q.ack(b, ['e:9']);
    q.ack(a, ['e:7']);
    q.flushNow();
    expect(taken()).toEqual([
      { action: Action.ACK, msgSerial: 7, count: 1, res: [{ serials: ['e:7'] }] },
      { action: Action.ACK, msgSerial: 9, count: 1, res: [{ serials: ['e:9'] }] },
    ]);
  });
});
