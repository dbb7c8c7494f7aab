/**
 * The mesh's choice of paths around a cut link and its receivers' order rule
 * (src/transport/mesh-paths.ts), without sockets: time and link states are given.
 */
import { describe, expect, it } from 'vitest';
import { DOUBT_MS, envelopeFrameHead, InOrder, KeptFrames, newSession, PeerPaths, readEnvelopeFrame, REMEMBER_AFTER_MS, Standing } from '../../../src/transport/mesh-paths.js';
import * as pb from '../../../src/gen/node.pb.js';

/** n1's view: links up to the peers in `up`. */
function paths(up: Set<string>, around = true): PeerPaths {
  return new PeerPaths('n1', (p) => up.has(p), around);
}

describe('PeerPaths', () => {
  it('doubts a link that is down, not heard for DOUBT_MS, or whose peer says it does not hear us', () => {
    const up = new Set(['n2', 'n3']);
    const p = paths(up);
    expect(p.doubts('n3', 0), 'never heard').toBe(true);
    p.heard('n3', 1000);
    expect(p.doubts('n3', 1000 + DOUBT_MS)).toBe(false);
    expect(p.doubts('n3', 1001 + DOUBT_MS), 'silent too long').toBe(true);
    p.heard('n3', 3000);
    p.report('n3', ['n2'], 3000);
    expect(p.doubts('n3', 3000), 'n3 does not hear n1').toBe(true);
    p.report('n3', ['n1', 'n2'], 3100);
    expect(p.doubts('n3', 3100)).toBe(false);
    up.delete('n3');
    expect(p.doubts('n3', 3100), 'link down').toBe(true);
  });

  it('tells in one look whether a link is heard, quiet (its frames all kept) or doubted', () => {
    const p = paths(new Set(['n2']));
    p.heard('n2', 1000);
    expect([p.standing('n2', 1000 + REMEMBER_AFTER_MS, true), p.standing('n2', 1001 + REMEMBER_AFTER_MS, true), p.standing('n2', 1001 + DOUBT_MS, true)]).toEqual([
      Standing.Heard,
      Standing.Quiet,
      Standing.Doubted,
    ]);
    expect(p.standing('n2', 1000, false), 'link down').toBe(Standing.Doubted);
    p.report('n2', [], 1000);
    expect(p.standing('n2', 1000, true), 'told it is not heard').toBe(Standing.Doubted);
  });

  it('goes around only through nodes it hears, whose link is up, and which say they hear the peer', () => {
    const up = new Set(['n2', 'n3', 'n4', 'n5']);
    const p = paths(up);
    for (const n of ['n2', 'n3', 'n4', 'n5']) p.heard(n, 0);
    p.report('n2', ['n1', 'n5'], 0);
    p.report('n3', ['n1'], 0); // does not hear n5
    p.report('n4', ['n5'], 0);
    p.report('n5', ['n2', 'n4'], 0);
    expect(p.relaysFor('n5', 0)).toEqual(['n2', 'n4']);
    up.delete('n2');
    expect(p.relaysFor('n5', 0), 'our link to n2 down').toEqual(['n4']);
    // n4's word is stale after 2 s; and a node not heard is no way around.
    expect(p.relaysFor('n5', 2001)).toEqual([]);
    p.report('n4', ['n5'], 2500);
    expect(p.relaysFor('n5', 2500), 'n4 not heard for longer than DOUBT_MS').toEqual([]);
    p.heard('n4', 2500);
    expect(p.relaysFor('n5', 2500)).toEqual(['n4']);
    // A node never goes around through the peer itself, or when switched off.
    expect(p.relaysFor('n4', 2500)).toEqual([]);
    const off = paths(up, false);
    off.heard('n4', 0);
    off.report('n4', ['n5'], 0);
    expect(off.relaysFor('n5', 0)).toEqual([]);
  });

  it('says whom it hears, and forgets a removed peer', () => {
    const p = paths(new Set(['n2', 'n3']));
    p.heard('n3', 0);
    p.heard('n2', 500);
    expect(p.hearing(1000)).toEqual(['n2', 'n3']);
    expect(p.hearing(1300)).toEqual(['n2']);
    p.forget('n2');
    expect(p.hearing(1300)).toEqual([]);
  });
});

describe('InOrder', () => {
  it("takes each sender's frames once, in increasing order, within its newest session", () => {
    const o = new InOrder();
    const take = (from: string, session: number, seqs: number[]) => seqs.filter((s) => o.accept(from, session, s));
    expect(take('a', 10, [1, 2, 2, 4, 3, 5])).toEqual([1, 2, 4, 5]);
    // Another sender counts apart.
    expect(take('b', 10, [1, 2])).toEqual([1, 2]);
    // A restarted sender (a larger session) starts over; the old life's late frames go.
    expect(take('a', 11, [1, 2])).toEqual([1, 2]);
    expect(take('a', 10, [6, 7])).toEqual([]);
    o.forget('a');
    expect(take('a', 10, [6])).toEqual([6]);
  });

  it('counts a life a handshake proved from its start, also one with a smaller session (a clock stepped back)', () => {
    const o = new InOrder();
    const take = (session: number, seqs: number[]) => seqs.filter((s) => o.accept('a', session, s));
    expect(take(10, [5, 6])).toEqual([5, 6]);
    o.begin('a', 10); // a reconnect of the same life: its count goes on
    expect(take(10, [6, 7])).toEqual([7]);
    o.begin('a', 9); // proven anew, with a smaller session
    expect(take(9, [1, 2])).toEqual([1, 2]);
    expect(take(10, [8]), "the other life's late frames").toEqual([]);
  });

  it('gives later lives larger sessions', () => {
    expect(newSession(1_000)).toBeLessThan(newSession(1_001));
    expect(Number.isSafeInteger(newSession(Date.now() + 100 * 365 * 86_400_000))).toBe(true);
  });
});

describe('KeptFrames', () => {
  it("keeps a link's last 64 frames, and all of its last 2 s (up to 4 MiB) while the peer is quiet", () => {
    const k = new KeptFrames<string>();
    for (let i = 1; i <= 100; i++) k.keep(i, `f${i}`, 10, i, false);
    expect([k.size, k.after(0)[0]!.seq]).toEqual([64, 37]);
    expect(k.after(98).map((r) => r.frame)).toEqual(['f99', 'f100']);
    // Quiet: no count bound, but 2 s and 4 MiB.
    for (let i = 101; i <= 3000; i++) k.keep(i, `f${i}`, 10, 1000 + i, true);
    expect(k.after(0)[0]!.seq).toBe(1000); // kept since 2 s before the last (at 4000)
    k.keep(3001, 'big', 4 * 1024 * 1024, 4001, true);
    expect(k.after(0).map((r) => r.seq)).toEqual([3001]);
    // Not quiet again: back to the last 64.
    for (let i = 3002; i <= 3100; i++) k.keep(i, `f${i}`, 10, 4002, false);
    expect(k.size).toBe(64);
  });
});

describe('envelopeFrameHead', () => {
  it('with the envelope bytes after it, is a MeshFrame', () => {
    for (const [seq, len] of [
      [1, 0],
      [300, 5],
      [2 ** 40 + 3, 200_000],
    ] as const) {
      const body = Buffer.alloc(len, 7);
      const f = pb.MeshFrame.decode(Buffer.concat([envelopeFrameHead(seq, len), body]));
      expect(f.seq).toBe(seq);
      expect(f.body?.$case === 'envelope' && Buffer.from(f.body.envelope).equals(body)).toBe(true);
      // And it is read back without the generated decoder, the same.
      const r = readEnvelopeFrame(Buffer.concat([envelopeFrameHead(seq, len), body]));
      expect(r?.seq).toBe(seq);
      expect(Buffer.from(r!.envelope).equals(body)).toBe(true);
    }
  });

  it('leaves every other frame to the generated decoder', () => {
    const heard = pb.MeshFrame.encode({ seq: 5, body: { $case: 'heard', heard: { nodes: ['n2'] } } }).finish();
    const relay = pb.MeshFrame.encode({ seq: 6, body: { $case: 'relay', relay: { to: 'n3', from: 'n1', session: 1, seq: 2, body: { $case: 'envelope', envelope: Buffer.from('x') } } } }).finish();
    const truncated = Buffer.concat([envelopeFrameHead(7, 10), Buffer.alloc(9)]);
    for (const f of [heard, relay, truncated, Buffer.alloc(0), Buffer.from([0x08])]) expect(readEnvelopeFrame(f)).toBeNull();
  });
});
