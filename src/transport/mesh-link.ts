/**
 * A mesh node's outbound link to one peer (mesh.ts): its socket and state, the frames
 * waiting for it, and those kept to send around it (mesh-paths.ts).
 */
import type net from 'node:net';
import type * as pb from '../gen/node.pb.js';
import type { Encoded } from './mesh-frames.js';
import { KeptFrames } from './mesh-paths.js';
import type { NodeAddress, NodeId } from './messages.js';

/** A dropped link's first redial waits this long (mesh.ts doubles it each time, to a cap). */
export const RECONNECT_MIN_MS = 50;

/** About what a carried frame takes (its message's bytes; a "heard" list counts little). */
export const relayBytes = (r: pb.MeshRelay): number => (r.body?.$case === 'envelope' ? r.body.envelope.length : 64);

/** Our outbound link to one peer. */
export class Link {
  state: 'connecting' | 'handshaking' | 'up' | 'closed' = 'connecting';
  sock: net.Socket | null = null;
  /** Frames for this peer so far (MeshFrame.seq), on this link or through others. */
  seq = 0;
  /** Frames waiting for the link, already numbered. */
  queue: Encoded[] = [];
  /**
   * Other nodes' frames to carry to this peer, waiting for the link (onRelay): numbered
   * only as they go, after the queue, so above every seq this node gave the peer meanwhile.
   */
  heldRelays: pb.MeshRelay[] = [];
  heldRelayBytes = 0;
  /** Frames sent lately, to send around the link if it turns out to be cut. */
  readonly kept = new KeptFrames<Encoded>();
  /** The last seq sent around the link. */
  aroundUpTo = 0;
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
