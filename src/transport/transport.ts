/**
 * RegionTransport: how the nodes of one region reach each other. Implementations: the
 * in-memory one (unit tests, single process), the TCP mesh, NATS. The channel layer and
 * membership depend on this interface only.
 *
 * Contract (checked by the shared conformance suite):
 * - `send` to one node delivers in order, at most once, without blocking the caller;
 *   a message to a node that cannot be reached is dropped (requests then time out or
 *   fail when the peer is declared down, which is the caller's business).
 * - `send` to `self` is delivered locally, asynchronously, in order with other sends.
 * - `broadcast` sends to every node the transport can currently reach (not self).
 * - events report links coming and going; they are hints for membership, not verdicts.
 */
import type { NodeAddress, NodeId, NodeMessage } from './messages.js';

export type TransportEvent =
  | { type: 'linkUp'; peer: NodeId }
  | { type: 'linkDown'; peer: NodeId; reason: string }
  /** The peer's process is certainly gone (e.g. connection refused on its address). */
  | { type: 'peerGone'; peer: NodeId }
  /** A node proved it belongs to the region (cluster secret or NATS) but speaks another node protocol: alive, and nothing crosses. */
  | { type: 'peerOtherVersion'; peer: NodeId; protocol: number }
  /** A peer refused this node's link: a running node has this node's name (mesh-lives.ts); this process should stop. */
  | { type: 'nameInUse'; peer: NodeId; holder: string };

export interface TransportStats {
  /** Per peer: link state and bytes moved. */
  links: { peer: NodeId; up: boolean; bytesOut: number; bytesIn: number; messagesOut: number; messagesIn: number }[];
  /**
   * The mesh's frames around doubted links (mesh-paths.ts): sent through other nodes,
   * carried on for others, held for others until this node's link to their peer is up,
   * taken from around, dropped as a carrier (no way on), and frames not taken (a copy
   * already taken, or overtaken by a later frame).
   */
  relay?: { sentAround: number; carried: number; held: number; takenAround: number; dropped: number; notTaken: number };
}

export interface RegionTransport {
  readonly self: NodeId;
  readonly kind: 'memory' | 'mesh' | 'nats';
  start(): Promise<void>;
  stop(): Promise<void>;
  send(to: NodeId, msg: NodeMessage): void;
  broadcast(msg: NodeMessage): void;
  /** Tells the transport where a peer is (from config or from a heartbeat). */
  addPeer(peer: NodeId, address: NodeAddress): void;
  /** Forget a peer (it left): stop reconnecting to it. */
  removePeer(peer: NodeId): void;
  onMessage(handler: (from: NodeId, msg: NodeMessage) => void): void;
  onEvent(handler: (e: TransportEvent) => void): void;
  stats(): TransportStats;
  /**
   * Whether this node hears no peer at all through the transport (NATS: its connection
   * down, or nothing from anyone): the silence may be the transport's, for every node at
   * once. Absent: never (a mesh has a link per peer, and a node cut from them all is cut off).
   */
  deaf?(): boolean;
}
