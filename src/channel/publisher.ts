/**
 * Ordered, pipelined publishing from one source (a realtime connection) to channel
 * masters. Publishes of one source to one channel go out back to back without waiting
 * for replies, all to the same master; when one of them fails in a way that may have
 * another master answer (timeout, dead node, redirect while the ring settles), nothing
 * more is sent until every one in flight has settled, and then all that are still
 * unanswered are sent again, in their original order, to the channel's current master.
 * So a later publish can never overtake an earlier one, and the master's deduplication
 * (by message id) makes every resend harmless: one order per publisher, exactly once.
 *
 * The publishes a source makes in one turn of the event loop (a client's frames arrive
 * several to a socket read under load) go to the master as one request: one round trip,
 * one decode and one order step there for all of them, instead of one each. The reply's
 * serials are split back per publish. A group the master refuses as a whole (the
 * channel's rate limit) is asked again one publish at a time, after the usual retry
 * pause, so that one publish over the limit does not fail those ahead of it.
 *
 * Every attempt names the epoch the channel was in when the publish was first sent (as
 * this node's last answer on the channel had it): a master of another epoch holds a state
 * begun after that one was lost (beyond the one-node guarantee: master and replica lost
 * together), without its message ids, and refuses it (90002). A publish that was never
 * out of our hands before goes again without the name; one whose master went without
 * answering may have been ordered and delivered there, and fails with 90002 ("may or may
 * not have been published") rather than reach subscribers twice. Every attempt, not only
 * resends: the first one, held in the socket buffer of a paused master, may yet run there
 * after its sender gave up on it. (A new epoch's master knows the ids the nodes delivered
 * last in the lost one, and answers those with their first serials: recent-ids.ts.)
 */
import { AblyError, ErrorCodes, toAblyError } from '../errors.js';
import { Fifo } from '../fifo.js';
import { messagesSize, type Message, type PresenceMessage } from '../protocol/message.js';
import type { NodeId, ReplyBody } from '../transport/messages.js';
import type { RequestBody, Rpc } from '../transport/rpc.js';
import type { ChannelKey } from './entry.js';

/** Pause before re-sending after a failure (the ring converges meanwhile). */
const RETRY_DELAY_MS = 25;
/** One attempt waits at most this long for the master's reply. */
const ATTEMPT_TIMEOUT_MS = 5000;
/** One request carries at most this many publishes, and about this many bytes of messages. */
export const MAX_GROUP_ITEMS = 256;
export const MAX_GROUP_BYTES = 1024 * 1024;
/** Channels whose epoch is kept (KnownEpochs). */
const MAX_KNOWN_CHANNELS = 100_000;

export interface PublisherDeps {
  rpc: Rpc;
  ownerOf(key: ChannelKey): NodeId | null;
  /** For deadlines: a clock no step of the wall clock moves (node.ts gives the monotonic clock). */
  now(): number;
  timeoutMs: number;
  /** Called for every request sent to a master (for the node's metrics). */
  onRequest?(): void;
}

/** What a source sends: messages, or presence operations, in one order. */
export type StreamOp = { type: 'publish'; messages: Message[] } | { type: 'presence'; presence: PresenceMessage[]; since: number };

function firstId(op: StreamOp): string | undefined {
  return op.type === 'publish' ? op.messages[0]?.id : op.presence[0]?.id;
}

/** The messages of a group of publishes, in order. */
function allMessages(items: Item[]): Message[] {
  const out: Message[] = [];
  for (const item of items) if (item.op.type === 'publish') for (const m of item.op.messages) out.push(m);
  return out;
}

interface Item {
  op: StreamOp;
  deadline: number;
  resolve(serials: string[]): void;
  reject(err: AblyError): void;
  /** Node it is in flight to, or null when waiting to be sent. */
  sentTo: NodeId | null;
  /** Refused as part of a group: from now on it is sent on its own, for its own answer. */
  alone: boolean;
  /** Its messages' size as the caller counted it (0 when it did not): caps a group's bytes. */
  bytes: number;
  /** An attempt went unanswered: it may have been ordered (a resend names the epoch). */
  maybe: boolean;
  /** The channel's epoch when this was first sent, as this node last knew it (null: not known; then unnamed). */
  known: string | null | undefined;
}

/** Per channel, the epoch of the last answer a publish got on this node. */
class KnownEpochs {
  private readonly map = new Map<ChannelKey, string>();

  get(key: ChannelKey): string | null {
    return this.map.get(key) ?? null;
  }

  learn(key: ChannelKey, epoch: string): void {
    if (epoch === '' || this.map.get(key) === epoch) return;
    // Bounded: past the cap it starts again (publishes then name no epoch until answered).
    if (this.map.size >= MAX_KNOWN_CHANNELS && !this.map.has(key)) this.map.clear();
    this.map.set(key, epoch);
  }
}

/** The publishes of one source to one channel, in order. */
class Stream {
  private readonly queue = new Fifo<Item>();
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
  private pumpScheduled = false;

  constructor(
    private readonly key: ChannelKey,
    private readonly deps: PublisherDeps,
    private readonly epochs: KnownEpochs,
    private readonly onIdle: () => void,
  ) {}

  push(op: StreamOp, bytes: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, deadline: this.deps.now() + this.deps.timeoutMs, resolve, reject, sentTo: null, alone: false, bytes, maybe: false, known: undefined });
      // Sent once this turn's work is done, together with whatever else the source
      // publishes to the channel in the same turn.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        process.nextTick(this.pumpLater);
      }
    });
  }

  private readonly pumpLater = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  private pump(): void {
    if (this.broken || this.retryTimer) return;
    if (this.sentPrefix === this.queue.length) return;
    const target = this.deps.ownerOf(this.key);
    if (target === null) {
      this.retryLater();
      return;
    }
    // Everything in flight must be at the same master; if the ring moved, wait.
    if (this.inFlight > 0 && this.inFlightTo !== target) return;
    let i = this.sentPrefix;
    while (i < this.queue.length) {
      const end = this.groupEnd(i);
      this.send(this.queue.slice(i, end), target, this.queue.at(i - 1));
      i = end;
    }
    this.sentPrefix = this.queue.length;
  }

  /** Where the group starting at queue[i] ends (exclusive): consecutive publishes, within the caps. */
  private groupEnd(i: number): number {
    const first = this.queue.at(i)!;
    if (first.op.type !== 'publish' || first.alone) return i + 1;
    let end = i + 1;
    let bytes = first.bytes;
    while (end < this.queue.length && end - i < MAX_GROUP_ITEMS) {
      const next = this.queue.at(end)!;
      if (next.op.type !== 'publish' || next.alone) break;
      bytes += next.bytes;
      if (bytes > MAX_GROUP_BYTES) break;
      end++;
    }
    return end;
  }

  /** Sends one publish, or a group of publishes as one request. */
  private send(items: Item[], target: NodeId, ahead: Item | undefined): void {
    let deadline = Infinity;
    for (const item of items) {
      item.sentTo = target;
      if (item.deadline < deadline) deadline = item.deadline;
      if (item.known === undefined) item.known = this.epochs.get(this.key);
    }
    this.inFlightTo = target;
    this.inFlight += items.length;
    const remaining = Math.max(1, deadline - this.deps.now());
    // The master must have ordered the publish ahead of this one (still unanswered) first.
    const after = ahead ? firstId(ahead.op) : undefined;
    // A literal of one shape (`after` may be undefined), not a spread (see Rpc.request): this runs per publish.
    const op = items[0]!.op;
    // A group's later publishes were first sent no earlier than its first: a master of their
    // epoch refuses the group, and each then goes alone, with its own.
    const epoch = items[0]!.known ?? undefined;
    const req: RequestBody =
      op.type === 'publish'
        ? { type: 'publish', channel: this.key, messages: items.length === 1 ? op.messages : allMessages(items), after, epoch }
        : { type: 'presence', channel: this.key, presence: op.presence, after, since: op.since };
    this.deps.onRequest?.();
    let reply: Promise<ReplyBody>;
    try {
      reply = this.deps.rpc.request(target, req, Math.min(remaining, ATTEMPT_TIMEOUT_MS));
    } catch (err) {
      // Not sent: a failed attempt like any other (resent until the deadline).
      reply = Promise.reject(toAblyError(err));
    }
    reply.then(
      (body) => this.settle(items, body, null),
      (err: AblyError) => this.settle(items, null, err),
    );
  }

  private settle(items: Item[], body: ReplyBody | null, err: AblyError | null): void {
    this.inFlight -= items.length;
    if (body?.kind === 'published' || body?.kind === 'ok') {
      const serials = body.kind === 'published' ? body.serials : [];
      // The master says its epoch (message serials, which may be another region's, do not).
      if (body.kind === 'published') this.epochs.learn(this.key, body.epoch);
      // One serial per message, in order: each publish of a group takes its own.
      let at = 0;
      for (const item of items) {
        const n = item.op.type === 'publish' ? item.op.messages.length : 0;
        const own = items.length === 1 ? serials : serials.slice(at, at + n);
        at += n;
        this.finish(item, () => item.resolve(own));
      }
    } else if (body?.kind === 'error' && body.error.code !== 50003) {
      const item = items[0]!;
      if (items.length === 1 && body.error.code === ErrorCodes.channelEpochExpired.code && !item.maybe) {
        // Refused for the epoch it named, and never out of our hands before: it goes again
        // unnamed (the master's epoch is the one it will be ordered in).
        this.broken = true;
        item.known = null;
        item.sentTo = null;
      } else if (items.length === 1) {
        // The master refused it (a final answer, e.g. a limit, or the epoch a publish that
        // may have been ordered named): this one fails, the rest go on.
        this.finish(item, () => item.reject(AblyError.fromInfo(body.error)));
      } else {
        // Refused as a whole: which of them the master would take alone is not known, so
        // each is sent again on its own, in order, with everything after it.
        this.broken = true;
        for (const item of items) {
          item.alone = true;
          item.sentTo = null;
        }
      }
    } else {
      // Redirect, retry, timeout or dead node: it may yet be ordered elsewhere. Stop and
      // resend everything unanswered, in order.
      this.broken = true;
      const now = this.deps.now();
      // Unanswered (a timeout or a dead node; not a redirect or a retry, which say it was not ordered).
      const maybe = err !== null || body?.kind === 'error';
      for (const item of items) {
        item.sentTo = null;
        if (maybe) item.maybe = true;
        if (now >= item.deadline) {
          const why = err?.message ?? (body?.kind === 'redirect' ? 'no master accepted the publish' : 'no reply');
          this.finish(item, () => item.reject(AblyError.of('channelNoResponse', why)));
        }
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
    // Replies mostly come in order: the item is usually the first.
    const i = this.queue.at(0) === item ? 0 : this.queue.indexOf(item);
    if (i >= 0) {
      this.queue.removeAt(i);
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
      for (const item of this.queue.slice()) {
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
  private readonly epochs = new KnownEpochs();

  constructor(private readonly deps: PublisherDeps) {}

  /**
   * Sends messages or presence operations for `source` (e.g. a connection id; what one
   * source sends to one channel keeps its order). Resolves (with the channelSerials of
   * messages) once ACKable. `bytes`: the messages' size (`messageSize`), if the caller
   * has counted it, for the cap on a group's bytes.
   */
  send(source: string, key: ChannelKey, op: StreamOp, bytes = 0): Promise<string[]> {
    const id = `${source}\u0000${key}`;
    let s = this.streams.get(id);
    if (!s) {
      const stream = new Stream(key, this.deps, this.epochs, () => {
        if (this.streams.get(id) === stream && stream.idle) this.streams.delete(id);
      });
      this.streams.set(id, stream);
      s = stream;
    }
    return s.push(op, bytes);
  }

  /** Publishes messages for `source`: `send` with their size counted. */
  publish(source: string, key: ChannelKey, messages: Message[]): Promise<string[]> {
    return this.send(source, key, { type: 'publish', messages }, messagesSize(messages));
  }

  get activeStreams(): number {
    return this.streams.size;
  }
}
