/**
 * The decoders of what nodes send each other (the hand-written entry codec, the node
 * message envelope, the region link's frames) on corrupted bytes, seeded: bits flipped,
 * bytes replaced, cut short, spliced, a run of 0xff where a length or varint was. Each
 * either decodes or throws an Error, which the node logs and answers (a dropped link, a
 * failed request); any other throw fails here, and a decoder that loops hangs the test.
 * ABLY_NG_FUZZ_SEED repeats a run.
 */
import { describe, expect, it } from 'vitest';
import { fromPb, toPb } from '../../../src/bridge/codec.js';
import { RevocationStore, type Revocation } from '../../../src/auth/revocations.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import * as regionPb from '../../../src/gen/region.pb.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';
import { ForwardedEntries } from '../../../src/transport/entry-lists.js';
import { FrameReader } from '../../../src/transport/framing.js';
import { decodeNodeMessage, encodeNodeMessage } from '../../../src/transport/node-codec.js';
import { seeded, type Seeded as Rng } from '../../../src/rng.js';

const SEED = Number(process.env.ABLY_NG_FUZZ_SEED ?? Date.now() % 1_000_000);
const ROUNDS = 3000;
const T = 1_700_000_000_000;

const entries: LogEntry[] = [
  {
    kind: 'message',
    serial: 7,
    channelSerial: 'eu~e1~3',
    storedAt: T,
    origin: { region: 'eu', epoch: 'e1', seq: 3 },
    message: { id: 'c:1:0', name: 'n', clientId: 'al', connectionId: 'c', data: 'text', encoding: 'json', extras: { headers: { a: 'b' } }, timestamp: T },
  },
  { kind: 'message', serial: 8, channelSerial: 'eu~e1~4', storedAt: T + 1, origin: { region: 'eu', epoch: 'e1', seq: 4 }, message: { id: 'b', data: Buffer.from([0, 255, 7]), timestamp: T } },
  {
    kind: 'presence',
    serial: 9,
    channelSerial: 'eu~e1~5',
    storedAt: T + 2,
    origin: { region: 'eu', epoch: 'e1', seq: 5 },
    host: 'n2',
    presence: { id: 'p', action: 2, clientId: 'bo', connectionId: 'c2', data: 'x', timestamp: T },
  },
];

/** One corruption of `b` (never `b` itself). */
function corrupt(r: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const at = r.int(Math.max(1, out.length));
  switch (r.int(6)) {
    case 0:
      out[at] = out[at]! ^ (1 << r.int(8));
      return out;
    case 1:
      out[at] = r.int(256);
      return out;
    case 2:
      return out.subarray(0, at);
    case 3: {
      const from = r.int(out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(from, from + 1 + r.int(20)), out.subarray(at)]);
    }
    case 4:
      out.fill(0xff, at, Math.min(out.length, at + 1 + r.int(10)));
      return out;
    default:
      return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + r.int(8) }, () => r.int(256))), out.subarray(at)]);
  }
}

/** Runs `decode` on corruptions of `bytes`: it returns or throws an Error. How many decoded. */
function survive(r: Rng, bytes: Buffer, decode: (b: Buffer) => unknown): number {
  let decoded = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const b = corrupt(r, r.chance(0.2) ? corrupt(r, bytes) : bytes);
    try {
      decode(b);
      decoded++;
    } catch (err) {
      if (!(err instanceof Error)) throw new Error(`seed ${SEED}: threw a non-Error ${String(err)} on ${b.toString('hex')}`);
    }
  }
  return decoded;
}

describe(`decoders on corrupted bytes (seed ${SEED})`, () => {
  it('the log entry list (replication, snapshots, broadcasts)', () => {
    const r = seeded(SEED);
    const bytes = entryListCodec.encodeLogEntryList(entries);
    expect(entryListCodec.decodeLogEntryList(bytes)).toHaveLength(3);
    // Some corruptions still decode (a changed byte inside a string): the rest throw.
    expect(survive(r, bytes, (b) => entryListCodec.decodeLogEntryList(b))).toBeGreaterThan(0);
  });

  it('the forwarded entry list (region links), with its count and last seq checked', () => {
    const r = seeded(SEED + 1);
    const bytes = ForwardedEntries.of(entries).encoded();
    survive(r, bytes, (b) => ForwardedEntries.fromBytes(b, 3, 5).list('eu', 'e1'));
  });

  it('a node message (the mesh and NATS envelope)', () => {
    const r = seeded(SEED + 2);
    const bytes = Buffer.from(
      encodeNodeMessage({
        type: 'heartbeat',
        node: 'n1',
        incarnation: T,
        address: { host: '10.0.0.1', port: 8001, meshPort: 9001 },
        members: [{ node: 'n2', incarnation: 5, state: 'suspect', address: { host: '10.0.0.2', port: 8002, meshPort: 9002 } }],
        leaving: false,
        quorum: true,
      }),
    );
    survive(r, bytes, (b) => decodeNodeMessage(b));
  });

  it('a region link frame carrying a batch', () => {
    const r = seeded(SEED + 3);
    const frame = toPb({ type: 'forward', batch: { channel: 'app:c', region: 'eu', epoch: 'e1', gapBefore: false, entries: ForwardedEntries.of(entries) }, replyTo: 0, toRegion: null });
    const bytes = Buffer.from(regionPb.LinkFrame.encode(frame).finish());
    survive(r, bytes, (b) => {
      const f = fromPb(regionPb.LinkFrame.decode(b), 'eu');
      if (f.type === 'forward') f.batch.entries.list(f.batch.region, f.batch.epoch);
    });
  });

  it('token revocations, on the mesh and on a region link, and merged into a store', () => {
    const r = seeded(SEED + 4);
    const entries: Revocation[] = [
      { origin: 'eu', keyName: 'app.rev', target: 'clientId:bob', issuedBefore: T, appliesAt: T, originIssuedBefore: T + 6000, times: { us: T + 2000 }, guesses: { ap: T - 3000 } },
      { origin: 'eu', keyName: 'app.rev', target: 'channel:rooms:*', issuedBefore: T - 5, appliesAt: T + 30_000, originIssuedBefore: T - 5, times: {}, guesses: {} },
    ];
    const take = (got: Revocation[]) => new RevocationStore(() => T).merge(got);
    survive(r, Buffer.from(encodeNodeMessage({ type: 'revocations', entries })), (b) => {
      const m = decodeNodeMessage(b);
      if (m.type === 'revocations') take(m.entries);
    });
    const frame = Buffer.from(regionPb.LinkFrame.encode(toPb({ type: 'revocations', entries })).finish());
    expect(fromPb(regionPb.LinkFrame.decode(frame), 'eu')).toEqual({ type: 'revocations', entries });
    survive(r, frame, (b) => {
      const f = fromPb(regionPb.LinkFrame.decode(b), 'eu');
      if (f.type === 'revocations') take(f.entries);
    });
  });

  it('the mesh framing, fed corrupted streams in random chunks', () => {
    const r = seeded(SEED + 4);
    const one = Buffer.from(encodeNodeMessage({ type: 'relinked', region: 'eu' }));
    const stream = Buffer.concat([0, 1, 2].flatMap(() => [Buffer.from([0, 0, 0, one.length]), one]));
    survive(r, stream, (b) => {
      const reader = new FrameReader();
      for (let at = 0; at < b.length; ) {
        const n = 1 + r.int(8);
        for (const f of reader.push(b.subarray(at, at + n))) decodeNodeMessage(f);
        at += n;
      }
    });
  });
});
