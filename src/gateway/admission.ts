/**
 * How many clients a node takes. Each socket holds a file descriptor, and a node out of
 * descriptors is stuck, not stopped: it accepts nothing (a health check or a REST request
 * waits), cannot dial a peer it lost, and fails what reads /proc (a review's reproduction:
 * 400 sockets at a node limited to 300 descriptors). So a node keeps its client sockets
 * under its open-file limit, less a reserve for its own (mesh and region links, NATS,
 * files), and its WebSocket connections under that less a share for REST:
 *
 * - A WebSocket connection past `limits.maxConnectionsPerNode`, or past what the
 *   descriptors allow, is answered DISCONNECTED with 50004 (503): the SDK retries, or
 *   tries a fallback host, and the balancer may send it to another node.
 * - A new connection (not a resume) at a node at its memory budget is answered the same.
 * - Past the socket cap, the server takes no more sockets: each is closed as accepted
 *   (`http.Server.maxConnections`), the last line, which only REST floods reach.
 */
import { AblyError } from '../errors.js';
import { openFileLimit } from '../open-files.js';

/** Descriptors a node keeps for its own use: mesh links (a few per peer), region links, NATS, files. */
export const NODE_FD_RESERVE = 256;
/** Of the rest, descriptors kept for REST requests when WebSocket connections have taken their share. */
export const REST_FD_SHARE = 64;

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

/** The caps for a configured limit (absent: none) and an open-file limit. */
export function connectionCaps(configured: number | undefined, openFiles: number): ConnectionCaps {
  const sockets = Math.max(1, openFiles - NODE_FD_RESERVE);
  const byFiles = Math.max(1, sockets - REST_FD_SHARE);
  const want = configured ?? Infinity;
  const connections = Math.min(want, byFiles);
  const boundBy = connections === Infinity ? 'none' : want <= byFiles ? 'limits.maxConnectionsPerNode' : 'open files';
  return { connections, sockets, openFiles, boundBy };
}

/** This process's caps. */
export function processConnectionCaps(configured: number | undefined): ConnectionCaps {
  return connectionCaps(configured, openFileLimit().soft);
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
