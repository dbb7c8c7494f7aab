/**
 * A connection's messages refused at the master when they would come after a later one
 * of the same connection (src/channel/connection-order.ts; chaos seed 1220 with
 * `--pairs`, where a publisher's 227–229 were ordered after its 230–259).
 */
import { describe, expect, it } from 'vitest';
import { ConnectionOrder, msgSerialOf } from '../../../src/channel/connection-order.js';
import type { Message } from '../../../src/protocol/message.js';

const msg = (connectionId: string | undefined, id: string): Message => ({ id, data: 'x', timestamp: 0, ...(connectionId ? { connectionId } : {}) });
const of = (serial: number, conn = 'connA', index = 0) => msg(conn, `${conn}:${serial}:${index}`);

describe('msgSerialOf', () => {
  it('reads the msgSerial of an id the gateway gave, and nothing of one the publisher chose', () => {
    expect(msgSerialOf(of(227))).toBe(227);
    expect(msgSerialOf(msg('connA', 'my-own-id'))).toBe(-1);
    expect(msgSerialOf(msg('connA', 'connAB:3:0'))).toBe(-1);
    expect(msgSerialOf(msg('connA', 'connA:x:0'))).toBe(-1);
    expect(msgSerialOf(msg(undefined, 'connA:3:0'))).toBe(-1);
  });
});

describe('ConnectionOrder', () => {
  it('refuses a message not ordered yet that comes after a later one of its connection', () => {
    const order = new ConnectionOrder();
    const ordered = new Set<string>();
    const publish = (ms: Message[]) => {
      for (const m of ms) ordered.add(m.id);
      order.note(ms);
    };
    publish([of(226), of(230), of(231)]);
    const isOrdered = (id: string) => ordered.has(id);
    expect(order.behind([of(227), of(228)], isOrdered)?.id).toBe('connA:227:0');
    // Its own later messages, ordered already, go through (they are answered as duplicates).
    expect(order.behind([of(230), of(231)], isOrdered)).toBeNull();
    // What follows, another index of the latest, other connections, ids the publisher chose: free.
    expect(order.behind([of(231, 'connA', 1), of(232)], isOrdered)).toBeNull();
    expect(order.behind([of(5, 'connB')], isOrdered)).toBeNull();
    expect(order.behind([msg('connA', 'chosen')], isOrdered)).toBeNull();
  });
});
