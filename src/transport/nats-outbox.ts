/**
 * What a node publishes on NATS, and the account of what may have been lost.
 *
 * While the connection is up, messages go straight to the client. While it is down they
 * are held (bounded: beyond `maxQueuedBytes` the oldest are dropped, and counted) and sent,
 * in order, when it is back. Now and then the server is asked to confirm what it has
 * taken (a PING/PONG: it answers after processing everything before), so that when a
 * connection drops, the publishes it never confirmed are counted as possibly lost.
 */

export interface OutboxDeps {
  /** Hands a message to the NATS client; throws when the client refuses it. */
  write(subject: string, payload: Uint8Array): void;
  /** Resolves once the server has processed everything written before; rejects on disconnect. */
  flush(): Promise<void>;
  /** A publish the client refused (it is lost). */
  onFailed(subject: string, err: Error): void;
  maxQueuedBytes: number;
  /** Ask for a confirmation at most this often. */
  confirmIntervalMs: number;
}

export interface OutboxCounts {
  /** Messages (and their bytes) handed to the client. */
  published: number;
  publishedBytes: number;
  /** Dropped from the held queue when it was full, or left in it on close. */
  dropped: number;
  /** Refused by the client. */
  failed: number;
  /** Handed to the client but not confirmed by the server when the connection dropped. */
  unconfirmedAtDisconnect: number;
}

export class NatsOutbox {
  private connected = false;
  private queue: { subject: string; payload: Uint8Array }[] = [];
  private queuedBytes = 0;
  /** Publishes handed to the client, and how many of them the server has confirmed. */
  private written = 0;
  private confirmed = 0;
  private confirmTimer: NodeJS.Timeout | null = null;
  private droppedSinceUp = 0;
  readonly counts: OutboxCounts = { published: 0, publishedBytes: 0, dropped: 0, failed: 0, unconfirmedAtDisconnect: 0 };

  constructor(private readonly deps: OutboxDeps) {}

  get queued(): { messages: number; bytes: number } {
    return { messages: this.queue.length, bytes: this.queuedBytes };
  }

  publish(subject: string, payload: Uint8Array): void {
    if (this.connected) {
      this.write(subject, payload);
      return;
    }
    this.queue.push({ subject, payload });
    this.queuedBytes += payload.length;
    while (this.queuedBytes > this.deps.maxQueuedBytes && this.queue.length) {
      this.queuedBytes -= this.queue.shift()!.payload.length;
      this.counts.dropped++;
      this.droppedSinceUp++;
    }
  }

  private write(subject: string, payload: Uint8Array): void {
    try {
      this.deps.write(subject, payload);
    } catch (err) {
      this.counts.failed++;
      this.deps.onFailed(subject, err as Error);
      return;
    }
    this.counts.published++;
    this.counts.publishedBytes += payload.length;
    this.written++;
    this.scheduleConfirm();
  }

  /** The connection dropped. Returns how many publishes the server had not confirmed. */
  down(): number {
    if (!this.connected) return 0;
    this.connected = false;
    const unconfirmed = this.written - this.confirmed;
    this.confirmed = this.written;
    this.counts.unconfirmedAtDisconnect += unconfirmed;
    return unconfirmed;
  }

  /** The connection is (back) up: sends what waited, in order. Returns what was resent and what was dropped meanwhile. */
  up(): { resent: number; dropped: number } {
    this.connected = true;
    const q = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const item of q) this.write(item.subject, item.payload);
    const dropped = this.droppedSinceUp;
    this.droppedSinceUp = 0;
    return { resent: q.length, dropped };
  }

  /** Stops for good. Returns what was still held (now dropped). */
  close(): { messages: number; bytes: number } {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    this.connected = false;
    const left = this.queued;
    this.counts.dropped += left.messages;
    this.queue = [];
    this.queuedBytes = 0;
    return left;
  }

  private scheduleConfirm(): void {
    if (this.confirmTimer) return;
    this.confirmTimer = setTimeout(() => {
      if (!this.connected) {
        this.confirmTimer = null;
        return;
      }
      const upTo = this.written;
      this.deps
        .flush()
        .then(
          () => {
            if (this.connected) this.confirmed = Math.max(this.confirmed, upTo);
          },
          () => undefined,
        )
        .finally(() => {
          if (this.confirmTimer === null) return; // closed meanwhile
          this.confirmTimer = null;
          if (this.connected && this.written > this.confirmed) this.scheduleConfirm();
        });
    }, this.deps.confirmIntervalMs);
    this.confirmTimer.unref();
  }
}
