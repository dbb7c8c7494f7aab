/** Time, injected so that pure cores can be driven by hand in tests. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * The monotonic clock, in the wall clock's units from when the process started: no step of
 * the wall clock (NTP setting it forward or back) moves it. For durations measured within
 * one process (silences, timeouts); never for times another process reads.
 */
export const monotonicClock: Clock = { now: () => performance.timeOrigin + performance.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(t: number): void {
    this.t = t;
  }
}

/** Resolves after `ms` (the global timer, so tests' fake timers drive it). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
