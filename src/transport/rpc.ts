/**
 * Request/reply over a RegionTransport: request ids, one reply per request, deadlines,
 * and failing what was in flight to a peer that is declared down.
 */
import { AblyError } from '../errors.js';
import type { NodeId, NodeMessage, NodeRequest, Reply, ReplyBody } from './messages.js';
import type { RegionTransport } from './transport.js';

/** A request before the Rpc layer gives it an id. */
export type RequestBody = NodeRequest extends infer R ? (R extends NodeRequest ? Omit<R, 'rid'> : never) : never;

/**
 * Requests that move or change a channel's state, or ask for it as master: one sent to an
 * earlier life of this node is refused (a retry), not taken by this one. Others (the
 * connection directory, which a new life keeps; stats, occupancy, audits and reads of
 * what this life holds) are answered by whichever life reads them.
 */
const FOR_ONE_LIFE: ReadonlySet<NodeMessage['type']> = new Set(['sync', 'replicate', 'claim', 'publish', 'presence', 'hold', 'sub', 'ingest']);

interface Pending {
  to: NodeId;
  resolve: (body: ReplyBody) => void;
  reject: (err: AblyError) => void;
  timer: NodeJS.Timeout;
}

/**
 * The largest request id: ids are a protobuf uint32 on the wire (`NodeRequest.rid`), and
 * below 2^30 V8 keeps them as small integers (a larger one is a heap number, allocated per
 * request and hashed as a double in `pending`).
 */
const MAX_RID = 2 ** 30 - 1;

/** A first request id for a life of this node, anywhere in 1..MAX_RID. */
function randomRid(): number {
  return 1 + Math.floor(Math.random() * MAX_RID);
}

export class Rpc {
  private nextRid: number;
  private readonly pending = new Map<number, Pending>();
  /** Told of each request that went unanswered until its deadline (the node logs it). */
  onTimeout: ((to: NodeId, req: RequestBody, rid: number, timeoutMs: number) => void) | null = null;

  /**
   * `incarnationOf`: the life of a node as this one knows it (membership), named in each
   * request so that a later life of that node refuses it; without it, requests name none.
   * `firstRid`: the first request id (tests); by default a random one. Ids count up and
   * wrap to 1 after MAX_RID: counted on past 2^32, every request failed to encode ("invalid
   * uint32"), after 4.3 billion of them (days, for a busy node). A random start keeps a
   * reply to an earlier life of this node (queued at a peer while this node was down,
   * released when the link comes back) from matching a request of this one.
   */
  constructor(
    private readonly transport: RegionTransport,
    private readonly incarnationOf: (node: NodeId) => number | undefined = () => undefined,
    firstRid: number = randomRid(),
  ) {
    this.nextRid = firstRid;
  }

  /** Sends a request and waits for its reply; rejects with 50003 after `timeoutMs`. */
  request(to: NodeId, req: RequestBody, timeoutMs: number): Promise<ReplyBody> {
    const rid = this.nextRid;
    this.nextRid = rid >= MAX_RID ? 1 : rid + 1;
    return new Promise<ReplyBody>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        this.onTimeout?.(to, req, rid, timeoutMs);
        reject(AblyError.of('timeout', `no reply from ${to} to ${req.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, { to, resolve, reject, timer });
      // Not `{ ...req, rid }`: V8 (Node 20) gives every object made by a spread followed
      // by more properties a hidden class of its own, ~10× slower and one more object per
      // request. Copied onto `{ rid, toIncarnation }`, requests of a type share one.
      this.transport.send(to, Object.assign({ rid, toIncarnation: this.incarnationOf(to) ?? 0 }, req) as NodeRequest);
    });
  }

  /**
   * Whether `msg` is a request for an earlier life of this node (its `toIncarnation`, as
   * its sender knew this node, is not this node's now): it waited in a socket while this
   * node was paused or cut off, and the region may have gone on without that life since
   * (a handoff of a state others have replaced, a publish to a master that is gone). If
   * so, it is answered with a retry here and must not be served.
   */
  refusedForEarlierLife(from: NodeId, msg: NodeMessage): boolean {
    if (!('toIncarnation' in msg) || !msg.toIncarnation || !FOR_ONE_LIFE.has(msg.type)) return false;
    const self = this.incarnationOf(this.transport.self);
    if (self === undefined || msg.toIncarnation === self) return false;
    this.reply(from, msg.rid, { kind: 'retry', reason: `${this.transport.self} has started a new incarnation since ${from} sent this ${msg.type}` });
    return true;
  }

  reply(to: NodeId, rid: number, body: ReplyBody): void {
    const msg: Reply = { type: 'reply', rid, body };
    this.transport.send(to, msg);
  }

  /** Feeds a reply received from the transport. */
  onReply(from: NodeId, reply: Reply): void {
    const p = this.pending.get(reply.rid);
    if (!p || p.to !== from) return;
    this.pending.delete(reply.rid);
    clearTimeout(p.timer);
    p.resolve(reply.body);
  }

  /** Fails every request in flight to `peer` (it is down or gone). */
  failPeer(peer: NodeId, reason: string): void {
    for (const [rid, p] of this.pending) {
      if (p.to !== peer) continue;
      this.pending.delete(rid);
      clearTimeout(p.timer);
      p.reject(AblyError.of('channelNoResponse', `${peer} is unreachable: ${reason}`));
    }
  }

  /** Fails everything (shutdown). */
  failAll(reason: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(AblyError.of('channelNoResponse', reason));
    }
    this.pending.clear();
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
