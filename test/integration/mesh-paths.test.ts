/**
 * A cut inside a region that is not transitive: n1 and n3 cannot reach each other (both
 * directions of their links go through fault proxies, blackholed), both reach n2. Frames
 * between n1 and n3 go through n2 while the cut lasts, in order, once and none lost; the
 * bytes the cut held, released at the heal, are not taken again (src/transport/mesh-paths.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeMessage } from '../../src/transport/messages.js';
import { meshTrio, numbers, word } from '../helpers/mesh-trio.js';
import { waitFor } from '../helpers/wait.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('a mesh link cut between two nodes that both reach a third', () => {
  it('carries their frames through the third while the cut lasts, in order and once, and after the heal', async () => {
    // n1 → n3 and n3 → n1 through proxies; everything else direct.
    const trio = await meshTrio(['n1->n3', 'n3->n1']);
    cleanup.push(() => trio.stop());
    const ts = trio.nodes;
    const p13 = trio.proxies.get('n1->n3')!;
    const p31 = trio.proxies.get('n3->n1')!;
    const [n1, n2, n3] = ts;
    const at3: NodeMessage[] = [];
    const at1: NodeMessage[] = [];
    n3.onMessage((from, m) => from === 'n1' && at3.push(m));
    n1.onMessage((from, m) => from === 'n3' && at1.push(m));
    // n1's frames to n2, whose link is not cut, go on as ever beside the ones around.
    const at2: NodeMessage[] = [];
    n2.onMessage((from, m) => from === 'n1' && at2.push(m));
    await Promise.all(ts.map((t) => t.start()));
    let i = 0;
    const sendBoth = (k: number) => {
      for (let j = 0; j < k; j++, i++) {
        n1.send('n3', word(i));
        n3.send('n1', word(i));
        n1.send('n2', word(i));
      }
    };
    sendBoth(5);
    await waitFor(() => at3.length === 5 && at1.length === 5, { what: 'the first frames, direct' });
    expect(n2.stats().relay).toMatchObject({ carried: 0 });

    p13.set('both', { blackhole: true });
    p31.set('both', { blackhole: true });
    // A steady stream comes through n2 once each node doubts its link (nothing heard on it for 1 s).
    const stream = setInterval(() => sendBoth(1), 50);
    cleanup.push(async () => clearInterval(stream));
    await waitFor(() => (n2.stats().relay?.carried ?? 0) >= 20, { what: 'frames carried around the cut by n2', timeoutMs: 10_000 });
    const during = at3.length;
    await waitFor(() => at3.length >= during + 10 && at1.length >= during + 10, { what: 'more frames during the cut' });
    p13.heal();
    p31.heal();
    // After the heal, the held bytes flow again; nothing is taken twice or out of order.
    const healedAt = i;
    await waitFor(() => at3.length > 0 && numbers(at3).at(-1)! >= healedAt + 10 && numbers(at1).at(-1)! >= healedAt + 10, { what: 'frames after the heal', timeoutMs: 10_000 });
    clearInterval(stream);
    // In order, once, and none lost: what the cut took before the link was doubted went
    // around too (each link keeps its last 64 frames, and all of its last 2 s once the peer
    // has not been heard for 350 ms).
    for (const got of [at3, at1]) {
      const ns = numbers(got);
      expect(ns).toEqual(Array.from({ length: ns.length }, (_, k) => k));
    }
    expect([n1.stats().relay?.takenAround, n3.stats().relay?.takenAround].every((x) => (x ?? 0) > 0), 'both ways around').toBe(true);
    // n1's frames to n2 all came, once, in order, and none of them around.
    await waitFor(() => at2.length === i, { what: "all of n1's frames to n2" });
    expect(numbers(at2)).toEqual(Array.from({ length: i }, (_, k) => k));
    expect(n2.stats().relay?.takenAround).toBe(0);
  }, 30_000);
});
