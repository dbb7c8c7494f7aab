/**
 * A process's open-file limit, from /proc/<pid>/limits (Linux). Each client socket takes
 * one descriptor, so this bounds how many connections a node can hold (admission.ts) and
 * how many a benchmark can open.
 */
import { readFileSync } from 'node:fs';

/** The soft and hard open-file limits; Infinity where unlimited or not readable (not Linux). */
export function openFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return { soft: Infinity, hard: Infinity };
  }
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(text);
  const n = (v: string | undefined) => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}
