/**
 * Structured logging (pino), injected into every component that logs. Library code
 * never writes to the console; the process entry decides where logs go.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** A logger writing JSON lines to stderr (stdout is kept for ready lines). */
export function createLogger(level: LogLevel = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, embedding). */
/**
 * Lets a message through at most once per `everyMs` per key, so that a failure repeating
 * every second (a redial, a refused peer) is logged without flooding the log.
 */
export class LogThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
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

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
