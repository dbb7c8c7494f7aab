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
 *
 * After the handshake each frame is a MeshFrame numbered per destination; while a node
 * doubts its link to a peer it also sends that peer's frames through other nodes, and
 * each receiver takes every sender's frames once, in order (`mesh-paths.ts`).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { corkForTurn } from '../cork.js';
import * as pb from '../gen/node.pb.js';
import type { Logger } from '../log.js';
import { FrameReader } from './framing.js';
import { envelopeFrame, joined, meshFrame, writeFrame, type Encoded } from './mesh-frames.js';
import { claimedNode, MeshHandshake } from './mesh-handshake.js';
import { answerProbe, InboundLives, lifeProbe, refuseName, type InboundLife } from './mesh-lives.js';
import { Link, RECONNECT_MIN_MS, relayBytes } from './mesh-link.js';
import { DOUBT_MS, HEARD_EVERY_MS, InOrder, newSession, PeerPaths, readEnvelopeFrame, Standing } from './mesh-paths.js';
import type { NodeAddress, NodeId, NodeMessage } from './messages.js';
import { decodeNodeMessage, encodeNodeMessageChunks } from './node-codec.js';
import { nodeVersionRefusals, type VersionRefusals } from './protocol-version.js';
import { TransportListeners } from './listeners.js';
import type { RegionTransport, TransportStats } from './transport.js';

/** A handshake not finished in this long is abandoned. */
const HANDSHAKE_TIMEOUT_MS = 5000;
/** Reconnect backoff for a dropped link: starts at RECONNECT_MIN_MS (mesh-link.ts), doubles, caps below. */
const RECONNECT_MAX_MS = 1000;
/** Messages queued for a link that is (re)connecting, at most this many bytes; older ones drop. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024; // 16 MiB
/** Frames are not sent around, nor carried on, through a link with more than this waiting to be written. */
const MAX_AROUND_BACKLOG = 16 * 1024 * 1024;

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
  /** Send frames around a doubted link through other nodes (default; mesh-paths.ts). `false`: never. */
  aroundCuts?: boolean;
}

export class MeshTransport extends TransportListeners implements RegionTransport {
  readonly kind = 'mesh' as const;
  readonly self: NodeId;
  private readonly server: net.Server;
  private readonly links = new Map<NodeId, Link>();
  private readonly inbound = new Set<net.Socket>();
  private readonly lives = new InboundLives();
  private readonly bytesIn = new Map<NodeId, { bytes: number; messages: number }>();
  private readonly encoded = new WeakMap<NodeMessage, Encoded>();
  private readonly version: VersionRefusals;
  private readonly handshake: MeshHandshake;
  private running = false;
  /** This transport's life (Hello.session, MeshRelay.session). */
  private readonly session = newSession();
  private readonly paths: PeerPaths;
  private readonly inOrder = new InOrder();
  private heardTimer: NodeJS.Timeout | null = null;
  private lastHeardTick = performance.now();
  /** The frame counts of peers removed (a peer added again goes on from there). */
  private readonly seqOf = new Map<NodeId, number>();
  private readonly relayStats = { sentAround: 0, carried: 0, held: 0, takenAround: 0, dropped: 0, notTaken: 0 };

  constructor(private readonly o: MeshOptions) {
    super(o.log);
    this.self = o.self;
    this.version = nodeVersionRefusals(o.log, 'mesh link', o.protocol);
    this.handshake = new MeshHandshake(o.secret, o.region, o.self);
    this.server = net.createServer((sock) => this.onInbound(sock));
    this.paths = new PeerPaths(o.self, (peer) => this.links.get(peer)?.state === 'up', o.aroundCuts !== false);
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
    this.heardTimer = setInterval(() => this.tellHeard(), HEARD_EVERY_MS);
    this.heardTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.heardTimer) clearInterval(this.heardTimer);
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
    link.seq = this.seqOf.get(peer) ?? 0;
    this.links.set(peer, link);
    if (this.running) this.dial(link);
  }

  removePeer(peer: NodeId): void {
    const l = this.links.get(peer);
    if (!l) return;
    this.closeLink(l);
    this.links.delete(peer);
    this.paths.forget(peer);
    // Its count goes on if it is added again: the peer takes frames in increasing order only.
    this.seqOf.set(peer, l.seq);
  }

  private closeLink(l: Link): void {
    l.state = 'closed';
    if (l.timer) clearTimeout(l.timer);
    l.timer = null;
    l.queue = [];
    l.queuedBytes = 0;
    l.heldRelays = [];
    l.heldRelayBytes = 0;
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
    const welcomed = (w: pb.Welcome) => this.handshake.welcomes(w, l.peer, myNonce);
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
        if (l.state === 'up') answerProbe(sock, f); // nothing but the handshake, and probes, arrives on our own link
        if (l.state !== 'handshaking') continue;
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
          writeFrame(sock, this.handshake.hello(step.challenge.nonce, myNonce, this.version.ours, this.session));
          if (!this.version.accepts(l.peer, step.challenge.protocol)) {
            // The hello still goes, so that the listener (which can check it) learns we
            // are alive in another version; it proves itself back with a welcome (a
            // challenge proves nothing), or closes. No half-close: a fault proxy between
            // us would drop what is still on its way. The handshake timer is the backstop.
            otherVersion = step.challenge.protocol;
          }
        } else if (step?.$case === 'nameInUse') {
          const r = step.nameInUse;
          if (!this.handshake.provesNameInUse(r, l.peer, myNonce)) return void sock.destroy(new Error('peer authentication failed'));
          this.o.log.error({ peer: l.peer, holder: r.holder }, `node name "${this.self}" is in use: ${l.peer} hears a running node of that name`);
          this.emit({ type: 'nameInUse', peer: l.peer, holder: r.holder });
          return void sock.destroy();
        } else if (step?.$case === 'welcome') {
          if (!welcomed(step.welcome)) {
            this.o.log.warn({ peer: l.peer, claimed: step.welcome.node }, 'mesh peer failed to prove the cluster secret; dropping link');
            sock.destroy(new Error('peer authentication failed'));
            return;
          }
          clearTimeout(hsTimer);
          l.state = 'up';
          l.backoff = RECONNECT_MIN_MS;
          this.o.log.debug({ peer: l.peer, queued: l.queue.length }, 'mesh link up');
          // What waited goes first: a frame sent on linkUp (a heartbeat) must not overtake
          // it, or the peer, which takes frames in order only, drops what waited.
          this.flushQueue(l);
          this.emit({ type: 'linkUp', peer: l.peer });
        }
      }
    });
    let failure = '';
    sock.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.message;
      if (err.code === 'ECONNREFUSED') refused = true;
    });
    sock.on('close', () => {
      clearTimeout(hsTimer);
      if (l.sock !== sock) return;
      const wasUp = l.state === 'up';
      this.o.log.debug({ peer: l.peer, was: l.state, err: failure || undefined, retryMs: l.backoff }, 'mesh link closed');
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
    const relays = l.heldRelays;
    l.heldRelays = [];
    l.heldRelayBytes = 0;
    for (const relay of relays) this.carry(l, relay);
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
    const seq = ++l.seq;
    const now = performance.now();
    this.sendFrame(l, envelopeFrame(seq, payload));
    const standing = this.paths.standing(to, now, l.state === 'up');
    l.kept.keep(seq, payload, payload.length, now, standing !== Standing.Heard);
    if (standing === Standing.Doubted) this.catchUpAround(l, now);
  }

  /**
   * Sends around the link what was sent on it and not around it yet, oldest first: also
   * the frames of the moments before the link was doubted, which a cut may have taken.
   * Returns the nodes it goes through (none: no way around now).
   */
  private catchUpAround(l: Link, now: number): NodeId[] {
    const via = this.paths.relaysFor(l.peer, now);
    if (!via.length) return via;
    for (const r of l.kept.after(l.aroundUpTo)) this.sendAround(l, via, { seq: r.seq, body: { $case: 'envelope', envelope: joined(r.frame) } });
    return via;
  }

  /** A numbered frame on the peer's own link, or held (bounded) until the link comes up. */
  private sendFrame(l: Link, frame: Encoded): void {
    if (l.state === 'up' && l.sock) {
      this.write(l, frame);
      return;
    }
    l.queue.push(frame);
    l.queuedBytes += frame.length;
    while (l.queuedBytes > MAX_QUEUED_BYTES && l.queue.length) l.queuedBytes -= l.queue.shift()!.length;
  }

  /** Another node's frame carried on to the peer of `l`, numbered now in this node's count for it. */
  private carry(l: Link, relay: pb.MeshRelay): void {
    this.write(l, meshFrame({ seq: ++l.seq, body: { $case: 'relay', relay } }));
  }

  /** The same frame through these nodes, which hear the peer (mesh-paths.ts). */
  private sendAround(l: Link, via: readonly NodeId[], f: { seq: number; body: pb.MeshRelay['body'] }): void {
    for (const v of via) {
      const vl = this.links.get(v)!;
      if ((vl.sock?.writableLength ?? 0) > MAX_AROUND_BACKLOG) continue; // a slow relay: not more through it
      const relay: pb.MeshRelay = { to: l.peer, from: this.self, session: this.session, seq: f.seq, body: f.body };
      this.write(vl, meshFrame({ seq: ++vl.seq, body: { $case: 'relay', relay } }));
      this.relayStats.sentAround++;
    }
    l.aroundUpTo = f.seq;
  }

  /** Tells every peer whom this node hears (on the link, and around it where in doubt). */
  private tellHeard(): void {
    const now = performance.now();
    // Just back from a stall of our own (a long GC, SIGSTOP): what the peers sent meanwhile
    // is still unread, so "heard" would say we hear no one, and every peer would doubt its
    // link to us. Read first; tell at the next tick.
    const stalled = now - this.lastHeardTick > DOUBT_MS;
    this.lastHeardTick = now;
    if (stalled) return;
    const heard: pb.MeshHeard = { nodes: this.paths.hearing(now) };
    for (const l of this.links.values()) {
      if (l.state === 'closed') continue;
      const seq = ++l.seq;
      if (l.state === 'up' && l.sock) this.write(l, meshFrame({ seq, body: { $case: 'heard', heard } }));
      if (!this.paths.doubts(l.peer, now)) continue;
      // What went before it first: the peer takes each sender's frames in order only.
      const via = this.catchUpAround(l, now);
      if (via.length) this.sendAround(l, via, { seq, body: { $case: 'heard', heard } });
    }
  }

  broadcast(msg: NodeMessage): void {
    for (const l of this.links.values()) this.send(l.peer, msg);
  }

  // ---- inbound --------------------------------------------------------------------

  private onInbound(sock: net.Socket): void {
    if (!this.running) return void sock.destroy();
    this.inbound.add(sock);
    sock.setNoDelay(true);
    const reader = new FrameReader();
    const challenge = randomBytes(16);
    let peer: NodeId | null = null;
    /** The dialer's session (Hello.session): its frames on this socket count within it. */
    let session = 0;
    let life: InboundLife | null = null;
    /** A hello waits to learn whether a running node has its name (mesh-lives.ts): nothing else may come meanwhile. */
    let judging = false;
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    const hsTimer = setTimeout(() => {
      this.o.log.warn({ remote }, 'mesh connection did not authenticate in time; dropped');
      sock.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    writeFrame(sock, this.handshake.challenge(challenge, this.version.ours));
    const admit = (hello: pb.Hello): void => {
      // A new life of the peer: its earlier lives' links (dead, quiet, or they would hold the name) go.
      this.lives.closeOthers(hello.node, hello.session);
      clearTimeout(hsTimer);
      peer = hello.node;
      session = hello.session;
      this.lives.add((life = { peer, session, sock, remote }));
      this.paths.heard(peer, performance.now());
      // A life of the peer proven by a handshake counts from here, even one whose
      // session is smaller than an earlier one's (a clock stepped back).
      this.inOrder.begin(peer, session);
      this.o.log.debug({ peer, session }, 'mesh link from a peer up');
      const ours = this.links.get(peer);
      if (ours) this.redialNow(ours);
      writeFrame(sock, this.handshake.welcome(hello.nonce));
    };
    sock.on('data', (chunk: Buffer) => {
      // Any bytes from the peer show its link is carrying: a frame that takes long to
      // arrive whole must not make its sender doubt the link and overtake it around.
      if (peer !== null) this.paths.heard(peer, performance.now());
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.o.log.warn({ remote, peer, err: (err as Error).message }, 'bad frame on mesh link; dropped');
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (judging) return void sock.destroy();
        if (peer === null) {
          const hello = this.handshake.provenHello(f, challenge);
          if (!hello) {
            this.o.log.warn({ remote, claimed: claimedNode(f) }, 'refused mesh connection: it did not prove the cluster secret');
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
            writeFrame(sock, this.handshake.welcome(hello.nonce));
            return;
          }
          const held = this.lives.holder(hello.node, hello.session, (l, nonce) => writeFrame(l.sock, lifeProbe(nonce)));
          if (!held) admit(hello);
          else {
            judging = true;
            void held.then((holder) => {
              judging = false;
              if (!this.running) return;
              // Not alive: its links go, even where the newcomer gave up meanwhile (its next try is taken at once).
              if (!holder && sock.destroyed) this.lives.closeOthers(hello.node, hello.session);
              if (sock.destroyed) return;
              if (holder) refuseName(sock, this.handshake, this.o.log, hello, holder);
              else admit(hello);
            });
          }
          continue;
        }
        let c = this.bytesIn.get(peer);
        if (!c) this.bytesIn.set(peer, (c = { bytes: 0, messages: 0 }));
        c.bytes += f.length + 4;
        c.messages++;
        try {
          // The common frame, an Envelope, is read without the generated decoder.
          const e = readEnvelopeFrame(f);
          if (e) this.onFrame(peer, session, e.seq, e);
          else {
            const m = pb.MeshFrame.decode(f);
            // A probe's answer (mesh-lives.ts): not numbered, and never an envelope (off the common frame's path).
            if (m.body?.$case === 'alive') this.lives.answered(peer, session, m.body.alive.nonce);
            else this.onFrame(peer, session, m.seq, m.body);
          }
        } catch (err) {
          this.o.log.warn({ peer, err: (err as Error).message }, 'undecodable message on mesh link; dropped link');
          sock.destroy();
          return;
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(hsTimer);
      this.inbound.delete(sock);
      if (life) this.lives.remove(life);
    });
  }

  /**
   * A frame from `peer` on its own link (the peer is heard: the data handler saw its bytes):
   * taken once and in order, then read, carried on, or dropped.
   */
  private onFrame(peer: NodeId, session: number, seq: number, body: Exclude<pb.MeshFrame['body'], { $case: 'alive' }> | { envelope: Uint8Array }): void {
    // A carried frame is taken in its sender's order (onRelay), not the carrier's: the carrier's
    // later own frames, sent around too while it doubts the link, may come first (mesh-relay-held.test.ts).
    if (!(body && '$case' in body && body.$case === 'relay') && !this.inOrder.accept(peer, session, seq)) {
      this.relayStats.notTaken++;
      return;
    }
    if (!body) return;
    if (!('$case' in body) || body.$case === 'envelope') this.deliver(peer, decodeNodeMessage(body.envelope));
    else if (body.$case === 'heard') this.paths.report(peer, body.heard.nodes, performance.now());
    else this.onRelay(body.relay, performance.now());
  }

  /** A frame that came through another node: ours (taken once, in order), or carried on to its peer if we hear it. */
  private onRelay(r: pb.MeshRelay, now: number): void {
    if (r.to !== this.self) {
      const tl = this.links.get(r.to);
      if (r.from === this.self || !tl || tl.state === 'closed' || !this.paths.hears(r.to, now) || (tl.sock?.writableLength ?? 0) > MAX_AROUND_BACKLOG) {
        this.relayStats.dropped++;
        return;
      }
      // We hear the peer, but our own link to it may not be up yet (it dialled us first, as a
      // restarted node does): the frame waits for that link. Dropped, it was lost for good once
      // a later frame of its sender came around (the peer takes each sender's frames in order
      // only; chaos: a restarted master missed a node's subscribe so, and seed 3307). The peer
      // takes it in its sender's order, not ours (onFrame).
      if (tl.state === 'up' && tl.sock) {
        this.carry(tl, r);
        this.relayStats.carried++;
        return;
      }
      tl.heldRelays.push(r);
      tl.heldRelayBytes += relayBytes(r);
      while (tl.heldRelayBytes > MAX_QUEUED_BYTES && tl.heldRelays.length > 1) tl.heldRelayBytes -= relayBytes(tl.heldRelays.shift()!);
      this.relayStats.held++;
      return;
    }
    if (!this.links.has(r.from)) return;
    if (!this.inOrder.accept(r.from, r.session, r.seq)) {
      this.relayStats.notTaken++;
      return;
    }
    this.relayStats.takenAround++;
    if (r.body?.$case === 'heard') this.paths.report(r.from, r.body.heard.nodes, now);
    if (r.body?.$case !== 'envelope') return;
    let msg: NodeMessage;
    try {
      msg = decodeNodeMessage(r.body.envelope);
    } catch (err) {
      // The carrier is not to blame: only this frame goes.
      this.o.log.warn({ peer: r.from, err: (err as Error).message }, 'undecodable message sent around a link; dropped');
      return;
    }
    this.deliver(r.from, msg);
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
      relay: { ...this.relayStats },
    };
  }
}
