/**
 * Ordered, pipelined publishing from one source (a realtime connection) to channel
 * masters. Publishes of one source to one channel go out back to back without waiting
 * for replies, all to the same master; when one of them fails in a way that may have
 * another master answer (timeout, dead node, redirect while the ring settles), nothing
 * more is sent until every one in flight has settled, and then all that are still
 * unanswered are sent again, in their original order, to the channel's current master.
 * So a later publish can never overtake an earlier one, and the master's deduplication
 * (by message id) makes every resend harmless: one order per publisher, exactly once.
 */
import { AblyError } from '../errors.js';
import type { Message, PresenceMessage } from '../protocol/message.js';
import type { NodeId, ReplyBody } from '../transport/messages.js';
import type { RequestBody, Rpc } from '../transport/rpc.js';
import type { ChannelKey } from './entry.js';

/** Pause before re-sending after a failure (the ring converges meanwhile). */
const RETRY_DELAY_MS = 25;
/** One attempt waits at most this long for the master's reply. */
const ATTEMPT_TIMEOUT_MS = 5000;

export interface PublisherDeps {
  rpc: Rpc;
  ownerOf(key: ChannelKey): NodeId | null;
  now(): number;
  timeoutMs: number;
}

/** What a source sends: messages, or presence operations, in one order. */
export type StreamOp = { type: 'publish'; messages: Message[] } | { type: 'presence'; presence: PresenceMessage[] };

function firstId(op: StreamOp): string | undefined {
  return op.type === 'publish' ? op.messages[0]?.id : op.presence[0]?.id;
}

interface Item {
  op: StreamOp;
  deadline: number;
  resolve(serials: string[]): void;
  reject(err: AblyError): void;
  /** Node it is in flight to, or null when waiting to be sent. */
  sentTo: NodeId | null;
}

/** The publishes of one source to one channel, in order. */
class Stream {
  private readonly queue: Item[] = [];
  /**
   * How many items at the front of the queue are in flight (outside a failure, exactly
   * those: items are sent in order), so a push sends only what is new instead of
   * scanning everything in flight again (thousands with a busy pipelined publisher).
   */
  private sentPrefix = 0;
  /** Where everything in flight went. */
  private inFlightTo: NodeId | null = null;
  private inFlight = 0;
  private broken = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly key: ChannelKey,
    private readonly deps: PublisherDeps,
    private readonly onIdle: () => void,
  ) {}

  push(op: StreamOp): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, deadline: this.deps.now() + this.deps.timeoutMs, resolve, reject, sentTo: null });
      this.pump();
    });
  }

  private pump(): void {
    if (this.broken || this.retryTimer) return;
    const target = this.deps.ownerOf(this.key);
    if (target === null) {
      this.retryLater();
      return;
    }
    // Everything in flight must be at the same master; if the ring moved, wait.
    if (this.inFlight > 0 && this.inFlightTo !== target) return;
    for (let i = this.sentPrefix; i < this.queue.length; i++) this.send(this.queue[i]!, target, this.queue[i - 1]);
    this.sentPrefix = this.queue.length;
  }

  private send(item: Item, target: NodeId, ahead: Item | undefined): void {
    item.sentTo = target;
    this.inFlightTo = target;
    this.inFlight++;
    const remaining = Math.max(1, item.deadline - this.deps.now());
    // The master must have ordered the publish ahead of this one (still unanswered) first.
    const after = ahead ? firstId(ahead.op) : undefined;
    // A literal of one shape (`after` may be undefined), not a spread (see Rpc.request): this runs per publish.
    const op = item.op;
    const req: RequestBody =
      op.type === 'publish'
        ? { type: 'publish', channel: this.key, messages: op.messages, after }
        : { type: 'presence', channel: this.key, presence: op.presence, after };
    this.deps.rpc
      .request(target, req, Math.min(remaining, ATTEMPT_TIMEOUT_MS))
      .then(
        (body) => this.settle(item, body, null),
        (err: AblyError) => this.settle(item, null, err),
      );
  }

  private settle(item: Item, body: ReplyBody | null, err: AblyError | null): void {
    this.inFlight--;
    if (body?.kind === 'published' || body?.kind === 'ok') {
      const serials = body.kind === 'published' ? body.serials : [];
      this.finish(item, () => item.resolve(serials));
    } else if (body?.kind === 'error' && body.error.code !== 50003) {
      // The master refused it (a final answer, e.g. a limit): this one fails, the rest go on.
      this.finish(item, () => item.reject(AblyError.fromInfo(body.error)));
    } else {
      // Redirect, retry, timeout or dead node: it may yet be ordered elsewhere. Stop and
      // resend everything unanswered, in order.
      this.broken = true;
      item.sentTo = null;
      if (this.deps.now() >= item.deadline) {
        const why = err?.message ?? (body?.kind === 'redirect' ? 'no master accepted the publish' : 'no reply');
        this.finish(item, () => item.reject(AblyError.of('channelNoResponse', why)));
      }
    }
    if (this.broken && this.inFlight === 0) {
      this.broken = false;
      for (const i of this.queue) i.sentTo = null;
      this.sentPrefix = 0;
      this.retryLater();
    } else {
      this.pump();
    }
  }

  private finish(item: Item, settle: () => void): void {
    // Replies mostly come in order: the item is usually the first, and shift() is O(1)
    // there (V8 moves the array's start) where splice(0, 1) copies the whole queue.
    const i = this.queue[0] === item ? 0 : this.queue.indexOf(item);
    if (i >= 0) {
      if (i === 0) this.queue.shift();
      else this.queue.splice(i, 1);
      if (i < this.sentPrefix) this.sentPrefix--;
    }
    settle();
    if (this.queue.length === 0 && this.inFlight === 0) this.onIdle();
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const now = this.deps.now();
      for (const item of [...this.queue]) {
        if (item.sentTo === null && now >= item.deadline) {
          this.finish(item, () => item.reject(AblyError.of('channelNoResponse', 'no master accepted the publish in time')));
        }
      }
      this.pump();
    }, RETRY_DELAY_MS);
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }
}

export class ChannelPublisher {
  private readonly streams = new Map<string, Stream>();

  constructor(private readonly deps: PublisherDeps) {}

  /**
   * Sends messages or presence operations for `source` (e.g. a connection id; what one
   * source sends to one channel keeps its order). Resolves (with the channelSerials of
   * messages) once ACKable.
   */
  send(source: string, key: ChannelKey, op: StreamOp): Promise<string[]> {
    const id = `${source}\u0000${key}`;
    let s = this.streams.get(id);
    if (!s) {
      const stream = new Stream(key, this.deps, () => {
        if (this.streams.get(id) === stream && stream.idle) this.streams.delete(id);
      });
      this.streams.set(id, stream);
      s = stream;
    }
    return s.push(op);
  }

  get activeStreams(): number {
    return this.streams.size;
  }
}
