import { describe, expect, it } from 'vitest';
import { Membership, deriveTimeouts, type MembershipEvent } from '../../../src/cluster/membership.js';
import type { Heartbeat, MemberInfo, NodeAddress } from '../../../src/transport/messages.js';

const T = deriveTimeouts(100); // suspect after 400 ms, down after 800 ms
const SELF_INC = 1_000;

function addr(n: number): NodeAddress {
  return { host: '127.0.0.1', port: 8000 + n, meshPort: 9000 + n };
}

/** Each node's address number: a, b, c, d are 0..3; `n7` and the like use their digits. */
function numberOf(node: string): number {
  const i = 'abcd'.indexOf(node);
  return i >= 0 ? i : Number(node.replace(/\D/g, ''));
}

function hb(node: string, incarnation: number, o: Partial<Heartbeat> = {}): Heartbeat {
  const n = numberOf(node);
  return { type: 'heartbeat', node, incarnation, address: addr(n), members: [], leaving: false, quorum: true, ...o };
}

/** `a` with static peers b and c, none heard yet, at t=0. */
function trio(): Membership {
  const m = new Membership('a', addr(0), T, SELF_INC);
  m.addStatic('b', addr(1), 0);
  m.addStatic('c', addr(2), 0);
  return m;
}

const types = (es: MembershipEvent[]) => es.map((e) => e.type);

/**
 * Ticks every heartbeat interval from `from` (exclusive) to `to` (inclusive), hearing the
 * `hearing` peers (node and incarnation) just before each tick; returns all events.
 */
function tickThrough(m: Membership, from: number, to: number, hearing: [string, number][] = []): { at: number; event: MembershipEvent }[] {
  const out: { at: number; event: MembershipEvent }[] = [];
  for (let t = from + T.heartbeatIntervalMs; t <= to; t += T.heartbeatIntervalMs) {
    for (const [node, inc] of hearing) for (const event of m.onHeartbeat(hb(node, inc), t)) out.push({ at: t, event });
    for (const event of m.tick(t)) out.push({ at: t, event });
  }
  return out;
}

describe('deriveTimeouts', () => {
  it('suspects after four missed heartbeats and declares down after eight', () => {
    expect(deriveTimeouts(100)).toEqual({ heartbeatIntervalMs: 100, suspectAfterMs: 400, downAfterMs: 800 });
    expect(deriveTimeouts().heartbeatIntervalMs).toBe(500);
  });
});

describe('Membership', () => {
  describe('static members', () => {
    it('start down and unheard, and do not count as reachable', () => {
      const m = trio();
      expect(m.state('b')).toBe('down');
      expect(m.state('c')).toBe('down');
      expect(m.incarnationOf('b')).toBe(0);
      expect(m.ringMembers()).toEqual(['a']);
      expect(m.hasQuorum()).toBe(false);
    });

    it('are not suspected or declared down by silence before they are first heard', () => {
      const m = trio();
      expect(tickThrough(m, 0, 2000)).toEqual([]);
    });

    it('ignore adding self or adding a member twice', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      m.addStatic('a', addr(9), 0);
      m.addStatic('b', addr(1), 0);
      m.onHeartbeat(hb('b', 5), 0);
      m.addStatic('b', addr(7), 0);
      expect(m.state('a')).toBe('up');
      expect(m.addressOf('a')).toEqual(addr(0));
      expect(m.state('b')).toBe('up');
      expect(m.addressOf('b')).toEqual(addr(1));
    });
  });

  describe('heartbeats', () => {
    it('bring a static member up with peerUp', () => {
      const m = trio();
      expect(m.onHeartbeat(hb('b', 5), 0)).toEqual([{ type: 'peerUp', node: 'b', incarnation: 5, address: addr(1) }]);
      expect(m.state('b')).toBe('up');
      expect(m.incarnationOf('b')).toBe(5);
      expect(m.ringMembers().sort()).toEqual(['a', 'b']);
    });

    it('bring an unknown member up with peerUp', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      expect(m.onHeartbeat(hb('z9', 3), 0)).toEqual([{ type: 'peerUp', node: 'z9', incarnation: 3, address: addr(9) }]);
      expect(m.state('z9')).toBe('up');
    });

    it('report nothing while a member stays up', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.onHeartbeat(hb('b', 5), 100)).toEqual([]);
      expect(m.onHeartbeat(hb('b', 5), 200)).toEqual([]);
    });

    it('ignore our own heartbeat echoed back', () => {
      const m = trio();
      expect(m.onHeartbeat(hb('a', SELF_INC + 5), 0)).toEqual([]);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('keep a member up while they keep arriving', () => {
      const m = trio();
      for (let t = 0; t <= 3000; t += 100) {
        m.onHeartbeat(hb('b', 5), t);
        expect(m.tick(t)).toEqual([]);
      }
      expect(m.state('b')).toBe('up');
    });
  });

  describe('silence', () => {
    it('makes a member suspect after suspectAfterMs and down after downAfterMs', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      const events = tickThrough(m, 0, 1000, [['c', 6]]);
      expect(events.map(({ at, event }) => [at, event.type, 'node' in event ? event.node : ''])).toEqual([
        [400, 'peerSuspect', 'b'],
        [800, 'peerDown', 'b'],
      ]);
      expect(m.state('b')).toBe('down');
    });

    it('keeps a suspect member in the ring until it is down', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      tickThrough(m, 0, 500, [['c', 6]]);
      expect(m.state('b')).toBe('suspect');
      expect(m.ringMembers().sort()).toEqual(['a', 'b', 'c']);
      tickThrough(m, 500, 800, [['c', 6]]);
      expect(m.ringMembers()).toEqual(['a', 'c']);
    });

    it('brings a suspect member back up when it is heard again, with a fresh timeout', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      tickThrough(m, 0, 500);
      expect(m.state('b')).toBe('suspect');
      expect(m.onHeartbeat(hb('b', 5), 550)).toEqual([{ type: 'peerUp', node: 'b', incarnation: 5, address: addr(1) }]);
      expect(m.state('b')).toBe('up');
      // Silent again from 550: suspect at 950 at the earliest, not down at 800.
      const events = tickThrough(m, 500, 1000);
      expect(events.map(({ at, event }) => [at, event.type])).toEqual([[1000, 'peerSuspect']]);
    });

    it('ignores heartbeats of the same incarnation once a member is down', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      tickThrough(m, 0, 800, [['c', 6]]);
      expect(m.state('b')).toBe('down');
      expect(m.onHeartbeat(hb('b', 5), 850)).toEqual([]);
      expect(m.state('b')).toBe('down');
      expect(m.ringMembers()).toEqual(['a', 'c']);
    });

    it('takes a member that was down back when it comes with a new incarnation', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      tickThrough(m, 0, 800, [['c', 6]]);
      expect(m.state('b')).toBe('down');
      expect(m.onHeartbeat(hb('b', 6), 850)).toEqual([{ type: 'peerUp', node: 'b', incarnation: 6, address: addr(1) }]);
      expect(m.state('b')).toBe('up');
    });
  });

  describe('incarnations', () => {
    it('reports a live member seen with a higher incarnation as down, then up', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      const events = m.onHeartbeat(hb('b', 9, { address: addr(11) }), 100);
      expect(types(events)).toEqual(['peerDown', 'peerUp']);
      expect(events[0]).toMatchObject({ node: 'b' });
      expect(events[1]).toEqual({ type: 'peerUp', node: 'b', incarnation: 9, address: addr(11) });
      expect(m.incarnationOf('b')).toBe(9);
      expect(m.addressOf('b')).toEqual(addr(11));
    });

    it('reports a suspect member seen with a higher incarnation as down, then up', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onLinkDown('b', 'socket closed');
      expect(types(m.onHeartbeat(hb('b', 6), 100))).toEqual(['peerDown', 'peerUp']);
    });

    it('ignores a heartbeat from an older incarnation', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.onHeartbeat(hb('b', 4), 100)).toEqual([]);
      expect(m.incarnationOf('b')).toBe(5);
    });
  });

  describe('leaving', () => {
    it('marks a member that says goodbye as left, with peerLeft', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.onHeartbeat(hb('b', 5, { leaving: true }), 100)).toEqual([{ type: 'peerLeft', node: 'b' }]);
      expect(m.state('b')).toBe('left');
      expect(m.ringMembers()).toEqual(['a']);
      expect(m.onHeartbeat(hb('b', 5, { leaving: true }), 200)).toEqual([]);
      expect(m.onHeartbeat(hb('b', 5), 300)).toEqual([]);
      expect(m.state('b')).toBe('left');
    });

    it('leaves members that have left out of the quorum count', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      for (const [n, i] of [['b', 1], ['c', 2], ['d', 3]] as const) m.addStatic(n, addr(i), 0);
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.hasQuorum()).toBe(false); // 2 of 4
      m.onHeartbeat(hb('c', 5, { leaving: true }), 0);
      expect(m.state('c')).toBe('left');
      expect(m.hasQuorum()).toBe(true); // 2 of 3
    });

    it('records an unknown member that is leaving as left without an event', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      expect(m.onHeartbeat(hb('q1', 5, { leaving: true }), 0)).toEqual([]);
      expect(m.state('q1')).toBe('left');
      expect(m.hasQuorum()).toBe(true);
    });

    it('lists a member that left as leaving until its link closes or it comes back as a new life', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      expect(m.leavingPeers()).toEqual([]);
      m.onHeartbeat(hb('b', 5, { leaving: true }), 100);
      m.onHeartbeat(hb('c', 5, { leaving: true }), 100);
      expect(m.leavingPeers()).toEqual(['b', 'c']);
      expect(m.onLinkDown('b', 'connection closed')).toEqual([]);
      expect(m.leavingPeers()).toEqual(['c']);
      expect(m.onPeerGone('c')).toEqual([]);
      expect(m.leavingPeers()).toEqual([]);
      m.onHeartbeat(hb('b', 6), 200);
      expect(m.state('b')).toBe('up');
      m.onHeartbeat(hb('b', 6, { leaving: true }), 300);
      expect(m.leavingPeers()).toEqual(['b']);
    });

    it('does not list as leaving a member it had down or had never heard of', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5, { leaving: true }), 0); // static, never heard
      m.onHeartbeat(hb('q1', 5, { leaving: true }), 0);
      expect(m.state('b')).toBe('left');
      expect(m.leavingPeers()).toEqual([]);
    });

    it('announces itself as left once leaving, and leaves the ring', () => {
      const m = trio();
      m.setLeaving();
      const h = m.heartbeat();
      expect(h.leaving).toBe(true);
      expect(h.members[0]).toMatchObject({ node: 'a', state: 'left' });
      expect(m.state('a')).toBe('left');
      expect(m.ringMembers()).toEqual([]);
    });
  });

  describe('gossip', () => {
    it('discovers a member a peer names, and counts it for quorum', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      const members: MemberInfo[] = [
        { node: 'b', incarnation: 5, state: 'up', address: addr(1) },
        { node: 'n7', incarnation: 3, state: 'up', address: addr(7) },
      ];
      const events = m.onHeartbeat(hb('b', 5, { members }), 0);
      expect(events).toEqual([
        { type: 'peerUp', node: 'b', incarnation: 5, address: addr(1) },
        { type: 'peerDiscovered', node: 'n7', address: addr(7) },
      ]);
      expect(m.state('n7')).toBe('down');
      expect(m.addressOf('n7')).toEqual(addr(7));
      expect(m.ringMembers().sort()).toEqual(['a', 'b']);
      expect(m.hasQuorum()).toBe(true); // 2 of 3
    });

    it('does not discover a member twice, nor one that has left', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      const members: MemberInfo[] = [
        { node: 'n7', incarnation: 3, state: 'up', address: addr(7) },
        { node: 'n8', incarnation: 3, state: 'left', address: addr(8) },
      ];
      m.onHeartbeat(hb('b', 5, { members }), 0);
      expect(m.onHeartbeat(hb('b', 5, { members }), 100)).toEqual([]);
      expect(m.state('n8')).toBeUndefined();
    });

    it('brings a discovered member up when it is heard from directly', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      m.onHeartbeat(hb('b', 5, { members: [{ node: 'n7', incarnation: 3, state: 'up', address: addr(7) }] }), 0);
      expect(types(m.onHeartbeat(hb('n7', 3), 10))).toEqual(['peerUp']);
      expect(m.state('n7')).toBe('up');
    });
  });

  describe('quorum', () => {
    it.each([
      [1, false],
      [2, true],
      [3, true],
    ])('with 3 members and %i reachable is %s', (reachable, quorum) => {
      const m = trio();
      if (reachable >= 2) m.onHeartbeat(hb('b', 5), 0);
      if (reachable >= 3) m.onHeartbeat(hb('c', 5), 0);
      expect(m.hasQuorum()).toBe(quorum);
      expect(m.heartbeat().quorum).toBe(quorum);
    });

    it('counts suspect members as reachable and down ones not', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onLinkDown('b', 'reset');
      expect(m.hasQuorum()).toBe(true);
      m.onPeerGone('b');
      expect(m.hasQuorum()).toBe(false);
    });

    it('holds alone, with nobody else known', () => {
      expect(new Membership('a', addr(0), T, SELF_INC).hasQuorum()).toBe(true);
    });

    it('needs more than half: 2 of 4 is not enough', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      for (const [n, i] of [['b', 1], ['c', 2], ['d', 3]] as const) m.addStatic(n, addr(i), 0);
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.hasQuorum()).toBe(false);
      m.onHeartbeat(hb('c', 5), 0);
      expect(m.hasQuorum()).toBe(true);
    });
  });

  describe('nodes of another protocol version', () => {
    /** Stops heard members: their links close and their ports refuse (dead). */
    function stop(m: Membership, ...nodes: string[]): void {
      for (const n of nodes) {
        m.onLinkDown(n, 'closed');
        m.onPeerGone(n);
      }
    }

    /** Heartbeats from `nodes` at every tick from `from` to `to`, so they stay up. */
    function liveThrough(m: Membership, nodes: string[], from: number, to: number): void {
      for (let t = from + T.heartbeatIntervalMs; t <= to; t += T.heartbeatIntervalMs) {
        for (const n of nodes) m.onHeartbeat(hb(n, 5), t);
        m.tick(t);
      }
    }

    it('count as alive and unreachable: a region moved to a new version one node at a time never has a majority on both sides', () => {
      // a stays on the old version; b and c are stopped (refused: dead) and come back on a new one.
      const a = trio();
      a.onHeartbeat(hb('b', 5), 0);
      a.onHeartbeat(hb('c', 5), 0);
      stop(a, 'c');
      expect(a.hasQuorum()).toBe(true); // 2 of 2: c is dead
      a.onOtherVersion('c', 2, 10);
      expect(a.hasQuorum()).toBe(true); // 2 of 3: c is back, unreachable
      stop(a, 'b');
      // Without c counted, a would be 1 of 1 and serve while b and c, 2 of 3, serve too.
      expect(a.hasQuorum()).toBe(false);
      a.onOtherVersion('b', 2, 20);
      expect(a.hasQuorum()).toBe(false);
      expect(a.otherVersionsAlive()).toEqual([
        { node: 'c', protocol: 2 },
        { node: 'b', protocol: 2 },
      ]);
      // b's side: c linked, a heard of in the old version.
      const b = new Membership('b', addr(1), T, SELF_INC);
      b.addStatic('a', addr(0), 0);
      b.addStatic('c', addr(2), 0);
      b.onHeartbeat(hb('c', 7), 20);
      b.onOtherVersion('a', 1, 20);
      expect(b.hasQuorum()).toBe(true);
    });

    it('count whatever they were before: one that left, or one we still had up', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      m.onHeartbeat(hb('c', 5, { leaving: true }), 0);
      expect(m.state('c')).toBe('left');
      expect(m.hasQuorum()).toBe(true); // 2 of 2
      m.onOtherVersion('c', 2, 0);
      expect(m.hasQuorum()).toBe(true); // 2 of 3
      m.onOtherVersion('b', 2, 0); // still up in our view, but nothing of it crosses now
      expect(m.hasQuorum()).toBe(false); // 1 of 3
    });

    it('count one from before versions (0) the same way: it cannot be reached', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      stop(m, 'c');
      m.onOtherVersion('c', 0, 0);
      expect(m.hasQuorum()).toBe(true); // 2 of 3
      m.onOtherVersion('b', 0, 0);
      expect(m.hasQuorum()).toBe(false); // 1 of 3
      liveThrough(m, [], 0, T.downAfterMs);
      expect(m.otherVersionsAlive()).toEqual([]);
    });

    it('count one never heard of too (a node that joined while we were away), while it is heard of', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.hasQuorum()).toBe(true); // 2 of 3
      m.onOtherVersion('d', 2, 0);
      expect(m.hasQuorum()).toBe(false); // 2 of 4
      liveThrough(m, ['b'], 0, T.downAfterMs);
      expect(m.hasQuorum()).toBe(true); // d silent for the down timeout: 2 of 3
    });

    it('keep a member proven alive in another version counted through a partition, until a refused connection proves it dead', () => {
      // b and c were stopped (dead), then came back in another version; then a is cut off.
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      stop(m, 'b', 'c');
      expect(m.hasQuorum()).toBe(true); // alone: both dead
      m.onOtherVersion('b', 2, 0);
      m.onOtherVersion('c', 2, 0);
      expect(m.hasQuorum()).toBe(false); // 1 of 3
      liveThrough(m, [], 0, 3 * T.downAfterMs); // nothing heard of them: a partition
      expect(m.otherVersionsAlive()).toEqual([]);
      // Alive in their records, out of reach: without that, a would be 1 of 1 again while b and c serve.
      expect(m.hasQuorum()).toBe(false);
      m.onPeerGone('b');
      m.onPeerGone('c');
      expect(m.hasQuorum()).toBe(true); // both refuse connections: dead
    });

    it('turn a member that left into one that is down (alive, out of reach)', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      m.onHeartbeat(hb('c', 5, { leaving: true }), 0);
      m.onOtherVersion('c', 2, 0);
      expect(m.state('c')).toBe('down');
      expect(m.leavingPeers()).toEqual([]);
      liveThrough(m, ['b'], 0, 2 * T.downAfterMs);
      expect(m.hasQuorum()).toBe(true); // 2 of 3
    });

    it('are not undone by a stale heartbeat (an older life of that node)', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      m.addStatic('b', addr(1), 0);
      m.onHeartbeat(hb('b', 5), 0);
      stop(m, 'b');
      m.onOtherVersion('b', 2, 10);
      m.onHeartbeat(hb('b', 5), 20); // bytes of its old life, delivered late
      expect(m.otherVersionsAlive()).toEqual([{ node: 'b', protocol: 2 }]);
      expect(m.hasQuorum()).toBe(false);
    });

    /** a and b, b heard from and then seen speaking protocol 2: a alone has 1 of 2. */
    function pairWithOtherVersion(): Membership {
      const m = new Membership('a', addr(0), T, SELF_INC);
      m.addStatic('b', addr(1), 0);
      m.onHeartbeat(hb('b', 5), 0);
      m.onOtherVersion('b', 2, 10);
      expect(m.hasQuorum()).toBe(false); // 1 of 2
      return m;
    }

    it('stop counting as another version once heard over a link (it speaks ours again)', () => {
      const m = pairWithOtherVersion();
      m.onHeartbeat(hb('b', 6), 20);
      expect(m.hasQuorum()).toBe(true); // 2 of 2, at once
      expect(m.otherVersionsAlive()).toEqual([]);
    });

    it('are given a fresh timeout after we were frozen, as members are', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onOtherVersion('c', 3, 0);
      m.tick(T.heartbeatIntervalMs);
      const frozenUntil = T.heartbeatIntervalMs + 2 * T.downAfterMs;
      m.tick(frozenUntil); // a freeze: the silence was ours
      m.tick(frozenUntil + T.heartbeatIntervalMs);
      expect(m.otherVersionsAlive()).toEqual([{ node: 'c', protocol: 3 }]);
    });

    it('are forgotten at once when a refused connection proves that node dead', () => {
      const m = pairWithOtherVersion();
      m.onPeerGone('b');
      expect(m.otherVersionsAlive()).toEqual([]);
      expect(m.hasQuorum()).toBe(true); // alone: b is dead
    });
  });

  describe('being declared down', () => {
    const downReport = (inc: number): MemberInfo[] => [{ node: 'a', incarnation: inc, state: 'down', address: addr(0) }];

    it('starts a new life when a peer with quorum reports it down at its incarnation', () => {
      const m = trio();
      const events = m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC), quorum: true }), 5_000);
      expect(types(events)).toEqual(['peerUp', 'selfReset']);
      const reset = events[1] as Extract<MembershipEvent, { type: 'selfReset' }>;
      expect(reset.incarnation).toBeGreaterThan(SELF_INC);
      expect(reset.reason).toContain('b');
      expect(m.selfIncarnation).toBe(reset.incarnation);
      expect(m.heartbeat().incarnation).toBe(reset.incarnation);
    });

    it('does not reset again for a report about its old incarnation', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC) }), 5_000);
      const inc = m.selfIncarnation;
      expect(m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC) }), 5_100)).toEqual([]);
      expect(m.selfIncarnation).toBe(inc);
    });

    it('ignores a stale report from a life of the peer it holds dead (bytes held by a partition)', () => {
      // b, cut off, still had quorum for a moment (c only suspect) and said a was down; a,
      // on the majority side, declared b down. After the heal, b's old heartbeats arrive.
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      tickThrough(m, 0, 1_000, [['c', 6]]);
      expect(m.state('b')).toBe('down');
      expect(m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC), quorum: true }), 1_050)).toEqual([]);
      expect(m.onHeartbeat(hb('b', 4, { members: downReport(SELF_INC), quorum: true }), 1_060)).toEqual([]);
      expect(m.selfIncarnation).toBe(SELF_INC);
      // Its next life is news.
      expect(types(m.onHeartbeat(hb('b', 7, { members: downReport(SELF_INC), quorum: true }), 1_100))).toEqual(['peerUp', 'selfReset']);
    });

    describe('by a peer it holds down too (both kept a majority: a partial partition)', () => {
      /** `self` (a or b), with c heard throughout, has the other of a and b down from 800. */
      function mutual(self: 'a' | 'b'): Membership {
        const other = self === 'a' ? 'b' : 'a';
        const m = new Membership(self, addr(numberOf(self)), T, SELF_INC);
        m.addStatic(other, addr(numberOf(other)), 0);
        m.addStatic('c', addr(2), 0);
        m.onHeartbeat(hb(other, 5), 0);
        m.onHeartbeat(hb('c', 6), 0);
        tickThrough(m, 0, 800, [['c', 6]]);
        expect(m.state(other)).toBe('down');
        return m;
      }
      /** `sender`'s heartbeat in life `inc`, its view: `target` down in life `targetInc`, `up` (and itself) up. */
      const saysDown = (sender: string, inc: number, target: string, targetInc: number, up = ['c']): Heartbeat =>
        hb(sender, inc, {
          members: [
            { node: sender, incarnation: inc, state: 'up', address: addr(numberOf(sender)) },
            { node: target, incarnation: targetInc, state: 'down', address: addr(numberOf(target)) },
            ...up.map((node): MemberInfo => ({ node, incarnation: 6, state: 'up', address: addr(numberOf(node)) })),
          ],
        });

      it('starts over once the other has said so for suspectAfterMs, when it sees as many members up and has the lower name', () => {
        const m = mutual('a');
        const says = (t: number) => m.onHeartbeat(saysDown('b', 5, 'a', SELF_INC), t);
        expect(says(1_000)).toEqual([]); // it may be a burst of bytes a healed link held
        expect(says(1_200)).toEqual([]);
        const events = says(1_400);
        expect(types(events)).toEqual(['selfReset', 'peerUp']);
        expect((events[0] as Extract<MembershipEvent, { type: 'selfReset' }>).reason).toContain('each other down');
        expect(m.state('b')).toBe('up');
        expect(says(1_500)).toEqual([]); // about its old life: no news
        // Lost again later: a new count.
        m.onHeartbeat(hb('c', 6), 1_500);
        tickThrough(m, 1_500, 2_500, [['c', 6]]);
        expect(m.state('b')).toBe('down');
        expect(m.onHeartbeat(saysDown('b', 5, 'a', m.selfIncarnation), 2_550)).toEqual([]);
      });

      it('waits for the other to start over when its name is the higher and it sees as many up', () => {
        const m = mutual('b');
        for (let t = 1_000; t <= 5_000; t += 100) expect(m.onHeartbeat(saysDown('a', 5, 'b', SELF_INC), t)).toEqual([]);
        expect(types(m.onHeartbeat(hb('a', 7), 5_100))).toEqual(['peerUp']);
      });

      it('starts over, whatever its name, when it sees fewer members up than the other', () => {
        // Cut from two peers that both have it down, a node alone resets, not both of them.
        const m = mutual('b');
        const says = (t: number) => m.onHeartbeat(saysDown('a', 5, 'b', SELF_INC, ['c', 'n3']), t);
        for (const t of [1_000, 1_200]) expect(says(t)).toEqual([]);
        expect(types(says(1_400))).toContain('selfReset');
        // And the other way round: a, seeing more up than b, waits for b.
        const a = mutual('a');
        for (let t = 1_000; t <= 3_000; t += 100) expect(a.onHeartbeat(saysDown('b', 5, 'a', SELF_INC, []), t)).toEqual([]);
      });

      it('counts afresh after a break in hearing it (a heal, a cut, and a heal again)', () => {
        const m = mutual('a');
        const says = (t: number) => m.onHeartbeat(saysDown('b', 5, 'a', SELF_INC), t);
        expect(says(1_000)).toEqual([]);
        for (const t of [1_500, 1_600, 1_700, 1_800]) expect(says(t)).toEqual([]); // 500 ms without: from 1500
        expect(types(says(1_900))).toEqual(['selfReset', 'peerUp']);
      });

      it('counts afresh when the other held it down again after a new life of its own', () => {
        const m = mutual('a');
        m.onHeartbeat(saysDown('b', 5, 'a', SELF_INC), 1_000);
        expect(types(m.onHeartbeat(hb('b', 6), 1_010))).toEqual(['peerUp']); // the burst ended in its new life
        tickThrough(m, 1_000, 2_000, [['c', 6]]);
        expect(m.state('b')).toBe('down');
        expect(m.onHeartbeat(saysDown('b', 6, 'a', SELF_INC), 2_050)).toEqual([]);
      });
    });

    it('after its own reset, takes back peers it had down in the life it last saw, and stops calling them down', () => {
      // a, with c up, declared b down; then c fell silent too and a lost quorum (the node then resets).
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      tickThrough(m, 0, 800, [['c', 6]]);
      tickThrough(m, 800, 1_600);
      expect(m.state('b')).toBe('down');
      expect(m.hasQuorum()).toBe(false);
      m.reset(1_600, 'lost quorum');
      expect(m.heartbeat().members.find((i) => i.node === 'b')).toMatchObject({ state: 'down', incarnation: 0 }); // no verdict on b's life
      // The partition heals; b and c never reset (they kept quorum).
      expect(types(m.onHeartbeat(hb('c', 6), 1_700))).toEqual(['peerUp']);
      expect(m.hasQuorum()).toBe(true);
      expect(types(m.onHeartbeat(hb('b', 5), 1_750))).toEqual(['peerUp']);
      expect(m.ringMembers().sort()).toEqual(['a', 'b', 'c']);
    });

    it('ignores a report from a peer without quorum', () => {
      const m = trio();
      const events = m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC), quorum: false }), 5_000);
      expect(types(events)).toEqual(['peerUp']);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('ignores a report that it is up or suspect', () => {
      const m = trio();
      for (const state of ['up', 'suspect'] as const) {
        const members: MemberInfo[] = [{ node: 'a', incarnation: SELF_INC, state, address: addr(0) }];
        expect(types(m.onHeartbeat(hb('b', 5, { members }), 5_000))).not.toContain('selfReset');
      }
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('ignores a report while it is leaving', () => {
      const m = trio();
      m.setLeaving();
      expect(types(m.onHeartbeat(hb('b', 5, { members: downReport(SELF_INC) }), 5_000))).not.toContain('selfReset');
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('takes an incarnation of at least now, and above its last, when it resets', () => {
      const m = new Membership('a', addr(0), T, 10_000);
      expect(m.reset(5_000, 'test')).toEqual({ type: 'selfReset', incarnation: 10_001, reason: 'test' });
      expect(m.reset(50_000, 'test')).toEqual({ type: 'selfReset', incarnation: 50_000, reason: 'test' });
    });

    it('takes new incarnations from the wall clock it is given, not from the times it measures silences with', () => {
      let wall = 70_000;
      const m = new Membership('a', addr(0), T, 10_000, () => wall);
      expect(m.reset(5, 'test').type).toBe('selfReset');
      expect(m.selfIncarnation).toBe(70_000);
      wall = 20_000; // stepped back: still above the last
      m.reset(6, 'test');
      expect(m.selfIncarnation).toBe(70_001);
    });

    it('takes a life above the one a peer knows of it: restarted after its wall clock went back', () => {
      // a's earlier life began at 9,000 on its wall clock; it restarted at 1,000 (the clock
      // stepped back), and b still holds it down at 9,000. Its own heartbeats are below
      // that life: b takes them for stale. Hearing b, a takes 9,001.
      const m = new Membership('a', addr(0), T, 1_000, () => 1_200);
      m.addStatic('b', addr(1), 0);
      m.addStatic('c', addr(2), 0);
      const knows = (inc: number, state: MemberInfo['state']): MemberInfo[] => [{ node: 'a', incarnation: inc, state, address: addr(0) }];
      const events = m.onHeartbeat(hb('b', 5, { members: knows(9_000, 'down') }), 100);
      expect(types(events)).toEqual(['peerUp', 'selfReset']);
      expect((events[1] as Extract<MembershipEvent, { type: 'selfReset' }>).reason).toMatch(/b knows this node at incarnation 9000/);
      expect(m.selfIncarnation).toBe(9_001);
      // Heard again, or from c holding it up at that life: nothing more.
      expect(m.onHeartbeat(hb('b', 5, { members: knows(9_000, 'down') }), 200)).toEqual([]);
      expect(types(m.onHeartbeat(hb('c', 6, { members: knows(9_000, 'up') }), 200))).toEqual(['peerUp']);
      expect(m.selfIncarnation).toBe(9_001);
      // A node leaving does not start over.
      const going = new Membership('a', addr(0), T, 1_000, () => 1_200);
      going.setLeaving();
      expect(types(going.onHeartbeat(hb('b', 5, { members: knows(9_000, 'up') }), 100))).toEqual(['peerUp']);
      expect(going.selfIncarnation).toBe(1_000);
    });
  });

  describe('declaring down takes a majority that is up', () => {
    const told = (m: Membership, node: string) => m.heartbeat().members.find((i) => i.node === node)?.state;
    const named = (events: { at: number; event: MembershipEvent }[]) => events.map(({ at, event }) => [at, event.type, 'node' in event ? event.node : '']);

    /** a is cut off: it last heard c at 0 and b at 300; returns its events from 300 to 800. */
    function cutOff(): { m: Membership; events: { at: number; event: MembershipEvent }[] } {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      tickThrough(m, 0, 300);
      m.onHeartbeat(hb('b', 5), 300);
      return { m, events: tickThrough(m, 300, 800) };
    }

    it('keeps a peer silent past the timeout suspect while the others are only suspect, and tells it as suspect', () => {
      // Told "down, with quorum" to c, it would make c drop its state as the majority declares a down.
      const { m, events } = cutOff();
      expect(named(events)).toEqual([
        [400, 'peerSuspect', 'c'],
        [700, 'peerSuspect', 'b'],
        [800, 'peerSuspect', 'c'], // overdue: not counted for quorum
      ]);
      expect(m.state('c')).toBe('suspect');
      expect([m.isOverdue('c'), m.isOverdue('b')]).toEqual([true, false]);
      expect(m.healthView()).toEqual([
        { node: 'a', state: 'up', incarnation: SELF_INC },
        { node: 'b', state: 'suspect', incarnation: 5 },
        { node: 'c', state: 'suspect', incarnation: 6, overdue: true },
      ]);
      expect(m.ringMembers()).toEqual(['a', 'b', 'c']);
      expect(m.hasQuorum()).toBe(true); // b is not overdue yet
      expect(told(m, 'c')).toBe('suspect');
      // b overdue too at 1100: a has lost quorum, in time as before.
      tickThrough(m, 800, 1_100);
      expect(m.state('b')).toBe('suspect');
      expect(m.hasQuorum()).toBe(false);
      // Heard again in the same life, c is simply up: nothing was forgotten, nobody resets.
      expect(types(m.onHeartbeat(hb('c', 6), 1_150))).toEqual(['peerUp']);
      expect(m.isOverdue('c')).toBe(false);
      expect(m.hasQuorum()).toBe(true);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('declares it down once a majority has been up for suspectAfterMs', () => {
      const { m } = cutOff();
      // b is heard again from 900: a majority up from then, so c is declared down at 1300.
      expect(named(tickThrough(m, 800, 1_300, [['b', 5]]))).toEqual([
        [900, 'peerUp', 'b'],
        [1_300, 'peerDown', 'c'],
      ]);
      expect(told(m, 'c')).toBe('down');
      expect(m.onHeartbeat(hb('c', 6), 1_350)).toEqual([]); // that life stays down
    });

    it('counts suspects as a majority for quorum, but not for a verdict', () => {
      // Five nodes: a hears b; c and d are suspect, n4 silent past the timeout.
      const m = new Membership('a', addr(0), T, SELF_INC);
      for (const [p, inc] of [['b', 5], ['c', 6], ['d', 7], ['n4', 8]] as const) {
        m.addStatic(p, addr(numberOf(p)), 0);
        m.onHeartbeat(hb(p, inc), 0);
      }
      m.tick(0);
      tickThrough(m, 0, 300, [['b', 5], ['c', 6], ['d', 7]]);
      tickThrough(m, 300, 800, [['b', 5]]);
      expect(m.state('c')).toBe('suspect');
      expect(m.state('n4')).toBe('suspect'); // 2 of 5 up: no verdict
      expect(m.hasQuorum()).toBe(true); // a, b, c, d
      m.onHeartbeat(hb('c', 6), 850);
      tickThrough(m, 800, 1_200, [['b', 5], ['c', 6]]); // 3 of 5 up from 900: n4 down at 1300
      expect(m.state('n4')).toBe('suspect');
      tickThrough(m, 1_200, 1_300, [['b', 5], ['c', 6]]);
      expect(m.state('n4')).toBe('down');
    });

    it('after it lost quorum and reset, tells no verdict on a peer whose link heals later than the others', () => {
      // Silence measured in the life that ended (cut off, it heard nobody) is no verdict.
      const { m } = cutOff();
      tickThrough(m, 800, 1_100);
      expect(m.hasQuorum()).toBe(false);
      m.reset(1_100, 'lost quorum');
      expect(m.state('c')).toBe('down');
      tickThrough(m, 1_100, 4_000, [['b', 5]]); // b back, c still cut off
      expect(m.heartbeat().members.find((i) => i.node === 'c')).toMatchObject({ state: 'down', incarnation: 0 });
      expect(types(m.onHeartbeat(hb('c', 6), 4_050))).toEqual(['peerUp']);
    });

    it('declares at once a peer whose port refused connections, majority or not', () => {
      const { m } = cutOff();
      expect(types(m.onPeerGone('c'))).toEqual(['peerDown']);
      expect(told(m, 'c')).toBe('down');
    });
  });

  describe('being frozen', () => {
    it('resets itself after a gap of downAfterMs between ticks and does not blame its peers', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 5), 0);
      m.tick(0);
      const events = m.tick(T.downAfterMs);
      expect(types(events)).toEqual(['selfReset']);
      expect((events[0] as Extract<MembershipEvent, { type: 'selfReset' }>).incarnation).toBeGreaterThan(SELF_INC);
      expect(m.state('b')).toBe('up');
      expect(m.state('c')).toBe('up');
    });

    it('gives its peers a fresh timeout after the freeze', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      m.tick(5_000); // frozen for 5 s
      // Silence is counted from 5000: suspect at 5400, not at once.
      const events = tickThrough(m, 5_000, 5_400);
      expect(events.map(({ at, event }) => [at, event.type])).toEqual([[5_400, 'peerSuspect']]);
    });

    it('does not reset for a gap just under downAfterMs, nor blame a peer for silence its own lateness explains', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      expect(m.tick(T.downAfterMs - 1)).toEqual([]);
      expect(m.selfIncarnation).toBe(SELF_INC);
      expect(m.state('b')).toBe('up');
    });

    it('keeps its state when alone in its region: nobody could have declared it down', () => {
      const m = new Membership('a', addr(0), T, SELF_INC);
      m.tick(0);
      expect(m.tick(5_000)).toEqual([{ type: 'frozen', gapMs: 5_000 }]);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('keeps its state when every peer it had heard is down or silent past the timeout', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      tickThrough(m, 0, T.downAfterMs); // b silent past the timeout (no majority to declare it down); c was never heard
      expect(m.state('b')).toBe('suspect');
      expect(m.hasQuorum()).toBe(false);
      expect(types(m.tick(T.downAfterMs + 5_000))).toEqual(['frozen']);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });

    it('resets once when, waking from a freeze, it first hears it was declared down', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      // Queued bytes are read before the timer fires: the gossip comes first.
      const down = { node: 'a', incarnation: SELF_INC, state: 'down' as const, address: addr(0) };
      expect(types(m.onHeartbeat(hb('b', 5, { members: [down] }), 5_000))).toEqual(['selfReset']);
      const inc = m.selfIncarnation;
      expect(m.tick(5_010)).toEqual([]);
      expect(m.selfIncarnation).toBe(inc);
    });

    it("after that reset, gives the peers it has not heard since the freeze a fresh timeout: their silence was the old life's", () => {
      // Chaos seed 3644: eu-4, paused 13 s, read on waking that it had been declared down
      // and reset; 0.6 s later it declared eu-3 (healthy, not yet heard in the new life)
      // down from its silence before the pause. eu-4 had quorum again, so eu-3 obeyed and
      // dropped every channel it held.
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      const down = { node: 'a', incarnation: SELF_INC, state: 'down' as const, address: addr(0) };
      expect(types(m.onHeartbeat(hb('b', 5, { members: [down] }), 5_000))).toEqual(['selfReset']);
      // b is heard in the new life; c not yet. c is suspected a full suspectAfterMs after
      // the reset, and declared down only after downAfterMs, not at the first tick.
      const events = tickThrough(m, 5_000, 5_000 + T.downAfterMs, [['b', 5]]);
      expect(events.map(({ at, event }) => [at, event.type, 'node' in event ? event.node : ''])).toEqual([
        [5_000 + T.suspectAfterMs, 'peerSuspect', 'c'],
        [5_000 + T.downAfterMs, 'peerDown', 'c'],
      ]);
      expect(m.state('b')).toBe('up');
    });

    it('allows for its own recent lateness before suspecting, and only for downAfterMs', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onHeartbeat(hb('c', 6), 0);
      m.tick(0);
      // One tick 600 ms late (a busy event loop): b's heartbeats may be unread in our queues.
      m.onHeartbeat(hb('c', 6), T.heartbeatIntervalMs + 600);
      expect(m.tick(T.heartbeatIntervalMs + 600)).toEqual([]);
      // Silence of b counted against suspectAfterMs + 600 while that lateness is recent.
      const events = tickThrough(m, T.heartbeatIntervalMs + 600, 3_000, [['c', 6]]);
      expect(events.map(({ at, event }) => [at, event.type])).toEqual([
        [1_000, 'peerSuspect'],
        [1_400, 'peerDown'],
      ]);
    });

    it('suspects on time again once its lateness is older than downAfterMs', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.tick(0);
      m.tick(T.heartbeatIntervalMs + 600); // late once, at 700
      // b keeps talking for a while; the lateness ages out after 800 ms (at 1500).
      for (let t = 800; t <= 2_000; t += T.heartbeatIntervalMs) {
        m.onHeartbeat(hb('b', 5), t);
        m.tick(t);
      }
      const events = tickThrough(m, 2_000, 2_400);
      expect(events.map(({ at, event }) => [at, event.type])).toEqual([[2_400, 'peerSuspect']]);
    });

    it('does not reset on its first tick, however late', () => {
      const m = trio();
      expect(m.tick(1_000_000)).toEqual([]);
      expect(m.selfIncarnation).toBe(SELF_INC);
    });
  });

  describe('transport signals', () => {
    it('suspects a member at once when its link goes down', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.onLinkDown('b', 'socket closed')).toEqual([{ type: 'peerSuspect', node: 'b', reason: 'socket closed' }]);
      expect(m.state('b')).toBe('suspect');
      expect(m.onLinkDown('b', 'again')).toEqual([]);
    });

    it('ignores a link going down to a member that is not up', () => {
      const m = trio();
      expect(m.onLinkDown('b', 'x')).toEqual([]);
      expect(m.onLinkDown('nobody', 'x')).toEqual([]);
      expect(m.state('b')).toBe('down');
    });

    it('declares a member down at once when its process is gone', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      const events = m.onPeerGone('b');
      expect(types(events)).toEqual(['peerDown']);
      expect(events[0]).toMatchObject({ node: 'b' });
      expect(m.state('b')).toBe('down');
      expect(m.onPeerGone('b')).toEqual([]);
    });

    it('declares a suspect member down when its process is gone', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      m.onLinkDown('b', 'x');
      expect(types(m.onPeerGone('b'))).toEqual(['peerDown']);
    });

    it('ignores a gone process for a member never heard', () => {
      const m = trio();
      expect(m.onPeerGone('b')).toEqual([]);
      expect(m.onPeerGone('nobody')).toEqual([]);
    });
  });

  describe('view and heartbeat', () => {
    it('sends its own state first, then every member it knows', () => {
      const m = trio();
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.heartbeat()).toEqual({
        type: 'heartbeat',
        node: 'a',
        incarnation: SELF_INC,
        address: addr(0),
        members: [
          { node: 'a', incarnation: SELF_INC, state: 'up', address: addr(0) },
          { node: 'b', incarnation: 5, state: 'up', address: addr(1) },
          { node: 'c', incarnation: 0, state: 'down', address: addr(2) },
        ],
        leaving: false,
        quorum: true,
      });
      expect(m.peers().map((p) => p.node)).toEqual(['b', 'c']);
    });

    it('forgets a member for good', () => {
      const m = trio();
      expect(m.forget('c')).toBe(true);
      expect(m.state('c')).toBeUndefined();
      expect(m.forget('c')).toBe(false);
      expect(m.hasQuorum()).toBe(false); // 1 of 2
      m.onHeartbeat(hb('b', 5), 0);
      expect(m.hasQuorum()).toBe(true);
    });
  });
});

describe('Membership quorum with dead peers', () => {
  function pair(): Membership {
    const m = new Membership('a', addr(0), T, SELF_INC);
    m.addStatic('b', addr(1), 0);
    m.onHeartbeat(hb('b', 5), 0);
    return m;
  }

  it('keeps quorum in a region of two when the other node is known dead (its port refused)', () => {
    const m = pair();
    expect(m.hasQuorum()).toBe(true);
    expect(types(m.onPeerGone('b'))).toEqual(['peerDown']);
    expect(m.hasQuorum()).toBe(true);
  });

  it('loses quorum in a region of two when the other node merely falls silent (a partition)', () => {
    const m = pair();
    tickThrough(m, 0, 1000);
    expect(m.state('b')).toBe('suspect'); // past the timeout, but nobody else up to back a verdict
    expect(m.hasQuorum()).toBe(false);
    // A refusal later still proves the process gone.
    m.onPeerGone('b');
    expect(m.hasQuorum()).toBe(true);
  });

  it('counts a dead node again once it comes back as a new incarnation', () => {
    const m = new Membership('a', addr(0), T, SELF_INC);
    for (const p of ['b', 'c']) {
      m.addStatic(p, addr(numberOf(p)), 0);
      m.onHeartbeat(hb(p, 5), 0);
    }
    m.onPeerGone('b');
    m.onHeartbeat(hb('b', 6), 10);
    expect(m.state('b')).toBe('up');
    tickThrough(m, 10, 1000);
    // b and c both silent now: one of three reachable.
    expect(m.hasQuorum()).toBe(false);
  });

  it('does not count a refusal from a node it never heard (one still starting) as death', () => {
    const m = new Membership('a', addr(0), T, SELF_INC);
    m.addStatic('b', addr(1), 0);
    m.addStatic('c', addr(2), 0);
    expect(m.onPeerGone('b')).toEqual([]);
    expect(m.hasQuorum()).toBe(false);
  });
});
