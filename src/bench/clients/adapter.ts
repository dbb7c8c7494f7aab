/**
 * A protocol adapter: how the load generator opens a subscriber, the publisher, or an
 * idle connection on one kind of server. Adapters stay as thin as the protocol allows
 * (bare `ws` frames, no SDK, where the brief allows): deliveries go straight to the
 * subscriber's PayloadScanner, and everything else that arrives is only looked at for
 * errors and server-side disconnects, which are counted in ClientEvents.
 */
import type { PayloadScanner } from '../payload.js';
import type { Protocol, Target } from '../servers/server.js';

/** A connection, subscriber or publisher handshake that takes longer than this failed. */
export const HANDSHAKE_TIMEOUT_MS = 15_000;

/** What happened to a load generator's connections that the figures alone do not show. */
export class ClientEvents {
  /** Connections the server closed (or that broke) while the load generator wanted them. */
  unexpectedCloses = 0;
  /** Counted by text: server errors, NACK reasons, protocol complaints. */
  readonly notes = new Map<string, number>();

  note(what: string): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + 1);
  }

  /** Notes as "text ×count", most frequent first. */
  list(max = 20): string[] {
    return [...this.notes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, max)
      .map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
  }
}

export interface Conn {
  /** True until the connection closed, for whatever reason. */
  readonly open: boolean;
  /** Closes politely (the protocol's own close where it has one); resolves when closed. */
  close(): Promise<void>;
}

export interface Publisher extends Conn {
  /** Sends one message carrying `payload` to the target's channel. */
  publish(payload: string): void;
  /** Whether the protocol acknowledges publishes (then accepted + rejected catch up with what was sent). */
  readonly acknowledges: boolean;
  /** Messages the server acknowledged / refused (protocols with acknowledgements). */
  readonly accepted: number;
  readonly rejected: number;
  /** Bytes queued on the publisher's socket. */
  bufferedBytes(): number;
}

export interface ClientAdapter {
  protocol: Protocol;
  /** A subscriber on the target's channel; resolves once deliveries can arrive. */
  subscribe(url: string, target: Target, scanner: PayloadScanner, events: ClientEvents): Promise<Conn>;
  publisher(target: Target, events: ClientEvents): Promise<Publisher>;
  /** A connection with its handshake done and nothing else (for memory per connection). */
  connect(url: string, target: Target, events: ClientEvents): Promise<Conn>;
}

/** Rejects after HANDSHAKE_TIMEOUT_MS, calling `cleanup` first. */
export function handshakeTimer(what: string, reject: (e: Error) => void, cleanup: () => void): NodeJS.Timeout {
  return setTimeout(() => {
    cleanup();
    reject(new Error(`${what}: handshake took over ${HANDSHAKE_TIMEOUT_MS} ms`));
  }, HANDSHAKE_TIMEOUT_MS);
}

/** After a client asks to close, how long to wait for the server to close before dropping the socket. */
const CLOSE_WAIT_MS = 2000;

/** Resolves when `wait` does, or after `ms` at most. */
export function closedWithin(wait: Promise<void>, ms = CLOSE_WAIT_MS): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    void wait.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
