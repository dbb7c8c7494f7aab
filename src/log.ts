/**
 * Structured logging (pino), injected into every component that logs. Library code
 * never writes to the console; the process entry decides where logs go.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

type Destination = ReturnType<typeof pino.destination>;
/** Every stderr destination made here (a process has one or two). */
const destinations: Destination[] = [];

/** A logger writing JSON lines to stderr (stdout is kept for ready lines). */
export function createLogger(level: LogLevel = 'info', bindings: Record<string, unknown> = {}): Logger {
  const dest = pino.destination({ fd: 2, sync: false });
  destinations.push(dest);
  return pino({ level, base: { pid: process.pid, ...bindings } }, dest);
}

/**
 * Nobody reads stderr any more (the supervisor that held its other end is gone): logs
 * are dropped from now on. Without this, a process that logged after its supervisor died
 * hung for ever in exit: pino flushes what is unwritten at exit, and sonic-boom's
 * synchronous flush retries a write that fails with EPIPE every 100 ms, without end, so
 * even SIGTERM went unheard (two orphaned nodes found so, nineteenth session).
 */
export function dropLogs(): void {
  const drop = () => true;
  for (const d of destinations) {
    d.write = drop;
    d.flushSync = () => undefined;
  }
}

/**
 * Lets a message through at most once per `everyMs` per key, so that a failure repeating
 * every second (a redial, a refused peer) is logged without flooding the log.
 */
export class LogThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether a message under `key` may go now (if so, it counts as gone). */
  due(key: string): boolean {
    const now = this.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < this.everyMs) return false;
    this.last.set(key, now);
    return true;
  }
}

/** A logger that drops everything (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
