/**
 * A connection's messages refused at the master when they would come after a later one
 * of the same connection (src/channel/connection-order.ts; chaos seed 1220 with
 * `--pairs`, where a publisher's 227–229 were ordered after its 230–259).
 */
import { describe, expect, it } from 'vitest';
import { ConnectionOrder, msgSerialOf } from '../../../src/channel/connection-order.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import type { Message } from '../../../src/protocol/message.js';
import { decodeLogEntries, encodeLogEntries } from '../../../src/transport/entry-lists.js';
import { decodeNodeMessage, encodeNodeMessage } from '../../../src/transport/node-codec.js';

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
      for (const m of ms) order.note(m);
    };
    publish([of(226), of(230), of(231)]);
    const isOrdered = (m: { id: string }) => ordered.has(m.id);
    expect(order.behind([of(227), of(228)], isOrdered)?.id).toBe('connA:227:0');
    // Its own later messages, ordered already, go through (they are answered as duplicates).
    expect(order.behind([of(230), of(231)], isOrdered)).toBeNull();
    // What follows, another index of the latest, other connections, ids the publisher chose: free.
    expect(order.behind([of(231, 'connA', 1), of(232)], isOrdered)).toBeNull();
    expect(order.behind([of(5, 'connB')], isOrdered)).toBeNull();
    expect(order.behind([msg('connA', 'chosen')], isOrdered)).toBeNull();
  });
});

describe('ChannelState.connectionOrder', () => {
  const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 100 };
  const KEY = 'app:chat';
  const late = [of(227), of(228)];
  const isOrderedIn = (st: ChannelState) => (m: { id: string; connectionId?: string }) => st.hasOrdered(m.id, m.connectionId);

  it('goes with the channel: the replica, and a state restored from a snapshot, refuse what the master would', () => {
    const master = ChannelState.fresh(KEY, settings, 1000, 'ep1');
    const { entries } = master.accept([of(226), of(230), of(231)], 1000);
    expect(master.connectionOrder.behind(late, isOrderedIn(master))?.id).toBe('connA:227:0');

    // The replica applies the master's batch as it comes over the wire, and is promoted.
    const replica = ChannelState.fresh(KEY, settings, 1000, 'ep1');
    replica.applyEntries(decodeLogEntries(encodeLogEntries(entries), true));
    expect(replica.connectionOrder.behind(late, isOrderedIn(replica))?.id).toBe('connA:227:0');

    // A handoff's or a sync's snapshot, through the node codec.
    const got = decodeNodeMessage(encodeNodeMessage({ type: 'sync', rid: 1, channel: KEY, snapshot: master.snapshot(), role: 'replica' }));
    if (got.type !== 'sync') throw new Error(`not a sync: ${got.type}`);
    const restored = ChannelState.restore(got.snapshot, settings);
    expect(restored.connectionOrder.behind(late, isOrderedIn(restored))?.id).toBe('connA:227:0');
    // Its own later messages are duplicates there too, and the next ones go through.
    expect(restored.connectionOrder.behind([of(231), of(232)], isOrderedIn(restored))).toBeNull();
  });

  it('notes only this region\'s own messages (another region\'s come through its own master)', () => {
    const us = ChannelState.fresh(KEY, { ...settings, region: 'us' }, 1000, 'ep9');
    const { entries } = us.accept([of(230, 'connU')], 1000);
    const eu = ChannelState.fresh(KEY, settings, 1000, 'ep1');
    eu.ingest({ region: 'us', epoch: 'ep9', startSeq: 0, gapBefore: false, entries }, 1000);
    expect(eu.hasOrdered('connU:230:0')).toBe(true);
    expect(eu.connectionOrder.behind([of(227, 'connU')], () => false)).toBeNull();
  });
});
