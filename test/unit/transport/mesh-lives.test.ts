import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Socket } from 'node:net';
import * as pb from '../../../src/gen/node.pb.js';
import { MeshHandshake } from '../../../src/transport/mesh-handshake.js';
import { answerProbe, InboundLives, lifeProbe, PROBE_WAIT_MS, type InboundLife } from '../../../src/transport/mesh-lives.js';
import { readEnvelopeFrame } from '../../../src/transport/mesh-paths.js';

const sock = () => ({ destroyed: false, readableEnded: false }) as { destroyed: boolean; readableEnded: boolean } & Socket;
const life = (peer: string, session: number): InboundLife & { sock: ReturnType<typeof sock> } => ({ peer, session, sock: sock(), remote: `127.0.0.1:${session}` });

describe('InboundLives', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** Judges a newcomer of `peer`, recording the probes sent. */
  function judge(lives: InboundLives, peer: string, session: number) {
    const asked: { life: InboundLife; nonce: Uint8Array }[] = [];
    let outcome: InboundLife | null | 'waiting' = 'waiting';
    const p = lives.holder(peer, session, (l, nonce) => void asked.push({ life: l, nonce }));
    void p?.then((h) => (outcome = h));
    return { atOnce: p === null, asked, outcome: () => outcome };
  }

  it('takes a new life at once where no other life of the name has a link open', () => {
    const lives = new InboundLives();
    const ended = life('n2', 1);
    ended.sock.readableEnded = true;
    lives.add(ended);
    const destroyed = life('n3', 1);
    destroyed.sock.destroyed = true;
    lives.add(destroyed);
    lives.add(life('n4', 1));
    expect(judge(lives, 'n2', 2).atOnce).toBe(true);
    expect(judge(lives, 'n3', 2).atOnce).toBe(true);
    // Its own life (a redial of the same process), and a name nobody has.
    expect(judge(lives, 'n4', 1).atOnce).toBe(true);
    expect(judge(lives, 'n5', 2).atOnce).toBe(true);
  });

  it('names the life that answers the probe with its nonce the holder; another nonce or life is not an answer', async () => {
    const lives = new InboundLives();
    const a = life('n2', 1);
    lives.add(a);
    lives.add(life('n3', 1));
    const j = judge(lives, 'n2', 2);
    expect(j.asked.map((x) => x.life)).toEqual([a]);
    lives.answered('n2', 1, Buffer.from('other'));
    lives.answered('n3', 1, j.asked[0]!.nonce);
    lives.answered('n2', 2, j.asked[0]!.nonce);
    await vi.advanceTimersByTimeAsync(PROBE_WAIT_MS - 1);
    expect(j.outcome()).toBe('waiting');
    lives.answered('n2', 1, j.asked[0]!.nonce);
    await vi.advanceTimersByTimeAsync(0);
    expect(j.outcome()).toBe(a);
  });

  it('takes the newcomer once every life asked has closed, or none answered within the wait', async () => {
    const lives = new InboundLives();
    const a = life('n2', 1);
    lives.add(a);
    const closing = judge(lives, 'n2', 2);
    a.sock.readableEnded = true;
    lives.remove(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(closing.outcome()).toBeNull();
    const frozen = life('n3', 1);
    lives.add(frozen);
    const quiet = judge(lives, 'n3', 2);
    await vi.advanceTimersByTimeAsync(PROBE_WAIT_MS - 1);
    expect(quiet.outcome()).toBe('waiting');
    // Past the wait, one turn of the loop (an answer read in it would still count).
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(quiet.outcome()).toBeNull();
    // An answer after the wait changes nothing.
    lives.answered('n3', 1, quiet.asked[0]!.nonce);
    expect(quiet.outcome()).toBeNull();
    expect(lives.othersOf('n3', 2)).toEqual([frozen]);
    expect(lives.othersOf('n3', 1)).toEqual([]);
  });

  it('writes the probe as a handshake step carrying the nonce, answered with an unnumbered alive frame carrying it back', () => {
    const step = pb.Handshake.decode(lifeProbe(Buffer.from([1, 2, 3]))).step;
    expect(step?.$case === 'lifeProbe' && [...step.lifeProbe.nonce]).toEqual([1, 2, 3]);
    const written: Buffer[] = [];
    const out = { write: (b: Uint8Array) => void written.push(Buffer.from(b)) } as unknown as Socket;
    answerProbe(out, pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: 'n1', mac: Buffer.alloc(32) } } }).finish());
    answerProbe(out, Buffer.from([0xff, 0xff]));
    expect(written).toEqual([]);
    answerProbe(out, lifeProbe(Buffer.from([1, 2, 3])));
    const frame = Buffer.concat(written);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const answer = pb.MeshFrame.decode(frame.subarray(4));
    expect(answer.seq).toBe(0);
    expect(answer.body?.$case === 'alive' && [...answer.body.alive.nonce]).toEqual([1, 2, 3]);
    // Not an envelope: the receiver's fast path leaves it to the decoder, where it is taken apart from the numbered frames.
    expect(readEnvelopeFrame(frame.subarray(4))).toBeNull();
  });
});

describe('the name-in-use answer', () => {
  it('is proven like a welcome: over the dialer’s nonce, by the named listener, with the region’s secret', () => {
    const listener = new MeshHandshake('secret', 'r1', 'n1');
    const dialer = new MeshHandshake('secret', 'r1', 'n2');
    const nonce = Buffer.alloc(16, 7);
    const step = pb.Handshake.decode(listener.nameInUse(nonce, '127.0.0.1:5000')).step;
    if (step?.$case !== 'nameInUse') throw new Error('not a name-in-use answer');
    expect(step.nameInUse).toMatchObject({ node: 'n1', holder: '127.0.0.1:5000' });
    expect(dialer.provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(true);
    expect(dialer.provesNameInUse(step.nameInUse, 'n3', nonce)).toBe(false);
    expect(dialer.provesNameInUse(step.nameInUse, 'n1', Buffer.alloc(16, 8))).toBe(false);
    expect(new MeshHandshake('other', 'r1', 'n2').provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(false);
    expect(new MeshHandshake('secret', 'r2', 'n2').provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(false);
  });
});
