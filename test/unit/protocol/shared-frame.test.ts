import * as wsModule from 'ws';
import { describe, expect, it } from 'vitest';
import { SharedFrame } from '../../../src/protocol/shared-frame.js';

/** The same frame as `ws` itself would put on the wire (server side: unmasked). */
function wsOwn(payload: Buffer, opcode: number): Buffer {
  // @types/ws does not declare Sender, though the module exports it.
  const { Sender } = wsModule as unknown as { Sender: { frame(d: Buffer, o: object): Buffer[] } };
  const parts = Sender.frame(payload, {
    fin: true,
    rsv1: false,
    opcode,
    mask: false,
    readOnly: true,
  });
  return Buffer.concat(parts);
}

describe('shared WebSocket frames', () => {
  it.each([0, 1, 125, 126, 127, 65535, 65536, 300_000])('builds the bytes ws would for a %i-byte payload', (n) => {
    const payload = Buffer.alloc(n, 0x61);
    expect(new SharedFrame(payload.toString('utf8')).bytes.equals(wsOwn(payload, 0x1))).toBe(true);
    expect(new SharedFrame(payload).bytes.equals(wsOwn(payload, 0x2))).toBe(true);
  });

  it('keeps text frames as text (UTF-8) and binary as binary', () => {
    const t = new SharedFrame('{"action":15,"channel":"é"}');
    expect(t.text).toBe(true);
    expect(t.payload.toString('utf8')).toBe('{"action":15,"channel":"é"}');
    expect(t.bytes[0]).toBe(0x81);
    const b = new SharedFrame(Buffer.from([1, 2, 3]));
    expect(b.text).toBe(false);
    expect([...b.bytes]).toEqual([0x82, 3, 1, 2, 3]);
  });

  it.each([1, 125, 126, 65535, 65536, 200_000])('encodes a %i-character text (multi-byte UTF-8) straight into the frame ws would build', (n) => {
    const text = 'é'.repeat(n >> 1) + 'a'.repeat(n & 1);
    const f = new SharedFrame(text);
    expect(f.bytes.equals(wsOwn(Buffer.from(text, 'utf8'), 0x1))).toBe(true);
    // The payload is a view into the frame, not a second copy.
    expect(f.payload.buffer).toBe(f.bytes.buffer);
    expect(f.payload.toString('utf8')).toBe(text);
  });
});
