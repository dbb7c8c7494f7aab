import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import * as pb from '../../../src/gen/node.pb.js';
import { MeshHandshake } from '../../../src/transport/mesh-handshake.js';
import { InboundLives, type InboundLife } from '../../../src/transport/mesh-lives.js';
import { DOUBT_MS } from '../../../src/transport/mesh-paths.js';

const sock = (destroyed = false) => ({ destroyed }) as Socket;
const life = (peer: string, session: number, heard: number, destroyed = false): InboundLife => ({ peer, session, heard, sock: sock(destroyed), remote: `127.0.0.1:${session}` });

describe('InboundLives', () => {
  it('names a link of another life heard within DOUBT_MS as the holder of the name; not its own life, a quiet one or a closed one', () => {
    const lives = new InboundLives();
    const a = life('n2', 1, 1000);
    lives.add(a);
    lives.add(life('n3', 7, 1000));
    expect(lives.holder('n2', 2, 1000 + DOUBT_MS)).toBe(a);
    expect(lives.holder('n2', 1, 1000)).toBeNull();
    expect(lives.holder('n2', 2, 1001 + DOUBT_MS)).toBeNull();
    expect(lives.holder('n4', 2, 1000)).toBeNull();
    const closed = life('n5', 1, 1000, true);
    lives.add(closed);
    expect(lives.holder('n5', 2, 1000)).toBeNull();
    expect(lives.othersOf('n2', 2)).toEqual([a]);
    expect(lives.othersOf('n2', 1)).toEqual([]);
    lives.remove(a);
    expect(lives.holder('n2', 2, 1000)).toBeNull();
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
