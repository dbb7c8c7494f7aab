import { describe, expect, it } from 'vitest';
import * as pb from '../../../src/gen/node.pb.js';
import { decodeNodeMessage, encodeNodeMessage, encodeNodeMessageChunks } from '../../../src/transport/node-codec.js';
import { encodeWithSharedWriter } from '../../../src/transport/pb-writer.js';
import type { NodeMessage } from '../../../src/transport/messages.js';

const reply = (rid: number, serials: string[]): NodeMessage => ({ type: 'reply', rid, body: { kind: 'published', serials, epoch: 'e1' } });

describe('the shared protobuf writer', () => {
  it('gives each message bytes of its own, large after small and small after large', () => {
    const big = reply(1, Array.from({ length: 20_000 }, (_, i) => `eu~ep1~${i}`));
    const small = reply(2, ['eu~ep1~1']);
    const a = encodeNodeMessage(small);
    const b = encodeNodeMessage(big);
    const c = encodeNodeMessage(small);
    expect(b.length).toBeGreaterThan(200_000);
    // Each is a copy: encoding the next did not change the one before.
    expect(decodeNodeMessage(a)).toEqual(small);
    expect(decodeNodeMessage(b)).toEqual(big);
    expect(decodeNodeMessage(c)).toEqual(small);
    expect(c).toEqual(a);
    // The same bytes as a writer of its own makes.
    expect(Buffer.from(b).equals(Buffer.from(pb.Envelope.encode(pb.Envelope.decode(b)).finish()))).toBe(true);
  });

  it("gives the mesh's pieces of each message bytes of their own too (the next message does not change them)", () => {
    const big = reply(1, Array.from({ length: 20_000 }, (_, i) => `eu~ep1~${i}`));
    const small = reply(2, ['eu~ep1~1']);
    const b = encodeNodeMessageChunks(big);
    const c = encodeNodeMessageChunks(small);
    encodeNodeMessageChunks(big);
    expect(decodeNodeMessage(Buffer.concat(b))).toEqual(big);
    expect(decodeNodeMessage(Buffer.concat(c))).toEqual(small);
  });

  it('is not left mid-message by an encode that threw', () => {
    const bad = { msg: { $case: 'reply', reply: { rid: -1, body: { $case: 'ok', ok: { forwarded: false } } } } } as unknown as pb.Envelope;
    expect(() => encodeWithSharedWriter(pb.Envelope.encode, bad)).toThrow();
    const good = reply(3, ['eu~ep1~9']);
    expect(decodeNodeMessage(encodeNodeMessage(good))).toEqual(good);
  });
});
