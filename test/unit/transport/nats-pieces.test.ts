/**
 * The pure pieces of the NATS transport, driven by hand: finding dead peers by silence,
 * large messages in parts, and the outbox's account of what may have been lost.
 */
import { describe, expect, it, vi } from 'vitest';
import type { NodeAddress } from '../../../src/transport/messages.js';
import { NatsOutbox } from '../../../src/transport/nats-outbox.js';
import { PartAssembler, partLabel, splitPayload } from '../../../src/transport/nats-parts.js';
import { PeerSilence } from '../../../src/transport/peer-silence.js';

const addr = (port: number): NodeAddress => ({ host: '127.0.0.1', port, meshPort: 0 });

describe('PeerSilence', () => {
  function setup(refuses: boolean) {
    let now = 1000;
    const probes: NodeAddress[] = [];
    const gone: string[] = [];
    const s = new PeerSilence({
      silenceMs: 1000,
      now: () => now,
      probe: async (a) => {
        probes.push(a);
        return refuses;
      },
      onGone: (peer) => gone.push(peer),
    });
    return { s, probes, gone, advance: (ms: number) => (now += ms) };
  }

  it('probes a peer only once it has been silent for the window, and reports it gone when its port refuses', async () => {
    const { s, probes, gone, advance } = setup(true);
    s.setAddress('b', addr(7001));
    s.check();
    expect(probes).toHaveLength(0); // never heard: nothing to miss
    expect(s.heard('b')).toBe(true); // first word from b
    advance(999);
    s.check();
    expect(probes).toHaveLength(0);
    advance(1);
    s.check();
    expect(probes).toEqual([addr(7001)]);
    await Promise.resolve();
    expect(gone).toEqual(['b']);
    expect(s.isUp('b')).toBe(false);
    expect(s.known()).toEqual([]);
    advance(5000);
    s.check();
    expect(probes).toHaveLength(1); // gone peers are not probed again
    expect(s.heard('b')).toBe(true); // heard again after gone: a fresh start
    expect(s.isUp('b')).toBe(true);
  });

  it('keeps a silent peer whose port still accepts, probing it again one window later', async () => {
    const { s, probes, gone, advance } = setup(false);
    s.setAddress('b', addr(7001));
    s.heard('b');
    advance(1000);
    s.check();
    await Promise.resolve();
    advance(500);
    s.check();
    expect(probes).toHaveLength(1);
    advance(500);
    s.check();
    expect(probes).toHaveLength(2);
    expect(gone).toEqual([]);
    expect(s.heard('b')).toBe(false); // not a first word: it was never reported gone
  });

  it('ignores a refusal for a peer heard again while the probe was under way', async () => {
    const { s, gone, advance } = setup(true);
    s.setAddress('b', addr(7001));
    s.heard('b');
    advance(1000);
    s.check();
    s.heard('b');
    await Promise.resolve();
    expect(gone).toEqual([]);
  });

  it('gives every peer a fresh window after our own silence', () => {
    const { s, probes, advance } = setup(true);
    s.setAddress('b', addr(7001));
    s.heard('b');
    advance(5000);
    s.refresh();
    s.check();
    expect(probes).toHaveLength(0);
  });
});

describe('PartAssembler', () => {
  const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

  it('cuts a payload into parts and puts them together again', () => {
    const payload = bytes(2500);
    const parts = splitPayload(payload, 1000);
    expect(parts.map((p) => p.length)).toEqual([1000, 1000, 500]);
    const a = new PartAssembler();
    expect(a.add('x', partLabel(0, 3), parts[0]!)).toEqual({ whole: null, lost: null });
    expect(a.add('x', partLabel(1, 3), parts[1]!).whole).toBeNull();
    const r = a.add('x', partLabel(2, 3), parts[2]!);
    expect(r.lost).toBeNull();
    expect(Buffer.from(r.whole!)).toEqual(Buffer.from(payload));
  });

  it('drops an incomplete message (and says so) when the next one begins, then assembles that one', () => {
    const a = new PartAssembler();
    a.add('x', '1/3', bytes(10));
    const r1 = a.add('x', '1/2', bytes(10));
    expect(r1.lost).toMatchObject({ had: 1, of: 3 });
    const r2 = a.add('x', '2/2', bytes(5));
    expect(r2.whole?.length).toBe(15);
  });

  it('drops parts arriving out of turn or malformed, keeping senders apart', () => {
    const a = new PartAssembler();
    a.add('x', '1/3', bytes(10));
    a.add('y', '1/2', bytes(3));
    expect(a.add('x', '3/3', bytes(10)).lost).toMatchObject({ reason: 'part 3/3 arrived out of turn' });
    expect(a.add('x', 'nonsense', bytes(1)).lost?.reason).toMatch(/malformed/);
    expect(a.add('y', '2/2', bytes(4)).whole?.length).toBe(7);
  });
});

describe('NatsOutbox', () => {
  function setup() {
    const written: string[] = [];
    let refuse = false;
    const flushes: { resolve: () => void; reject: (e: Error) => void }[] = [];
    const o = new NatsOutbox({
      write: (subject) => {
        if (refuse) throw new Error('refused');
        written.push(subject);
      },
      flush: () => new Promise<void>((resolve, reject) => flushes.push({ resolve, reject })),
      onFailed: () => undefined,
      maxQueuedBytes: 10,
      confirmIntervalMs: 1,
    });
    return { o, written, flushes, refuse: (v: boolean) => (refuse = v) };
  }
  const p = (n: number) => new Uint8Array(n);

  it('holds what is sent while down and sends it in order when up, dropping (and counting) the oldest beyond the bound', () => {
    const { o, written } = setup();
    o.publish('a', p(4));
    o.publish('b', p(4));
    o.publish('c', p(4)); // 12 bytes > 10: 'a' goes
    expect(o.queued).toEqual({ messages: 2, bytes: 8 });
    expect(o.up()).toEqual({ resent: 2, dropped: 1 });
    expect(written).toEqual(['b', 'c']);
    expect(o.counts).toMatchObject({ published: 2, dropped: 1 });
    o.publish('d', p(1));
    expect(written).toEqual(['b', 'c', 'd']);
    o.close();
  });

  it('counts what the server had not confirmed when the connection dropped', async () => {
    vi.useFakeTimers();
    try {
      const { o, flushes } = setup();
      o.up();
      o.publish('a', p(1));
      o.publish('b', p(1));
      await vi.advanceTimersByTimeAsync(1);
      expect(flushes).toHaveLength(1); // one confirmation asked for both
      flushes[0]!.resolve();
      await vi.advanceTimersByTimeAsync(0);
      o.publish('c', p(1));
      expect(o.down()).toBe(1); // a and b confirmed, c not
      expect(o.counts.unconfirmedAtDisconnect).toBe(1);
      expect(o.down()).toBe(0);
      o.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts publishes the client refuses, and drops what is still held on close', () => {
    const { o, refuse } = setup();
    o.up();
    refuse(true);
    o.publish('a', p(1));
    expect(o.counts.failed).toBe(1);
    o.down();
    o.publish('b', p(1));
    expect(o.close()).toEqual({ messages: 1, bytes: 1 });
    expect(o.counts.dropped).toBe(1);
  });
});
