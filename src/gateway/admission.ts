/**
 * How many clients a node takes. Each socket holds a file descriptor, and a node out of
 * descriptors is stuck, not stopped: it accepts nothing (a health check or a REST request
 * waits), cannot dial a peer it lost, and fails what reads /proc (fifty-seventh session:
 * 400 sockets at a node limited to 300 descriptors). So a node keeps its client sockets
 * under its open-file limit (the hard one: Node raises the soft limit to it at start),
 * less a reserve for its own (mesh links to each peer, region links, NATS, files), and
 * its WebSocket connections under that less a share for REST:
 *
 * - A WebSocket connection past `limits.maxConnectionsPerNode`, or past what the
 *   descriptors allow, is answered DISCONNECTED with 50004 (503): the SDK retries, or
 *   tries a fallback host, and the balancer may send it to another node. A resume of a
 *   connection held here is taken: it replaces its old socket.
 * - A new connection (not a resume that found its state) at a node at its memory budget
 *   is answered the same.
 * - Past the socket cap the server takes no more sockets: each is closed as accepted
 *   (`http.Server.maxConnections`). Near it, REST sockets kept alive idle are closed
 *   (server.ts), so that WebSockets at their cap leave REST and health checks their share;
 *   requests in flight beyond it (a flood) are dropped.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { AblyError } from '../errors.js';

/** A socket this node closes is dropped this long after if its client has not closed it too: ws would wait 30 s, holding its descriptor. */
export const CLOSED_SOCKET_DROP_MS = 1000;
/** But not while what was written to it (its last frames: an ERROR, a DISCONNECTED) is still being read, up to this long. */
export const CLOSED_SOCKET_MAX_MS = 10_000;

/**
 * Closes a WebSocket (a close frame with `code`), and drops it if its client has not
 * answered within CLOSED_SOCKET_DROP_MS of all that was written to it reaching the kernel
 * (dropped sooner, the frames still queued, the last ones among them, would be lost),
 * CLOSED_SOCKET_MAX_MS at most.
 */
export function closeSocket(ws: WebSocket, code: number): void {
  ws.close(code);
  const since = performance.now();
  const check = (): void => {
    if (ws.readyState === ws.CLOSED) return;
    if (ws.bufferedAmount === 0 || performance.now() - since >= CLOSED_SOCKET_MAX_MS) ws.terminate();
    else setTimeout(check, CLOSED_SOCKET_DROP_MS).unref();
  };
  setTimeout(check, CLOSED_SOCKET_DROP_MS).unref();
}

/**
 * Answers an upgrade with an HTTP status and closes its socket at once. Not `end()` alone:
 * Node has taken an upgrading socket off its timeouts and its connection list, and keeps
 * it half open, so a client that never closed its side held it for ever.
 */
export function refuseUpgrade(socket: Duplex, status: string): void {
  // Node took its own 'error' listener off an upgrading socket: without one, a reset client stopped the node.
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`, () => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSED_SOCKET_DROP_MS).unref();
}

/** Descriptors a node keeps for its own use besides its mesh links: region links, NATS, files (an idle node of one uses about 20). */
export const NODE_FD_BASE = 96;
/** And per other node of its region: two mesh links, and probes. */
export const NODE_FD_PER_PEER = 8;
/** Of the rest, descriptors kept for REST requests (and health checks) when WebSocket connections have taken their share. */
export const REST_FD_SHARE = 128;

/** Descriptors a node of a region of `regionSize` nodes keeps out of its WebSocket connections' share. */
export function descriptorsKept(regionSize: number): number {
  return NODE_FD_BASE + NODE_FD_PER_PEER * Math.max(0, regionSize - 1) + REST_FD_SHARE;
}

export interface ConnectionCaps {
  /** WebSocket connections this node holds at most. */
  connections: number;
  /** Client sockets (WebSocket and REST) at most. */
  sockets: number;
  /** The open-file limit they were drawn from (soft; Infinity if none). */
  openFiles: number;
  /** Why `connections` is what it is: the topology's limit, or the open-file limit below it. */
  boundBy: 'limits.maxConnectionsPerNode' | 'open files' | 'none';
}

/** The caps for a configured limit (absent: none), an open-file limit and the region's size. */
export function connectionCaps(configured: number | undefined, openFiles: number, regionSize: number): ConnectionCaps {
  const byFiles = Math.max(1, openFiles - descriptorsKept(regionSize));
  const sockets = byFiles + REST_FD_SHARE;
  const want = configured ?? Infinity;
  const connections = Math.min(want, byFiles);
  const boundBy = connections === Infinity ? 'none' : want <= byFiles ? 'limits.maxConnectionsPerNode' : 'open files';
  return { connections, sockets, openFiles, boundBy };
}

/** What a connection refused for the cap is told (DISCONNECTED): try again, here or at another node. */
export function atCapacityError(caps: ConnectionCaps): AblyError {
  const why =
    caps.boundBy === 'open files'
      ? `this node holds ${caps.connections} connections, what its open-file limit (${caps.openFiles}) allows; reconnect, or to another node`
      : `this node holds ${caps.connections} connections (limits.maxConnectionsPerNode); reconnect, or to another node`;
  return AblyError.of('overloaded', why);
}

/** What a new connection refused at the node's memory budget is told (DISCONNECTED). */
export function memoryFullError(describe: string): AblyError {
  return AblyError.of('overloaded', `no new connections: ${describe}`);
}
