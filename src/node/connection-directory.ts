/**
 * The connection directory: where each connection of the region lives and whether it can
 * still be resumed, kept where a surviving node can find it. A connection's record is
 * held by the first two nodes of the ring for `conn:<connectionId>` (three in a region of
 * five or more, where two nodes may go at once and the resume should still work); its host writes it
 * when the connection opens, when its transport goes (with the time its state expires),
 * and again whenever the ring changes. A node asked to resume a connection takes the
 * record from its holders, so resume works on any node, also after the host died. A
 * record its host cannot write again (the host died, left, or started a new life) is kept
 * for the state's TTL from when its holder saw that (hostGone, reconcile): before, one
 * whose host died with it was kept, and could be resumed, for ever. That verdict is the
 * holder's own (`expiring`), never written into the record it copies to others: a copy
 * carrying it replaced good copies of a live host's records (a review's finding). Only a
 * put from the host itself, or a newer record, takes it back.
 */
import type { Ring } from '../cluster/ring.js';
import type { Logger } from '../log.js';
import type { ConnectionRecord, NodeId, NodeMessage, ReplyBody } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import type { ConnectionDirectoryService } from '../gateway/services.js';

/** Copies of each record: HOLDERS in a region of fewer than BIG_REGION nodes up, HOLDERS_BIG in one of that many or more. */
const HOLDERS = 2;
const HOLDERS_BIG = 3;
const BIG_REGION = 5;
/** Nodes asked when taking a record beyond those that hold it (to cover a recent ring change). */
const TAKE_EXTRA = 1;
/** Deadline of one directory request (ms). */
const REQUEST_TIMEOUT_MS = 1000;

export interface DirectoryDeps {
  self: NodeId;
  rpc: Rpc;
  send(to: NodeId, msg: NodeMessage): void;
  ring(): Ring;
  now(): number;
  log: Logger;
  /** How long a connection's state is kept after its transport goes (limits.connectionStateTtlMs). */
  stateTtlMs: number;
}

function keyOf(connectionId: string): string {
  return `conn:${connectionId}`;
}

export class ConnectionDirectory {
  /** Records this node holds for others (and itself). */
  private readonly held = new Map<string, ConnectionRecord>();
  /** Records of connections this node hosts (re-put when the ring changes). */
  private readonly hosted = new Map<string, ConnectionRecord>();
  /** Held records with no expiry of their own whose host this node saw gone, and when each expires here. */
  private readonly expiring = new Map<string, number>();
  /** Puts in flight (a stopping node waits for them). */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: DirectoryDeps) {}

  get size(): number {
    return this.held.size;
  }

  /** The nodes that hold a connection's record (and `extra` more after them). */
  private holders(connectionId: string, extra = 0): NodeId[] {
    const ring = this.deps.ring();
    const copies = ring.members.length >= BIG_REGION ? HOLDERS_BIG : HOLDERS;
    return ring.preference(keyOf(connectionId), copies + extra);
  }

  private stamp(prev: ConnectionRecord | undefined): number {
    const now = this.deps.now();
    return prev && prev.updatedAt >= now ? prev.updatedAt + 1 : now;
  }

  /**
   * Publishes a hosted connection's record to its holders; resolves when they have it (or
   * failed), with the record's version. A node that took the connection from another puts
   * it after the record it took, so its version is the greater (PresenceMember.since).
   */
  async put(rec: Omit<ConnectionRecord, 'updatedAt'>): Promise<number> {
    const full: ConnectionRecord = { ...rec, updatedAt: this.stamp(this.hosted.get(rec.connectionId)) };
    if (rec.host === this.deps.self) this.hosted.set(rec.connectionId, full);
    await this.putTo(this.holders(rec.connectionId), [full]);
    return full.updatedAt;
  }

  private putTo(nodes: NodeId[], records: ConnectionRecord[]): Promise<void> {
    const p = this.putAll(nodes, records);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /** Resolves when every put in flight has been answered (or failed). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async putAll(nodes: NodeId[], records: ConnectionRecord[]): Promise<void> {
    await Promise.all(
      nodes.map((n) =>
        this.deps.rpc.request(n, { type: 'connPut', records }, REQUEST_TIMEOUT_MS).catch((err: Error) => {
          this.deps.log.debug({ node: n, err: err.message }, 'connection record not stored');
        }),
      ),
    );
  }

  /**
   * Takes a connection to resume here: the newest record any holder has, if its state has
   * not expired (its old host is told to let go); null when its holders no longer have
   * it (or it expired); `unreachable` when no other holder answered, so whether it is
   * still held cannot be told from here (this node is cut off from them, and may not know
   * it yet). Saying "expired" then would make the client start a new connection and send
   * its unacknowledged messages again under new ids (chaos seed 1240 with `--pairs`: an
   * isolated node did, twice, and 117 messages were delivered twice). This node's own
   * empty answer does not count where other nodes hold copies: cut off, it may have
   * missed the record (opened meanwhile, or kept by this node's earlier life).
   */
  async take(connectionId: string, accept: (rec: ConnectionRecord) => boolean = () => true): Promise<ConnectionRecord | null | 'unreachable'> {
    const holders = new Set(this.holders(connectionId));
    const asked = this.holders(connectionId, TAKE_EXTRA);
    const answers = await Promise.all(
      asked.map((n) =>
        this.deps.rpc
          .request(n, { type: 'connTake', connectionId, host: this.deps.self }, REQUEST_TIMEOUT_MS)
          .then((a) => ({ n, a }))
          .catch(() => null),
      ),
    );
    let best: ConnectionRecord | null = null;
    let holderAnswered = false;
    const alone = holders.size === 1 && holders.has(this.deps.self);
    for (const r of answers) {
      if (!r) continue;
      if (holders.has(r.n) && (r.n !== this.deps.self || alone)) holderAnswered = true;
      if (r.a.kind === 'connection' && r.a.record && (!best || r.a.record.updatedAt > best.updatedAt)) best = r.a.record;
    }
    if (!best) return holderAnswered ? null : 'unreachable';
    if (best.expiresAt !== null && best.expiresAt <= this.deps.now()) return null;
    if (!accept(best)) return best;
    if (best.host !== this.deps.self) this.deps.send(best.host, { type: 'connMoved', connectionId });
    // Ours now: the next put is versioned after this record, whatever the clocks say.
    this.hosted.set(connectionId, best);
    return best;
  }

  /** The gateway's side of it: this node's connections opened, lost, closed, and taken to resume here. */
  gatewaySide(): ConnectionDirectoryService {
    const host = this.deps.self;
    return {
      opened: (rec) => this.put({ ...rec, host, expiresAt: null }),
      lost: (rec, expiresAt) => void this.put({ ...rec, host, expiresAt }),
      closed: (connectionId) => this.drop(connectionId),
      take: (connectionId, accept) => this.take(connectionId, accept),
    };
  }

  /** The connection closed for good (CLOSE): its record goes everywhere. */
  drop(connectionId: string): void {
    this.hosted.delete(connectionId);
    for (const n of this.holders(connectionId, TAKE_EXTRA)) this.deps.send(n, { type: 'connDrop', connectionId });
  }

  /** A hosted connection moved to another node: stop re-publishing it. */
  forgetHosted(connectionId: string): void {
    this.hosted.delete(connectionId);
  }

  // ---- holder side ------------------------------------------------------------------

  /** A request from node `from`: records put (by their host, or copied by another holder), or one asked for. */
  handle(req: { type: 'connPut'; records: ConnectionRecord[] } | { type: 'connTake'; connectionId: string; host: NodeId }, from: NodeId): ReplyBody {
    if (req.type === 'connPut') {
      for (const r of req.records) {
        const have = this.held.get(r.connectionId);
        if (have && r.updatedAt < have.updatedAt) continue;
        this.held.set(r.connectionId, r);
        // A copy of the same record from another holder leaves this node's verdict on its host.
        if (from === r.host || !have || r.updatedAt > have.updatedAt) this.expiring.delete(r.connectionId);
      }
      return { kind: 'ok' };
    }
    const have = this.held.get(req.connectionId) ?? null;
    const expiresAt = this.expiring.get(req.connectionId);
    return { kind: 'connection', record: have && expiresAt !== undefined ? { ...have, expiresAt } : have };
  }

  onDrop(connectionId: string): void {
    this.held.delete(connectionId);
    this.expiring.delete(connectionId);
  }

  /**
   * `node` died, left or started a new life: the records it hosted with no expiry (their
   * transports went with it, and it wrote nothing) expire the state's TTL from now. A host
   * that lives on (a new life that kept its clients) writes them again (reconcile(true)).
   */
  hostGone(node: NodeId): void {
    const expiresAt = this.deps.now() + this.deps.stateTtlMs;
    for (const [id, r] of this.held) if (r.host === node && r.expiresAt === null && !this.expiring.has(id)) this.expiring.set(id, expiresAt);
  }

  /**
   * Housekeeping (each second and on ring changes): expired records go; the records
   * this node hosts are put to their current holders again, and held records are copied
   * to any new holder, so each keeps its copies through a node's death.
   */
  reconcile(ringChanged: boolean): void {
    const now = this.deps.now();
    // A record with no expiry whose host is out of the ring (copied here after hostGone, or
    // put before this node heard of its host) expires as hostGone's do; its host, back,
    // writes it again.
    const ring = new Set(this.deps.ring().members);
    for (const [id, r] of this.held) {
      const expiresAt = r.expiresAt ?? this.expiring.get(id) ?? null;
      if (expiresAt === null) {
        if (r.host !== this.deps.self && !ring.has(r.host)) this.expiring.set(id, now + this.deps.stateTtlMs);
      } else if (expiresAt <= now) {
        this.held.delete(id);
        this.expiring.delete(id);
      }
    }
    for (const [id, r] of this.hosted) if (r.expiresAt !== null && r.expiresAt <= now) this.hosted.delete(id);
    if (!ringChanged) return;
    const byNode = new Map<NodeId, ConnectionRecord[]>();
    const add = (r: ConnectionRecord) => {
      for (const n of this.holders(r.connectionId)) {
        if (n === this.deps.self) continue;
        let list = byNode.get(n);
        if (!list) byNode.set(n, (list = []));
        list.push(r);
      }
    };
    for (const r of this.hosted.values()) add(r);
    for (const r of this.held.values()) if (!this.hosted.has(r.connectionId)) add(r);
    for (const [n, records] of byNode) {
      for (let i = 0; i < records.length; i += 1000) void this.putTo([n], records.slice(i, i + 1000));
    }
  }
}
