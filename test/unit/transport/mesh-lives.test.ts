import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Socket } from 'node:net';
import * as pb from '../../../src/gen/node.pb.js';
import { MeshHandshake } from '../../../src/transport/mesh-handshake.js';
import { InboundLives, NAME_PROOF_MS, type InboundLife } from '../../../src/transport/mesh-lives.js';
import { DOUBT_MS } from '../../../src/transport/mesh-paths.js';

const sock = () => ({ destroyed: false, readableEnded: false }) as { destroyed: boolean; readableEnded: boolean } & Socket;
const life = (peer: string, session: number, heard: number): InboundLife & { sock: ReturnType<typeof sock> } => ({ peer, session, heard, sock: sock(), remote: `127.0.0.1:${session}` });

describe('InboundLives', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** The holder after the proof wait (and the turn after it). */
  async function judged(p: Promise<InboundLife | null> | null, during: () => void = () => {}): Promise<InboundLife | null | 'at once'> {
    if (p === null) return 'at once';
    during();
    await vi.advanceTimersByTimeAsync(NAME_PROOF_MS + 1);
    return p;
  }

  it('takes a new life at once where no other life of the name was heard within DOUBT_MS, or its link is closed or ended', async () => {
    const lives = new InboundLives();
    const quiet = life('n2', 1, 1000);
    lives.add(quiet);
    expect(await judged(lives.holder('n2', 2, 1001 + DOUBT_MS))).toBe('at once');
    const ended = life('n3', 1, 1000);
    ended.sock.readableEnded = true;
    lives.add(ended);
    expect(await judged(lives.holder('n3', 2, 1000))).toBe('at once');
    // Its own life (a redial of the same process), and a name not held.
    expect(await judged(lives.holder('n2', 1, 1000))).toBe('at once');
    expect(await judged(lives.holder('n4', 2, 1000))).toBe('at once');
  });

  it('names a life heard lately the holder only if its link carries bytes after the hello and is open at the end of the wait', async () => {
    const lives = new InboundLives();
    const a = life('n2', 1, 1000);
    lives.add(a);
    // Alive: it carries bytes after the hello.
    expect(await judged(lives.holder('n2', 2, 1000), () => void (a.heard = 1100))).toBe(a);
    // Dead, its last bytes read just before the hello (this node stalled): nothing after.
    a.heard = 2000;
    expect(await judged(lives.holder('n2', 2, 2000))).toBeNull();
    // Dead, its last bytes read in the turns after the hello, then its end.
    expect(
      await judged(lives.holder('n2', 2, 2000), () => {
        a.heard = 2001;
        a.sock.readableEnded = true;
      }),
    ).toBeNull();
    expect(lives.othersOf('n2', 2)).toEqual([a]);
    expect(lives.othersOf('n2', 1)).toEqual([]);
    lives.remove(a);
    expect(lives.othersOf('n2', 2)).toEqual([]);
  });
});

describe('the name-in-use answer', () => {
  it('is proven like a welcome: over the dialer’s nonce, by the named listener, with the region’s secret', () => {
    const listener = new MeshHandshake('secret', 'r1', 'n1');
    const dialer = new MeshHandshake('secret', 'r1', 'n2');
    const nonce = Buffer.alloc(16, 7);
    const step = pb.Handshake.decode(listener.nameInUse(nonce, '127.0.0.1:5000', 120)).step;
    if (step?.$case !== 'nameInUse') throw new Error('not a name-in-use answer');
    expect(step.nameInUse).toMatchObject({ node: 'n1', holder: '127.0.0.1:5000', heardMsAgo: 120 });
    expect(dialer.provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(true);
    expect(dialer.provesNameInUse(step.nameInUse, 'n3', nonce)).toBe(false);
    expect(dialer.provesNameInUse(step.nameInUse, 'n1', Buffer.alloc(16, 8))).toBe(false);
    expect(new MeshHandshake('other', 'r1', 'n2').provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(false);
    expect(new MeshHandshake('secret', 'r2', 'n2').provesNameInUse(step.nameInUse, 'n1', nonce)).toBe(false);
  });
});
