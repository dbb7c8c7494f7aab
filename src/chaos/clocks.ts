/**
 * A region whose wall clock is off: its nodes start under libfaketime (Debian's
 * `libfaketime`, which `make system-deps` installs), their `Date.now()` moved by a fixed
 * offset from the start, their monotonic clocks (timers, `performance.now()`) left alone,
 * as a server whose NTP has drifted or stepped would be. Used by chaos scenarios (`clocks`)
 * and test/integration/clock-skew.test.ts.
 */
import { existsSync } from 'node:fs';

/** An offset as libfaketime reads it: a sign, a number, and s, m, h or d (seconds when none). */
export const CLOCK_OFFSET = /^[+-]\d+(\.\d+)?[smhd]?$/;

const LIBRARIES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
];

/** The environment that starts a node with its wall clock `offset` (say `+6s`) from the machine's. */
export function clockOffsetEnv(offset: string): Record<string, string> {
  if (!CLOCK_OFFSET.test(offset)) throw new Error(`clock offset "${offset}" is not one libfaketime reads (say +6s, -1.5s, +2m)`);
  const lib = LIBRARIES.find(existsSync);
  if (!lib) throw new Error('a clock offset needs libfaketime: run `make system-deps` (Debian package libfaketime)');
  // DONT_RESET: children and threads keep the offset rather than start it again.
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_RESET: '1' };
}

/** Each region's nodes' environment for its clock offset (SupervisorOptions.regionEnv). */
export function regionClocksEnv(clocks: Readonly<Record<string, string>>): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(clocks).map(([region, offset]) => [region, clockOffsetEnv(offset)]));
}
