/**
 * Membership of whole regions on a simulated network: every node's failure detector, the
 * heartbeats between them (FIFO links; a cut link holds its bytes and delivers them when
 * it heals, as the chaos fault proxy does) and what node.ts does with the events (a new
 * life broadcast at once; a node that loses quorum resets). Each schedule counts which
 * nodes dropped their state and why, and checks that the views agree again afterwards.
 */
import { describe, expect, it } from 'vitest';
import { Membership, deriveTimeouts, type MembershipEvent } from '../../../src/cluster/membership.js';
import type { Heartbeat, NodeAddress } from '../../../src/transport/messages.js';

const T = deriveTimeouts(100); // suspect after 400 ms, down after 800 ms
const LATENCY_MS = 1;

interface SimNode {
  m: Membership;
  phase: number;
  quorum: boolean;
  resets: string[];
}

interface Sim {
  nodes: Map<string, SimNode>;
  run(until: number): void;
  /** Whether every node holds every other up, at the life it is in now, with quorum. */
  converged(): boolean;
}

/** `cut(from, to, t)`: whether the link from → to holds its bytes at time t. */
function simulate(phases: Record<string, number>, cut: (from: string, to: string, t: number) => boolean): Sim {
  const names = Object.keys(phases);
  const nodes = new Map<string, SimNode>();
  names.forEach((name, i) => {
    const address: NodeAddress = { host: '127.0.0.1', port: 8000 + i, meshPort: 9000 + i };
    const m = new Membership(name, address, T, 1_000 + i);
    nodes.set(name, { m, phase: phases[name]!, quorum: false, resets: [] });
  });
  names.forEach((name, i) => {
    for (const [j, other] of names.entries()) if (j !== i) nodes.get(name)!.m.addStatic(other, { host: '127.0.0.1', port: 8000 + j, meshPort: 9000 + j }, 0);
  });
  const queues = new Map<string, { at: number; hb: Heartbeat }[]>(); // per link "from>to", FIFO
  let now = 0;

  const send = (from: string, hb: Heartbeat) => {
    for (const to of names) {
      if (to === from) continue;
      const key = `${from}>${to}`;
      if (!queues.has(key)) queues.set(key, []);
      queues.get(key)!.push({ at: now + LATENCY_MS, hb });
    }
  };
  const apply = (name: string, events: MembershipEvent[]) => {
    const n = nodes.get(name)!;
    for (const e of events) {
      if (e.type === 'selfReset') {
        n.resets.push(e.reason);
        send(name, n.m.heartbeat());
      }
    }
    const quorum = n.m.hasQuorum();
    if (n.quorum && !quorum) {
      const reset = n.m.reset(now, 'lost quorum');
      if (reset.type === 'selfReset') n.resets.push(reset.reason);
    }
    n.quorum = quorum;
  };

  return {
    nodes,
    run(until: number) {
      for (; now <= until; now++) {
        for (const [key, q] of queues) {
          const [from, to] = key.split('>') as [string, string];
          if (cut(from, to, now)) continue;
          while (q.length && q[0]!.at <= now) apply(to, nodes.get(to)!.m.onHeartbeat(q.shift()!.hb, now));
        }
        for (const [name, n] of nodes) {
          if ((now - n.phase) % T.heartbeatIntervalMs !== 0 || now < n.phase) continue;
          send(name, n.m.heartbeat());
          apply(name, n.m.tick(now));
        }
      }
    },
    converged() {
      for (const [name, n] of nodes) {
        if (!n.quorum) return false;
        for (const [other, o] of nodes) {
          if (other === name) continue;
          if (n.m.state(other) !== 'up' || n.m.incarnationOf(other) !== o.m.selfIncarnation) return false;
        }
      }
      return true;
    },
  };
}

/** Phases of the heartbeat timers of a, b and c: which peer a heard last differs. */
const PHASES = [
  { a: 0, b: 33, c: 66 },
  { a: 0, b: 66, c: 33 },
  { a: 50, b: 10, c: 90 },
  { a: 20, b: 21, c: 22 },
];
const CUT_AT = 1_000;
const durations = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** Runs a schedule to `CUT_AT + d + 3 s` and returns each node's resets; asserts the views agree again. */
function runCut(phases: Record<string, number>, d: number, isCut: (from: string, to: string) => boolean): Record<string, string[]> {
  const sim = simulate(phases, (from, to, t) => t >= CUT_AT && t < CUT_AT + d && isCut(from, to));
  sim.run(CUT_AT + d + 3_000);
  const resets = Object.fromEntries([...sim.nodes].map(([name, n]) => [name, n.resets]));
  expect({ d, phases, converged: sim.converged(), resets }).toMatchObject({ converged: true });
  return resets;
}

describe('membership of a simulated region of three', () => {
  it('starts, and stays, with every node up in every view', () => {
    const sim = simulate(PHASES[0]!, () => false);
    sim.run(3_000);
    expect(sim.converged()).toBe(true);
    for (const n of sim.nodes.values()) expect(n.resets).toEqual([]);
  });

  it('makes only the node cut off from both peers drop its state, however long the cut', () => {
    // Its own timeouts expire one after the other; the first one (the other peer still only
    // suspect) once went out as "down, with quorum" and made a healthy peer reset as the
    // majority declared the cut-off node down: two of three copies gone.
    for (const phases of PHASES) {
      for (const d of [...durations(300, 1_000, 10), ...durations(1_000, 3_000, 100)]) {
        const resets = runCut(phases, d, (from, to) => from === 'a' || to === 'a');
        expect({ d, phases, b: resets.b, c: resets.c }).toEqual({ d, phases, b: [], c: [] });
        expect(resets.a!.length).toBeLessThanOrEqual(1);
      }
    }
  });

  it('makes a node drop its state after a cut of every link only if it lost quorum', () => {
    for (const phases of PHASES) {
      for (const d of [...durations(300, 1_100, 10), 2_000]) {
        const resets = runCut(phases, d, () => true);
        for (const [name, rs] of Object.entries(resets)) {
          expect({ d, phases, name, rs }).toEqual({ d, phases, name, rs: rs.filter((r) => r === 'lost quorum') });
        }
      }
    }
  });

  it('agrees again after two nodes lost each other while both kept the third, with one of them starting over', () => {
    // Each declared the other down with a majority (itself and c). Each ignores the other's
    // heartbeats, a life it holds dead, so neither would ever hear the other's verdict.
    for (const phases of PHASES) {
      for (const d of [...durations(300, 1_200, 20), 2_000, 5_000]) {
        const resets = runCut(phases, d, (from, to) => (from === 'a' && to === 'b') || (from === 'b' && to === 'a'));
        expect(resets.c).toEqual([]);
        expect(resets.a!.length + resets.b!.length).toBeLessThanOrEqual(1);
      }
    }
  });
});


describe('membership of a simulated region of five', () => {
  const FIVE = { n1: 0, n2: 20, n3: 40, n4: 60, n5: 80 };

  it('makes only the node cut from two peers drop its state, not both of them', () => {
    // n5 keeps n3 and n4 (a majority), and so do n1 and n2 without it: two pairs that hold
    // each other down. Both lower names resetting would drop both copies of a channel on n1 and n2.
    for (const d of [1_000, 2_000, 5_000]) {
      const resets = runCut(FIVE, d, (from, to) => (from === 'n5' && (to === 'n1' || to === 'n2')) || (to === 'n5' && (from === 'n1' || from === 'n2')));
      expect({ d, resets }).toEqual({ d, resets: { n1: [], n2: [], n3: [], n4: [], n5: [expect.stringContaining('each other down')] } });
    }
  });
});

describe('membership when links heal one after another', () => {
  it('makes only the cut-off node drop its state when its link to one peer heals seconds after the other', () => {
    // Cut off past quorum loss, then a–b healed at once and a–c later: a must not judge c by
    // the silence of the life it left.
    for (const lag of [500, 2_500, 3_500]) {
      const healAB = CUT_AT + 6_000;
      const sim = simulate(PHASES[0]!, (from, to, t) => {
        if (t < CUT_AT) return false;
        if (from !== 'a' && to !== 'a') return false;
        return t < (from === 'b' || to === 'b' ? healAB : healAB + lag);
      });
      sim.run(healAB + lag + 4_000);
      expect({ lag, converged: sim.converged() }).toEqual({ lag, converged: true });
      expect({ lag, b: sim.nodes.get('b')!.resets, c: sim.nodes.get('c')!.resets }).toEqual({ lag, b: [], c: [] });
      expect(sim.nodes.get('a')!.resets).toEqual(['lost quorum']);
    }
  });
});
