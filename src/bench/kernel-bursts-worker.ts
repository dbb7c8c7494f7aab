/**
 * The process that watches the machine's kernel threads for a scenario (kernel-bursts.ts
 * says why), driven over IPC by `KernelBurstWatch` (kernel-bursts-watch.ts). No ably-ng
 * code runs here.
 *
 * Every SCAN_MS it reads the run time of every kernel thread (children of kthreadd, pid 2;
 * the list is read again every LIST_MS): one that ran at least PROMOTE_MS since the last
 * scan is watched from then on, its run time read every READ_MS. Requests:
 *   {cmd: 'take', fromUs, toUs} → the bursts that overlap [fromUs, toUs] (µs, the clock of
 *                                 payload.ts's nowUs), and the threads watched;
 *   {cmd: 'watch', pid}         → watch that process closely from now on, kernel thread or
 *                                 not (how the tests give it bursts they know of).
 * Without /proc (not Linux) it watches nothing and answers with no bursts.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { nowUs } from './payload.js';
import { childrenOf } from './processes.js';
import { BurstTracker, burstsIn, PROMOTE_MS, READ_MS, SCAN_MS } from './kernel-bursts.js';
import { serveRequests } from './worker-serve.js';

const LIST_MS = 5000;
/** At most this many bursts are kept (the oldest go first): hours at two a second. */
const MAX_BURSTS = 20_000;

type Request = { id: number } & ({ cmd: 'take'; fromUs: number; toUs: number } | { cmd: 'watch'; pid: number });

const tracker = new BurstTracker();
/** Kernel threads by pid: name and run time at the last scan (ns). */
let kthreads = new Map<number, { name: string; runNs: number }>();
/**
 * The watched threads' schedstat files, kept open: a read every millisecond is then one
 * pread and no string (this process shares the load generator's core).
 */
const open = new Map<number, number>();
const buf = Buffer.alloc(64);

/** The run time (ns) that starts a schedstat file read into `buf`, or null if none. */
function parsed(n: number): number | null {
  let v = 0;
  let digits = 0;
  for (; digits < n; digits++) {
    const c = buf[digits]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return digits ? v : null;
}

/** A thread's run time (ns), or null when it is gone; `keep` keeps its file open for the next read. */
function runNs(pid: number, keep = false): number | null {
  let fd = open.get(pid);
  try {
    if (fd === undefined) fd = openSync(`/proc/${pid}/schedstat`, 'r');
    const v = parsed(readSync(fd, buf, 0, buf.length, 0));
    if (keep) open.set(pid, fd);
    else if (!open.has(pid)) closeSync(fd);
    return v;
  } catch {
    if (fd !== undefined && !open.has(pid)) closeSync(fd);
    return null;
  }
}

function forget(pid: number): void {
  tracker.forget(pid);
  const fd = open.get(pid);
  open.delete(pid);
  if (fd !== undefined) closeSync(fd);
}

/** A process's name (`/proc/<pid>/comm`), or null when it is gone. */
function nameOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The kernel threads now: kthreadd (pid 2) and its children. Every process is looked at
 * again each time (a few hundred small reads every LIST_MS): a pid that a kernel thread
 * left may be a process of ours now.
 */
function list(): void {
  let pids: number[];
  try {
    pids = [2, ...childrenOf(2)];
  } catch {
    return;
  }
  const next = new Map<number, { name: string; runNs: number }>();
  for (const pid of pids) {
    const name = nameOf(pid);
    if (name === null) continue;
    const known = kthreads.get(pid);
    if (known && known.name === name) {
      next.set(pid, known);
      continue;
    }
    const ns = runNs(pid);
    if (ns !== null) next.set(pid, { name, runNs: ns });
  }
  for (const [pid, k] of kthreads) if (next.get(pid) !== k && tracker.isWatched(pid)) forget(pid);
  kthreads = next;
}

function scan(): void {
  const at = nowUs();
  for (const [pid, k] of kthreads) {
    if (tracker.isWatched(pid)) continue;
    const ns = runNs(pid);
    if (ns === null) continue;
    if (ns - k.runNs >= PROMOTE_MS * 1e6) tracker.watch(pid, k.name, at, ns);
    k.runNs = ns;
  }
}

function read(): void {
  for (const pid of tracker.pids()) {
    // Stamped before the read (a window's start) and after it (its end).
    const at = nowUs();
    const ns = runNs(pid, true);
    if (ns === null) forget(pid);
    else tracker.read(pid, at, ns, nowUs());
  }
  if (tracker.bursts.length > MAX_BURSTS) tracker.bursts.splice(0, tracker.bursts.length - MAX_BURSTS);
}

list();
scan();
setInterval(list, LIST_MS);
setInterval(scan, SCAN_MS);
setInterval(read, READ_MS);

function handle(m: Request): unknown {
  if (m.cmd === 'take') return { bursts: burstsIn(tracker.withUnderWay(nowUs()), m.fromUs, m.toUs), threads: tracker.watched.map((w) => w.thread) };
  const name = nameOf(m.pid);
  const ns = runNs(m.pid);
  if (name === null || ns === null) throw new Error(`no process ${m.pid}`);
  tracker.watch(m.pid, name, nowUs(), ns);
  return {};
}

serveRequests(handle);
