/**
 * Another region's presence members at the start of its stream here. They came only as
 * events in the stream, so where the stream began again (this region's channel restarted
 * in a new epoch, or the origin's history no longer covered a gap) or began late (an
 * interest begun after they entered), this region's set lost or kept them wrongly for
 * good. Found by the chaos presence check (seeds 1220, 1221 with `--pairs`: us showed none
 * of eu's members after us's channel restarted). A start now carries the origin's own
 * members (ForwardedBatch.members), taken as that region's set where the stream begins.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { remoteHost } from '../../../src/channel/presence.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import { PresenceAction } from '../../../src/protocol/actions.js';
import type { PresenceMessage } from '../../../src/protocol/message.js';
import { decodeNodeMessage, encodeNodeMessage } from '../../../src/transport/node-codec.js';
import { ForwardedEntries } from '../../../src/transport/entry-lists.js';
import { fromPb, toPb } from '../../../src/bridge/codec.js';

const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 100 };

function member(clientId: string, n = 0, action: number = PresenceAction.ENTER): PresenceMessage {
  return { id: `us-conn-${clientId}:${n}:0`, action, clientId, connectionId: `us-conn-${clientId}`, timestamp: 100 + n };
}

/** An entry of us's stream: member `clientId`'s presence event at origin seq `seq`. */
function usPresence(seq: number, m: PresenceMessage, epoch = 'usep'): LogEntry {
  return { kind: 'presence', serial: 0, channelSerial: '', storedAt: 0, origin: { region: 'us', epoch, seq }, presence: m, host: '' };
}

function usMessage(seq: number, epoch = 'usep'): LogEntry {
  return { kind: 'message', serial: 0, channelSerial: '', storedAt: 0, origin: { region: 'us', epoch, seq }, message: { id: `us-${epoch}-${seq}`, data: 'x', timestamp: 0 } };
}

/** eu's channel with us's stream begun at 0, holding members a and b (us seq 1, 2). */
function withUsMembers(clock: ManualClock): ChannelState {
  const st = ChannelState.fresh('app:ch', settings, clock.now(), 'ep1');
  st.ingest({ region: 'us', epoch: 'usep', startSeq: 0, gapBefore: false, entries: [usPresence(1, member('a')), usPresence(2, member('b'))] }, clock.now());
  return st;
}

const clientIds = (st: ChannelState) => st.presence.list().map((m) => m.clientId).sort();

describe("another region's presence members", () => {
  it('are kept under that region, not under a node of this one', () => {
    const st = withUsMembers(new ManualClock());
    expect(st.presence.hostedOn(remoteHost('us')).map((m) => m.message.clientId)).toEqual(['a', 'b']);
    expect(st.presence.own()).toEqual([]);
  });

  it('are taken afresh from the members a stream begun again after a gap brings: gone ones leave, new ones enter', () => {
    const clock = new ManualClock();
    const st = withUsMembers(clock);
    // us's history no longer held 3..9 (b left, c entered there): a start at 9 with its members now.
    const r = st.ingest({ region: 'us', epoch: 'usep', startSeq: 9, gapBefore: true, entries: [usMessage(10)], members: [member('a'), member('c', 5)] }, clock.now());
    expect(r.discontinuity).toBe(true);
    expect(r.entries.map((e) => (e.kind === 'presence' ? `${e.presence.action === PresenceAction.LEAVE ? 'leave' : 'enter'} ${e.presence.clientId}` : 'message'))).toEqual([
      'leave b',
      'enter c',
      'message',
    ]);
    // The leave is synthesized (not the connection's id): the SDKs compare it by time.
    const leave = r.entries[0]!;
    expect(leave.kind === 'presence' && leave.presence.id.startsWith('leave:')).toBe(true);
    expect(clientIds(st)).toEqual(['a', 'c']);
    // Events after the start apply on top.
    st.ingest({ region: 'us', epoch: 'usep', gapBefore: false, entries: [usPresence(11, { ...member('a', 11), action: PresenceAction.LEAVE })] }, clock.now());
    expect(clientIds(st)).toEqual(['c']);
  });

  it("are taken afresh when that region's stream restarts in a new epoch, and this region's own members stay", () => {
    const clock = new ManualClock();
    const st = withUsMembers(clock);
    st.acceptPresence([{ id: 'eu-conn:0:0', action: PresenceAction.ENTER, clientId: 'local', connectionId: 'eu-conn', timestamp: 1 }], 'eu-n1', clock.now());
    const r = st.ingest({ region: 'us', epoch: 'usep2', startSeq: 0, gapBefore: false, entries: [], members: [member('b')] }, clock.now());
    expect(r.discontinuity).toBe(true);
    expect(clientIds(st)).toEqual(['b', 'local']);
    expect(st.presence.own().map((m) => m.clientId)).toEqual(['local']);
  });

  it("that leave are said to leave in that region's clock, at their last event's time, so that what it says of them next is the newer", () => {
    // The SDKs' rule where either is synthesized (RTP2b1): the later timestamp wins, a tie
    // the one that arrives later (RTP2b1a). An SDK in a SYNC keeps a leave as ABSENT and
    // compares what comes after with it.
    const newer = (arriving: PresenceMessage, held: PresenceMessage) => arriving.timestamp >= held.timestamp;
    // This region's clock (1.7e12) is far ahead of the members' (100). us restarts with b alone.
    const restarted = () => {
      const clock = new ManualClock();
      const st = withUsMembers(clock);
      const r = st.ingest({ region: 'us', epoch: 'usep2', startSeq: 0, gapBefore: false, entries: [], members: [member('b')] }, clock.now());
      const said = r.entries.find((e) => e.kind === 'presence' && e.presence.action === PresenceAction.LEAVE)!;
      expect(said.storedAt).toBe(clock.now());
      return { st, clock, leave: (said.kind === 'presence' && said.presence) as PresenceMessage };
    };
    const { st, clock, leave } = restarted();
    expect(leave).toMatchObject({ clientId: 'a', timestamp: 100 });
    expect(newer(leave, member('a'))).toBe(true);
    // a enters again there under the same id (RTP17g), stamped by us's clock.
    const again: PresenceMessage = { ...member('a'), timestamp: 150 };
    const next = st.ingest({ region: 'us', epoch: 'usep2', gapBefore: false, entries: [usPresence(1, again, 'usep2')] }, clock.now());
    expect(next.entries.map((e) => e.kind === 'presence' && e.presence)).toEqual([again]);
    expect(newer(again, leave)).toBe(true);
    // Or us goes on from an older copy that still has a's ENTER as it was: a enters again, as it was.
    const other = restarted();
    const old = other.st.ingest({ region: 'us', epoch: 'usep3', startSeq: 0, gapBefore: false, entries: [], members: [member('a'), member('b')] }, other.clock.now());
    expect(old.entries.map((e) => e.kind === 'presence' && e.presence)).toEqual([member('a')]);
    expect(newer(member('a'), other.leave)).toBe(true);
  });

  it('are learnt from a start of a new interest, also those that entered before it began', () => {
    const clock = new ManualClock();
    const st = ChannelState.fresh('app:ch', settings, clock.now(), 'ep1');
    st.ingest({ region: 'us', epoch: 'usep', startSeq: 40, gapBefore: false, entries: [usMessage(41)], members: [member('a'), member('b')] }, clock.now());
    expect(clientIds(st)).toEqual(['a', 'b']);
  });

  it('leave the point where a loss is said where it was: just before the first of the origin entries after it, never before seq 0', () => {
    const clock = new ManualClock();
    const st = withUsMembers(clock);
    const gap = st.ingest({ region: 'us', epoch: 'usep', startSeq: 9, gapBefore: true, entries: [usMessage(10)], members: [member('c')] }, clock.now());
    expect(gap.lostBefore).toBe(9);
    // us restarted in a new epoch at 0, with nothing yet but its members (a stream begun at 0:
    // the point was -1, which no wire can carry, and crashed the node that sent a snapshot with it).
    const restart = st.ingest({ region: 'us', epoch: 'usep2', startSeq: 0, gapBefore: false, entries: [], members: [member('d')] }, clock.now());
    expect(restart).toMatchObject({ discontinuity: true, lostBefore: 0 });
    const next = st.ingest({ region: 'us', epoch: 'usep3', startSeq: 0, gapBefore: false, entries: [usMessage(1, 'usep3')], members: [member('e')] }, clock.now());
    expect(next).toMatchObject({ discontinuity: true, lostBefore: 0 });
  });

  it('are left alone by a batch that continues the stream, whatever members it brings, and by a start that brings none', () => {
    const clock = new ManualClock();
    const st = withUsMembers(clock);
    st.ingest({ region: 'us', epoch: 'usep', startSeq: 2, gapBefore: false, entries: [usMessage(3)], members: [] }, clock.now());
    expect(clientIds(st)).toEqual(['a', 'b']);
    st.ingest({ region: 'us', epoch: 'usep2', startSeq: 0, gapBefore: false, entries: [usMessage(1, 'usep2')] }, clock.now());
    expect(clientIds(st)).toEqual(['a', 'b']);
  });

  it('travel with a batch between nodes and between regions, and an empty set stays a set', () => {
    const entries = ForwardedEntries.of([usMessage(3)]);
    for (const members of [[member('a')], []]) {
      const batch = { channel: 'app:ch', region: 'us', epoch: 'usep', startSeq: 2, gapBefore: false, entries, members };
      const mesh = decodeNodeMessage(encodeNodeMessage({ type: 'ingest', rid: 1, batch }));
      expect(mesh.type === 'ingest' && mesh.batch.members).toEqual(members);
      const link = fromPb(toPb({ type: 'forward', batch, replyTo: 0, toRegion: null }), 'us');
      expect(link.type === 'forward' && link.batch.members).toEqual(members);
    }
    const none = decodeNodeMessage(encodeNodeMessage({ type: 'ingest', rid: 1, batch: { channel: 'app:ch', region: 'us', epoch: 'usep', gapBefore: false, entries } }));
    expect(none.type === 'ingest' && none.batch.members).toBeUndefined();
  });
});
