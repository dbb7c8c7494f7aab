/**
 * Request/reply over a RegionTransport: request ids, one reply per request, deadlines,
 * and failing what was in flight to a peer that is declared down.
 */
import { AblyError } from '../errors.js';
import type { NodeId, NodeRequest, Reply, ReplyBody } from './messages.js';
import type { RegionTransport } from './transport.js';

/** A request before the Rpc layer gives it an id. */
export type RequestBody = NodeRequest extends infer R ? (R extends NodeRequest ? Omit<R, 'rid'> : never) : never;

/** How a request ends: its reply's body, or an error (timeout, peer down, shutdown). */
export type RpcDone = (body: ReplyBody | null, err: AblyError | null) => void;

interface Pending {
  to: NodeId;
  type: string;
  timeoutMs: number;
  done: RpcDone;
  timer: NodeJS.Timeout;
}

export class Rpc {
  private nextRid = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly transport: RegionTransport) {}

  /** Sends a request and waits for its reply; rejects with 50003 after `timeoutMs`. */
  request(to: NodeId, req: RequestBody, timeoutMs: number): Promise<ReplyBody> {
    return new Promise<ReplyBody>((resolve, reject) => this.call(to, req, timeoutMs, (body, err) => (err ? reject(err) : resolve(body!))));
  }

  /**
   * The same with a callback, called exactly once: what a per-publish path uses, with
   * no promise, executor, resolving functions or timer closure per request (each lives
   * as long as the request is in flight, and the young-generation GC copies them).
   */
  call(to: NodeId, req: RequestBody, timeoutMs: number, done: RpcDone): void {
    const rid = this.nextRid++;
    const timer = setTimeout(this.expire, timeoutMs, rid);
    this.pending.set(rid, { to, type: req.type, timeoutMs, done, timer });
    // Not `{ ...req, rid }`: V8 (Node 20) gives every object made by a spread followed
    // by more properties a hidden class of its own, ~10× slower and one more object per
    // request. Copied onto `{ rid }`, requests of a type share one.
    this.transport.send(to, Object.assign({ rid }, req) as NodeRequest);
  }

  private readonly expire = (rid: number): void => {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    p.done(null, AblyError.of('timeout', `no reply from ${p.to} to ${p.type} within ${p.timeoutMs} ms`));
  };

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
    p.done(reply.body, null);
  }

  /** Fails every request in flight to `peer` (it is down or gone). */
  failPeer(peer: NodeId, reason: string): void {
    // Taken out first: a callback may send again (and must not be failed by this call).
    const failed: Pending[] = [];
    for (const [rid, p] of this.pending) {
      if (p.to !== peer) continue;
      this.pending.delete(rid);
      clearTimeout(p.timer);
      failed.push(p);
    }
    for (const p of failed) p.done(null, AblyError.of('channelNoResponse', `${peer} is unreachable: ${reason}`));
  }

  /** Fails everything (shutdown). */
  failAll(reason: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.done(null, AblyError.of('channelNoResponse', reason));
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
