/**
 * The mesh RegionTransport: every node listens on its mesh port and dials every other
 * node; a node sends on the link it dialled and receives on the links others dialled,
 * so each direction is one ordered TCP stream. Frames are length-prefixed protobuf
 * Envelopes (`framing.ts`, `node-codec.ts`); writes are corked per event-loop turn so a
 * burst leaves in one write.
 *
 * Links authenticate both ways before anything else crosses them: the listener
 * challenges, the dialer proves it holds the region's cluster secret (HMAC over the
 * challenge), and the listener proves it back. A connection that fails is logged and
 * dropped; it can neither inject nor read channel traffic. Both sides also say which
 * node protocol they speak (`protocol-version.ts`); a link between two versions is
 * refused and logged, and redialled as any dropped link is.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { corkForTurn } from '../cork.js';
import * as pb from '../gen/node.pb.js';
import type { Logger } from '../log.js';
import { FrameReader, frameHeader } from './framing.js';
import type { NodeAddress, NodeId, NodeMessage } from './messages.js';
import { decodeNodeMessage, encodeNodeMessageChunks } from './node-codec.js';
import { nodeVersionRefusals, type VersionRefusals } from './protocol-version.js';
import { TransportListeners } from './listeners.js';
import type { RegionTransport, TransportStats } from './transport.js';

/** A handshake not finished in this long is abandoned. */
const HANDSHAKE_TIMEOUT_MS = 5000;
/** Reconnect backoff for a dropped link: starts here, doubles, caps below. */
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1000;
/** Messages queued for a link that is (re)connecting, at most this many bytes; older ones drop. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024; // 16 MiB

export interface MeshOptions {
  self: NodeId;
  region: string;
  host: string;
  meshPort: number;
  secret: string;
  log: Logger;
  /** Where to dial a peer instead of its own address (a fault proxy in chaos runs). */
  dialVia?: (peer: NodeId, address: NodeAddress) => { host: string; port: number };
  /**
   * Cork each link for the rest of the event-loop turn on the first write, so a burst
   * leaves in one write (default). `false` writes each frame at once; the mesh benchmark
   * compares the two.
   */
  corkPerTurn?: boolean;
  /** The node protocol this node speaks (tests play an older or newer build); default NODE_PROTOCOL. */
  protocol?: number;
}

function mac(secret: string, ...parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p).update('\0');
  return h.digest();
}

function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An encoded message as the pieces to write (large byte fields by reference: chunked-writer.ts). */
interface Encoded {
  chunks: Uint8Array[];
  length: number;
}

function writeFrame(sock: net.Socket, payload: Encoded | Uint8Array): number {
  if (payload instanceof Uint8Array) payload = { chunks: [payload], length: payload.byteLength };
  sock.write(frameHeader(payload.length));
  for (const c of payload.chunks) sock.write(c);
  return payload.length + 4;
}

/** Our outbound link to one peer. */
class Link {
  state: 'connecting' | 'handshaking' | 'up' | 'closed' = 'connecting';
  sock: net.Socket | null = null;
  queue: Encoded[] = [];
  queuedBytes = 0;
  backoff = RECONNECT_MIN_MS;
  timer: NodeJS.Timeout | null = null;
  bytesOut = 0;
  messagesOut = 0;

  constructor(
    readonly peer: NodeId,
    public address: NodeAddress,
  ) {}
}

export class MeshTransport extends TransportListeners implements RegionTransport {
  readonly kind = 'mesh' as const;
  readonly self: NodeId;
  private readonly server: net.Server;
  private readonly links = new Map<NodeId, Link>();
  private readonly inbound = new Set<net.Socket>();
  private readonly bytesIn = new Map<NodeId, { bytes: number; messages: number }>();
  private readonly encoded = new WeakMap<NodeMessage, Encoded>();
  private readonly version: VersionRefusals;
  private running = false;

  constructor(private readonly o: MeshOptions) {
    super();
    this.self = o.self;
    this.version = nodeVersionRefusals(o.log, 'mesh link', o.protocol);
    this.server = net.createServer((sock) => this.onInbound(sock));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.meshPort, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.running = true;
    for (const l of this.links.values()) this.dial(l);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const l of this.links.values()) this.closeLink(l);
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- peers --------------------------------------------------------------------

  addPeer(peer: NodeId, address: NodeAddress): void {
    if (peer === this.self) return;
    const l = this.links.get(peer);
    if (l) {
      const moved = l.address.host !== address.host || l.address.meshPort !== address.meshPort;
      l.address = address;
      if (moved && l.state !== 'closed') {
        l.sock?.destroy();
      }
      if (l.state === 'closed') {
        l.state = 'connecting';
        if (this.running) this.dial(l);
      } else this.redialNow(l);
      return;
    }
    const link = new Link(peer, address);
    this.links.set(peer, link);
    if (this.running) this.dial(link);
  }

  removePeer(peer: NodeId): void {
    const l = this.links.get(peer);
    if (!l) return;
    this.closeLink(l);
    this.links.delete(peer);
  }

  private closeLink(l: Link): void {
    l.state = 'closed';
    if (l.timer) clearTimeout(l.timer);
    l.timer = null;
    l.queue = [];
    l.queuedBytes = 0;
    l.sock?.destroy();
    l.sock = null;
  }

  /**
   * The peer has shown it is there (it dialled us, or membership saw it come up): a
   * redial of ours waiting out its backoff (up to RECONNECT_MAX_MS) goes now, so a
   * restarted peer is reachable as soon as it is back. Frames queued meanwhile still
   * leave in order once the handshake is done.
   */
  private redialNow(l: Link): void {
    if (!this.running || l.state !== 'connecting' || !l.timer) return;
    clearTimeout(l.timer);
    l.timer = null;
    l.backoff = RECONNECT_MIN_MS;
    this.dial(l);
  }

  // ---- outbound -------------------------------------------------------------------

  private dial(l: Link): void {
    if (!this.running || l.state === 'closed') return;
    l.state = 'connecting';
    const target = this.o.dialVia ? this.o.dialVia(l.peer, l.address) : { host: l.address.host, port: l.address.meshPort };
    const sock = net.connect({ host: target.host, port: target.port });
    sock.setNoDelay(true);
    l.sock = sock;
    const reader = new FrameReader();
    const myNonce = randomBytes(16);
    let refused = false;
    /** The protocol of a listener refused for its version (its welcome then proves it alive). */
    let otherVersion: number | null = null;
    /** Whether a welcome proves the peer holds the secret (a MAC over our nonce). */
    const welcomed = (w: pb.Welcome) => w.node === l.peer && sameMac(Buffer.from(w.mac), mac(this.o.secret, 'welcome', myNonce, w.node, this.o.region));
    const hsTimer = setTimeout(() => sock.destroy(new Error('handshake timeout')), HANDSHAKE_TIMEOUT_MS);
    sock.on('connect', () => {
      l.state = 'handshaking';
    });
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        sock.destroy(err as Error);
        return;
      }
      for (const f of frames) {
        if (l.state !== 'handshaking') continue; // nothing but the handshake arrives on our own link
        let hs: pb.Handshake;
        try {
          hs = pb.Handshake.decode(f);
        } catch {
          sock.destroy(new Error('bad handshake frame'));
          return;
        }
        const step = hs.step;
        if (otherVersion !== null) {
          // Refused: the link never comes up. A welcome now only proves the peer is a
          // node of this region, alive in another version; then the socket goes.
          if (step?.$case !== 'welcome') continue;
          if (welcomed(step.welcome)) this.emit({ type: 'peerOtherVersion', peer: l.peer, protocol: otherVersion });
          sock.destroy();
          return;
        }
        if (step?.$case === 'challenge') {
          const hello: pb.Handshake = {
            step: {
              $case: 'hello',
              hello: {
                node: this.self,
                region: this.o.region,
                nonce: myNonce,
                mac: mac(this.o.secret, 'hello', Buffer.from(step.challenge.nonce), this.self, this.o.region),
                protocol: this.version.ours,
              },
            },
          };
          writeFrame(sock, pb.Handshake.encode(hello).finish());
          if (!this.version.accepts(l.peer, step.challenge.protocol)) {
            // The hello still goes, so that the listener (which can check it) learns we
            // are alive in another version; it proves itself back with a welcome (a
            // challenge proves nothing), or closes. No half-close: a fault proxy between
            // us would drop what is still on its way. The handshake timer is the backstop.
            otherVersion = step.challenge.protocol;
          }
        } else if (step?.$case === 'welcome') {
          if (!welcomed(step.welcome)) {
            this.o.log.warn({ peer: l.peer, claimed: step.welcome.node }, 'mesh peer failed to prove the cluster secret; dropping link');
            sock.destroy(new Error('peer authentication failed'));
            return;
          }
          clearTimeout(hsTimer);
          l.state = 'up';
          l.backoff = RECONNECT_MIN_MS;
          this.emit({ type: 'linkUp', peer: l.peer });
          this.flushQueue(l);
        }
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') refused = true;
    });
    sock.on('close', () => {
      clearTimeout(hsTimer);
      if (l.sock !== sock) return;
      const wasUp = l.state === 'up';
      l.sock = null;
      if (l.state === 'closed') return;
      l.state = 'connecting';
      if (wasUp) {
        this.emit({ type: 'linkDown', peer: l.peer, reason: 'connection closed' });
        // The link may run through a proxy that hides a dead peer's refusal: ask the
        // peer's own client port whether its process is still there.
        if (!refused) this.probe(l);
      }
      if (refused) this.emit({ type: 'peerGone', peer: l.peer });
      if (!this.running) return;
      l.timer = setTimeout(() => {
        l.timer = null;
        this.dial(l);
      }, l.backoff);
      l.backoff = Math.min(l.backoff * 2, RECONNECT_MAX_MS);
    });
  }

  /** Reports the peer gone if its client port refuses connections (its process died). */
  private probe(l: Link): void {
    if (!l.address.port) return;
    const sock = net.connect({ host: l.address.host, port: l.address.port });
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('connect', () => sock.destroy());
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && this.running && this.links.get(l.peer) === l) this.emit({ type: 'peerGone', peer: l.peer });
    });
  }

  private flushQueue(l: Link): void {
    const q = l.queue;
    l.queue = [];
    l.queuedBytes = 0;
    for (const payload of q) this.write(l, payload);
  }

  private write(l: Link, payload: Encoded): void {
    const sock = l.sock!;
    // Everything sent to this peer in this turn leaves in one write.
    if (this.o.corkPerTurn !== false) corkForTurn(sock);
    l.bytesOut += writeFrame(sock, payload);
    l.messagesOut++;
  }

  private encode(msg: NodeMessage): Encoded {
    let e = this.encoded.get(msg);
    if (!e) {
      const chunks = encodeNodeMessageChunks(msg);
      let length = 0;
      for (const c of chunks) length += c.byteLength;
      e = { chunks, length };
      this.encoded.set(msg, e);
    }
    return e;
  }

  send(to: NodeId, msg: NodeMessage): void {
    if (!this.running) return;
    if (to === this.self) {
      queueMicrotask(() => this.running && this.deliver(this.self, msg));
      return;
    }
    const l = this.links.get(to);
    if (!l || l.state === 'closed') return;
    const payload = this.encode(msg);
    if (l.state === 'up' && l.sock) {
      this.write(l, payload);
      return;
    }
    // Not connected (yet): hold a bounded amount until the link comes up.
    l.queue.push(payload);
    l.queuedBytes += payload.length;
    while (l.queuedBytes > MAX_QUEUED_BYTES && l.queue.length) l.queuedBytes -= l.queue.shift()!.length;
  }

  broadcast(msg: NodeMessage): void {
    for (const l of this.links.values()) this.send(l.peer, msg);
  }

  // ---- inbound --------------------------------------------------------------------

  private onInbound(sock: net.Socket): void {
    if (!this.running) {
      sock.destroy();
      return;
    }
    this.inbound.add(sock);
    sock.setNoDelay(true);
    const reader = new FrameReader();
    const challenge = randomBytes(16);
    let peer: NodeId | null = null;
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    const hsTimer = setTimeout(() => {
      this.o.log.warn({ remote }, 'mesh connection did not authenticate in time; dropped');
      sock.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    writeFrame(sock, pb.Handshake.encode({ step: { $case: 'challenge', challenge: { nonce: challenge, node: this.self, protocol: this.version.ours } } }).finish());
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.o.log.warn({ remote, peer, err: (err as Error).message }, 'bad frame on mesh link; dropped');
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (peer === null) {
          let hello: pb.Hello | undefined;
          try {
            const hs = pb.Handshake.decode(f);
            hello = hs.step?.$case === 'hello' ? hs.step.hello : undefined;
          } catch {
            hello = undefined;
          }
          const want = hello ? mac(this.o.secret, 'hello', challenge, hello.node, hello.region) : null;
          if (!hello || !want || hello.region !== this.o.region || !sameMac(Buffer.from(hello.mac), want)) {
            this.o.log.warn({ remote, claimed: hello?.node }, 'refused mesh connection: it did not prove the cluster secret');
            sock.destroy();
            return;
          }
          if (!this.version.accepts(hello.node, hello.protocol)) {
            // Proven by the secret: alive, in another version. A dialer that has versions
            // (it refuses ours, then reads a welcome as proof only) learns the same of us;
            // one from before versions would take a welcome for a link, so it gets none.
            this.emit({ type: 'peerOtherVersion', peer: hello.node, protocol: hello.protocol });
            sock.removeAllListeners('data');
            if (hello.protocol === 0) return void sock.destroy();
            // The dialer drops the socket once it has the welcome (the handshake timer otherwise).
            const proof = mac(this.o.secret, 'welcome', Buffer.from(hello.nonce), this.self, this.o.region);
            writeFrame(sock, pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: this.self, mac: proof } } }).finish());
            return;
          }
          clearTimeout(hsTimer);
          peer = hello.node;
          const ours = this.links.get(peer);
          if (ours) this.redialNow(ours);
          const welcome = mac(this.o.secret, 'welcome', Buffer.from(hello.nonce), this.self, this.o.region);
          writeFrame(sock, pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: this.self, mac: welcome } } }).finish());
          continue;
        }
        let msg: NodeMessage;
        try {
          msg = decodeNodeMessage(f);
        } catch (err) {
          this.o.log.warn({ peer, err: (err as Error).message }, 'undecodable message on mesh link; dropped link');
          sock.destroy();
          return;
        }
        let c = this.bytesIn.get(peer);
        if (!c) this.bytesIn.set(peer, (c = { bytes: 0, messages: 0 }));
        c.bytes += f.length + 4;
        c.messages++;
        this.deliver(peer, msg);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(hsTimer);
      this.inbound.delete(sock);
    });
  }

  stats(): TransportStats {
    return {
      links: [...this.links.values()].map((l) => {
        const i = this.bytesIn.get(l.peer);
        return {
          peer: l.peer,
          up: l.state === 'up',
          bytesOut: l.bytesOut,
          bytesIn: i?.bytes ?? 0,
          messagesOut: l.messagesOut,
          messagesIn: i?.messages ?? 0,
        };
      }),
    };
  }
}
