/**
 * Finding dead peers when there is no connection per peer to watch (the NATS transport):
 * a peer that has been silent for `silenceMs` has its client port probed, and a refused
 * connection reports it gone (its process died; a live but stalled process still accepts).
 * A gone peer is probed no more until it is heard again. Time and the probe are injected,
 * so the logic is tested without sockets or sleeps; `probeRefuses` is the real probe.
 */
import net from 'node:net';
import type { NodeAddress, NodeId } from './messages.js';

interface Peer {
  /** Where to probe; null for a peer only heard of. */
  address: NodeAddress | null;
  /** When a message from it last arrived (0: never). */
  lastHeard: number;
  gone: boolean;
  probing: boolean;
  lastProbe: number;
}

export interface PeerSilenceOptions {
  silenceMs: number;
  now(): number;
  /** Resolves true when the address refuses connections. */
  probe(address: NodeAddress): Promise<boolean>;
  /** The peer is gone: silent for `silentMs`, and its port refused. */
  onGone(peer: NodeId, silentMs: number): void;
}

export class PeerSilence {
  private readonly peers = new Map<NodeId, Peer>();

  constructor(private readonly o: PeerSilenceOptions) {}

  private get(id: NodeId): Peer {
    let p = this.peers.get(id);
    if (!p) this.peers.set(id, (p = { address: null, lastHeard: 0, gone: false, probing: false, lastProbe: 0 }));
    return p;
  }

  setAddress(id: NodeId, address: NodeAddress): void {
    this.get(id).address = address;
  }

  forget(id: NodeId): void {
    this.peers.delete(id);
  }

  /** A message from `id` arrived. True when it is the first, or the first since it was reported gone. */
  heard(id: NodeId): boolean {
    const p = this.get(id);
    const fresh = p.lastHeard === 0 || p.gone;
    p.lastHeard = this.o.now();
    p.gone = false;
    return fresh;
  }

  /** Heard from and not gone: reachable as far as we know. */
  isUp(id: NodeId): boolean {
    const p = this.peers.get(id);
    return !!p && p.lastHeard > 0 && !p.gone;
  }

  /** Peers known (given an address or heard) and not gone. */
  known(): NodeId[] {
    const out: NodeId[] = [];
    for (const [id, p] of this.peers) if ((p.lastHeard || p.address) && !p.gone) out.push(id);
    return out;
  }

  /** The silence was ours (we were disconnected): every peer gets a fresh window. */
  refresh(): void {
    const now = this.o.now();
    for (const p of this.peers.values()) if (p.lastHeard) p.lastHeard = Math.max(p.lastHeard, now);
  }

  /** Probes every peer silent for too long (at most once per silence window each). */
  check(): void {
    const now = this.o.now();
    for (const [id, p] of this.peers) {
      if (!p.lastHeard || p.gone || p.probing || !p.address?.port) continue;
      if (now - p.lastHeard < this.o.silenceMs || now - p.lastProbe < this.o.silenceMs) continue;
      const heardBefore = p.lastHeard;
      p.probing = true;
      p.lastProbe = now;
      void this.o.probe(p.address).then((refused) => {
        p.probing = false;
        // Still the same peer, and still silent since the probe began.
        if (!refused || this.peers.get(id) !== p || p.lastHeard !== heardBefore || p.gone) return;
        p.gone = true;
        this.o.onGone(id, this.o.now() - p.lastHeard);
      });
    }
  }
}

/** Whether `address`'s client port refuses a TCP connection (false on accept or timeout). */
export function probeRefuses(address: NodeAddress, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let refused = false;
    const sock = net.connect({ host: address.host, port: address.port });
    sock.setTimeout(timeoutMs, () => sock.destroy());
    sock.on('connect', () => sock.destroy());
    sock.on('error', (err: NodeJS.ErrnoException) => {
      refused = err.code === 'ECONNREFUSED';
    });
    sock.on('close', () => resolve(refused));
  });
}
