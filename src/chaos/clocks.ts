/**
 * A region whose wall clock is off: its nodes start under libfaketime (Debian's
 * `libfaketime`, which `make system-deps` installs), their `Date.now()` moved by a fixed
 * offset from the start, their monotonic clocks (timers, `performance.now()`) left alone,
 * as a server whose NTP has drifted or stepped would be. Used by chaos scenarios (`clocks`,
 * by region or by node) and test/integration/clock-skew.test.ts.
 */
import { existsSync, writeFileSync } from 'node:fs';

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

/**
 * The environment that starts a node with its wall clock off by the offset written in
 * `file` (as clockOffsetEnv's). libfaketime reads the file again at most a second after it
 * changes, so writing another offset there steps the running node's clock, as an NTP step
 * would, and a node started again later starts with it.
 */
export function clockFileEnv(file: string): Record<string, string> {
  const { FAKETIME: _, ...env } = clockOffsetEnv('+0s');
  return { ...env, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '1' };
}

/** Writes a node's clock file (clockFileEnv): its wall clock is off by `offset` from now on. */
export function setClockFile(file: string, offset: string): void {
  if (!CLOCK_OFFSET.test(offset)) throw new Error(`clock offset "${offset}" is not one libfaketime reads (say +6s, -1.5s, +2m)`);
  writeFileSync(file, `${offset}\n`);
}

/** How far each node's clock is off at the start (`clocks` names regions and nodes; a node's own replaces its region's). */
export function nodeOffsets(
  clocks: Readonly<Record<string, string>>,
  regions: readonly { name: string; nodes: readonly { name: string }[] }[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const region of regions) for (const node of region.nodes) out.set(node.name, clocks[node.name] ?? clocks[region.name] ?? '+0s');
  return out;
}

/** Each region's nodes' environment for its clock offset (SupervisorOptions.regionEnv). */
export function regionClocksEnv(clocks: Readonly<Record<string, string>>): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(clocks).map(([region, offset]) => [region, clockOffsetEnv(offset)]));
}
