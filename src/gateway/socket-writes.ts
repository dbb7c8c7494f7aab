/**
 * Writing frames straight to a connection's socket.
 *
 * - Corking per turn (`cork.ts`): the frames of a turn leave in one write per socket.
 * - Shared frames: a broadcast's WebSocket frame is built once (`SharedFrame.bytes`) and
 *   written as is to every socket, bypassing `ws`'s per-send framing and copy. That is
 *   only safe while `ws`'s sender has nothing queued of its own (it queues only while
 *   compressing or reading a Blob, which this server never does: per-message deflate is
 *   off); otherwise the frame goes through `ws.send`, in order behind the queue.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Frame } from '../protocol/codec.js';
import { corkForTurn } from '../cork.js';
import { SharedFrame } from '../protocol/shared-frame.js';

/** The raw socket under a `ws` WebSocket (undefined once it is gone). */
export function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

interface SenderInternals {
  _state?: number;
  _queue?: unknown[];
}

function senderIdle(ws: WebSocket): boolean {
  const sender = (ws as unknown as { _sender?: SenderInternals })._sender;
  return !!sender && sender._state === 0 && (sender._queue?.length ?? 0) === 0;
}

/**
 * Tells a reader that stopped from one that is behind: a connection whose outbound
 * buffer is over the limit has stopped reading if nothing of it reached the kernel since
 * it was last seen over the limit (or it is over four times the limit, however slowly it
 * reads). A healthy client that is momentarily a burst behind (a broadcast batch can be
 * larger than the limit) is not dropped for it.
 */
export class ReaderProgress {
  /** Bytes the kernel had taken when the buffer was last seen over the limit. */
  private takenWhenOver = -1;

  constructor(private readonly ws: WebSocket) {}

  stopped(buffered: number, limit: number): boolean {
    if (buffered > 4 * limit) return true;
    const sock = socketOf(this.ws);
    if (!sock) return true;
    // bytesWritten counts what is still queued too; without it, what the kernel took.
    const taken = sock.bytesWritten - sock.writableLength;
    const stuck = taken === this.takenWhenOver;
    this.takenWhenOver = taken;
    return stuck;
  }
}

/** Writes one frame to an open WebSocket, corked for the turn. */
export function writeFrame(ws: WebSocket, frame: Frame | SharedFrame): void {
  const sock = socketOf(ws);
  if (sock) corkForTurn(sock);
  if (!(frame instanceof SharedFrame)) {
    ws.send(frame, { binary: typeof frame !== 'string' });
  } else if (sock && senderIdle(ws)) {
    sock.write(frame.bytes);
  } else {
    ws.send(frame.payload, { binary: !frame.text });
  }
}
