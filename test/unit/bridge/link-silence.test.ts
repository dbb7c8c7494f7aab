/**
 * A region link whose other end says nothing is closed and dialled again.
 *
 * Seen in `make chaos` (two-of-three-killed): eu's link reached us-1 just as us-1 gave up
 * the globalmaster role; us-1 ended its side of the stream, but eu never saw the end, so
 * it never redialled, and nothing crossed between the regions for the rest of the run.
 * gRPC's keepalive found nothing wrong: the connection to us-1 was alive. Now both ends
 * ping a live link, and an end that hears nothing for a few pings closes it.
 *
 * The Globalmaster here is real and dials over real gRPC on 127.0.0.1; its peer region's
 * globalmaster is a gRPC server in the test that says hello and then, on the first
 * stream, nothing more (or pings, as a live peer does).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromPb, toPb, type LinkFrame } from '../../../src/bridge/codec.js';
import { LINK_SILENT_PINGS, MAX_QUEUED_FRAMES, REGION_LINK_SERVICE } from '../../../src/bridge/link-session.js';
import type * as pb from '../../../src/gen/region.pb.js';
import { REGION_PROTOCOL } from '../../../src/transport/protocol-version.js';
import { FakeCall, PEER_HELLO, testGlobalmaster } from '../../helpers/fake-link.js';
import { waitFor } from '../../helpers/wait.js';

const PING_MS = 100;
const SILENT_MS = PING_MS * LINK_SILENT_PINGS;

type Stream = { frames: LinkFrame['type'][]; endedAt: number | null };

/** Region r2's globalmaster, played by the test: hello on each stream, then pings or nothing. */
async function peerRegion(mode: 'silent' | 'pinging') {
  const streams: Stream[] = [];
  const timers: NodeJS.Timeout[] = [];
  const server = new grpc.Server();
  server.addService(REGION_LINK_SERVICE as unknown as grpc.ServiceDefinition, {
    link: (call: grpc.ServerDuplexStream<pb.LinkFrame, pb.LinkFrame>) => {
      const s: Stream = { frames: [], endedAt: null };
      streams.push(s);
      const send = (f: LinkFrame) => call.write(toPb(f));
      send({ type: 'hello', region: 'r2', deployment: 'dep', incarnation: 1, node: 'r2-n1', protocol: REGION_PROTOCOL, now: Date.now() });
      // Only the first stream plays the dead end; later ones are a live peer.
      if (mode === 'pinging' || streams.length > 1) timers.push(setInterval(() => send({ type: 'ping', at: Date.now(), echoAt: 0, echoHeldMs: 0 }), PING_MS));
      call.on('data', (raw: pb.LinkFrame) => s.frames.push(fromPb(raw, 'r1').type));
      const ended = () => (s.endedAt ??= Date.now());
      call.on('cancelled', ended);
      call.on('error', ended);
      call.on('end', ended);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    streams,
    stop: () => {
      for (const t of timers) clearInterval(t);
      server.forceShutdown();
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A globalmaster whose ping ticks and their clock run on fake time (moved by the test), opened; stopped after the test. */
async function onFakeTicks(): Promise<ReturnType<typeof testGlobalmaster>> {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  const g = testGlobalmaster(undefined, { linkPingMs: PING_MS });
  cleanups.push(
    () => g.gm.stop(),
    () => void vi.useRealTimers(),
  );
  await g.open();
  return g;
}

/** A globalmaster of r1, which dials r2 (r1 sorts first), with its role taken. */
function dialler(port: number) {
  const g = testGlobalmaster(undefined, { region: 'r1', peers: [{ region: 'r2', host: '127.0.0.1', port }], linkPingMs: PING_MS });
  cleanups.push(() => g.gm.stop());
  g.gm.evaluate();
  return g;
}

describe('a region link whose other end says nothing', () => {
  it('is closed after a few pings unanswered, and dialled again', async () => {
    const peer = await peerRegion('silent');
    cleanups.push(peer.stop);
    const g = dialler(peer.port);
    await waitFor(() => g.gm.status().links[0]?.up === true, { what: 'the link up' });
    const upAt = g.gm.status().links[0]!.since!;
    // Our end pings it, then gives up on it and dials again; the new stream is live.
    await waitFor(() => peer.streams.length >= 2 && g.gm.status().links[0]?.up === true, { what: 'a second stream, up', timeoutMs: 10_000 });
    const [first] = peer.streams;
    expect(first!.frames).toContain('ping');
    expect(first!.endedAt, 'the silent stream closed by our end').not.toBeNull();
    // Not before the silence allowed (the peer said hello when the link came up, then nothing).
    expect(first!.endedAt! - upAt).toBeGreaterThanOrEqual(SILENT_MS - 10);
  });

  it('stays up while the other end pings', async () => {
    const peer = await peerRegion('pinging');
    cleanups.push(peer.stop);
    const g = dialler(peer.port);
    await waitFor(() => g.gm.status().links[0]?.up === true, { what: 'the link up' });
    // Many silent periods go by: one stream, never ended, with our pings on it.
    await waitFor(() => peer.streams[0]!.frames.filter((f) => f === 'ping').length >= 4 * LINK_SILENT_PINGS, { what: 'our pings', timeoutMs: 10_000 });
    expect(peer.streams).toHaveLength(1);
    expect(peer.streams[0]!.endedAt).toBeNull();
    expect(g.gm.status().links[0]).toMatchObject({ region: 'r2', up: true });
  });

  it('is not closed for a stall of our own (a long GC, SIGSTOP), whatever the peer sent meanwhile', async () => {
    const peer = await peerRegion('pinging');
    cleanups.push(peer.stop);
    const g = dialler(peer.port);
    await waitFor(() => g.gm.status().links[0]?.up === true, { what: 'the link up' });
    // This process stalls for longer than the silence allowed; the peer's pings wait unread.
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        const until = performance.now() + SILENT_MS + 3 * PING_MS;
        while (performance.now() < until);
        resolve();
      }, 0),
    );
    const pingsBefore = peer.streams[0]!.frames.filter((f) => f === 'ping').length;
    // Two silence periods on: the same stream, still pinged.
    await waitFor(() => peer.streams[0]!.frames.filter((f) => f === 'ping').length >= pingsBefore + 2 * LINK_SILENT_PINGS, { what: 'more of our pings', timeoutMs: 10_000 });
    expect(peer.streams).toHaveLength(1);
    expect(peer.streams[0]!.endedAt).toBeNull();
  });

  it('is closed by the accepting end too; a live one is pinged, and closed when the role is released', async () => {
    // The ping ticks and their clock on fake time, moved a tick at a time: how many pings
    // go before the close is then exact, whatever the machine's load.
    const g = await onFakeTicks();
    const pings = (c: FakeCall) => c.frames().filter((f) => f.type === 'ping').length;
    // A peer that says hello, then nothing: pinged at once (the clock's first measure), at
    // each tick while its silence is shorter than LINK_SILENT_PINGS ticks, then closed.
    const silent = new FakeCall();
    g.accept(silent);
    silent.from(PEER_HELLO);
    expect(pings(silent)).toBe(1);
    for (let tick = 1; tick < LINK_SILENT_PINGS; tick++) {
      vi.advanceTimersByTime(PING_MS);
      expect([pings(silent), silent.closed]).toEqual([1 + tick, false]);
    }
    vi.advanceTimersByTime(PING_MS);
    expect([pings(silent), silent.closed]).toEqual([LINK_SILENT_PINGS, true]);
    silent.emit('end');
    // A live peer's link is pinged at every tick until the role is released, which closes it.
    const live = new FakeCall();
    g.accept(live);
    live.from(PEER_HELLO);
    for (let tick = 0; tick < 2 * LINK_SILENT_PINGS; tick++) {
      live.from({ type: 'ping', at: Date.now(), echoAt: 0, echoHeldMs: 0 });
      vi.advanceTimersByTime(PING_MS);
    }
    expect(live.closed).toBe(false);
    // The hello's ping, the answer to its first ping, and one a tick.
    expect(pings(live)).toBe(2 + 2 * LINK_SILENT_PINGS);
    g.setQuorum(false);
    g.gm.evaluate();
    expect(live.closed).toBe(true);
    expect(g.gm.status().links[0]).toMatchObject({ region: 'r0', up: false });
  });

  it('is closed when more frames wait to be written than MAX_QUEUED_FRAMES (the peer, or the network to it, too slow for what it carries)', async () => {
    const g = await onFakeTicks();
    const slow = Object.assign(new FakeCall(), { writableLength: 0 });
    g.accept(slow);
    slow.from(PEER_HELLO);
    slow.from({ type: 'ping', at: Date.now(), echoAt: 0, echoHeldMs: 0 });
    slow.writableLength = MAX_QUEUED_FRAMES;
    vi.advanceTimersByTime(PING_MS);
    expect(slow.closed).toBe(false);
    slow.from({ type: 'ping', at: Date.now(), echoAt: 0, echoHeldMs: 0 });
    slow.writableLength = MAX_QUEUED_FRAMES + 1;
    vi.advanceTimersByTime(PING_MS);
    expect(slow.closed).toBe(true);
  });
});
