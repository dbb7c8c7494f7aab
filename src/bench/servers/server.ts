/**
 * A server under test: how to start it on loopback, pinned to the server's CPUs, and
 * where its clients connect. Every peer and every ably-ng deployment implements this, so
 * a scenario runs the same load against any of them.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { ProcessGroup, Spawned } from '../processes.js';
import { sleep } from '../util.js';

/** The wire protocol a load generator speaks to a server. */
export type Protocol = 'ably' | 'ws' | 'socketio' | 'nats' | 'mqtt';

/** Where clients connect, and to what. */
export interface Target {
  protocol: Protocol;
  /** Subscribers are spread over these URLs, round robin (one per node of a region). */
  subscriberUrls: string[];
  publisherUrl: string;
  /** Channel, room, subject or topic. */
  channel: string;
  /** Ably API key (`app.key:secret`). */
  key?: string;
}

export interface RunningServer {
  id: string;
  label: string;
  target: Target;
  /** Processes whose CPU time and memory count as the server's. */
  pids: number[];
  /** Warnings and errors the server logged while it ran (read at stop), for the report. */
  problems?: () => string[];
  stop(): Promise<void>;
}

export interface ServerContext {
  processes: ProcessGroup;
  /** taskset CPU list for server processes, or null to leave them unpinned. */
  cpus: string | null;
  /** A fresh directory for configuration files and logs. */
  dir: string;
}

export interface ServerDef {
  id: string;
  label: string;
  protocol: Protocol;
  /** One line: what exactly runs (for the report). */
  describe: string;
  start(ctx: ServerContext): Promise<RunningServer>;
}

export const CHANNEL = 'bench';

/** How long a server may take to start listening. */
export const SERVER_START_TIMEOUT_MS = 20_000;

/** Resolves with the first stdout line that parses as JSON and passes `ok`. */
export function readyLine<T>(s: Spawned, ok: (v: T) => boolean, timeoutMs = SERVER_START_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${s.name} did not print its ready line in ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: s.proc.stdout! });
    lines.on('line', (line) => {
      try {
        const v = JSON.parse(line) as T;
        if (ok(v)) {
          clearTimeout(timer);
          resolve(v);
        }
      } catch {
        // not a ready line
      }
    });
    void s.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${s.name} exited with code ${code} before it was ready`));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a TCP connection (and the process still runs). */
export async function waitForPort(s: Spawned, port: number, timeoutMs = SERVER_START_TIMEOUT_MS): Promise<void> {
  let exited: number | null | undefined;
  void s.exited.then((c) => (exited = c));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${s.name} exited with code ${exited} before it listened on ${port}`);
    const ok = await new Promise<boolean>((r) => {
      const sock = net.connect({ host: '127.0.0.1', port }, () => {
        sock.destroy();
        r(true);
      });
      sock.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${s.name} did not listen on 127.0.0.1:${port} in ${timeoutMs} ms`);
}

/** Keeps the last `max` lines a process wrote to stderr (for error reports). */
export function keepStderr(s: Spawned, max = 50): () => string[] {
  const lines: string[] = [];
  if (s.proc.stderr) {
    createInterface({ input: s.proc.stderr }).on('line', (l) => {
      lines.push(l);
      if (lines.length > max) lines.shift();
    });
  }
  return () => [...lines];
}
