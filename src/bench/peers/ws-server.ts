/**
 * The raw `ws` broadcast baselines, run as their own process:
 * - `plain`: every frame the publisher sends is sent to each subscriber with
 *   `ws.send` (one send, and one socket write, per subscriber per message);
 * - `corked`: the WebSocket frame is built once per message, and each subscriber's
 *   socket is corked for the rest of the event-loop turn (socket.cork, uncork on
 *   process.nextTick), so everything sent to it in one turn leaves in one write: the
 *   practical limit of a Node broadcast server.
 * Clients connect to `/?role=pub` (the publisher) or `/?role=sub`.
 * Usage: node dist/bench/peers/ws-server.js --port N --mode plain|corked
 * Prints `{"ready":true,"port":N,"pid":…}` once it listens.
 */
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';

/** ws's frame builder: exported by the package, missing from its type definitions. */
interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, o: FrameOptions): Buffer[] } };

type Mode = 'plain' | 'corked';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const port = Number(arg('port', '0'));
const mode = arg('mode', 'plain') as Mode;
if (mode !== 'plain' && mode !== 'corked') throw new Error(`--mode must be plain or corked, not ${mode}`);

const subscribers = new Set<WebSocket>();
/** Sockets corked in this turn, uncorked together on the next tick. */
const corked: Socket[] = [];

function uncorkAll(): void {
  for (const s of corked) s.uncork();
  corked.length = 0;
}

function broadcastPlain(data: Buffer, isBinary: boolean): void {
  for (const ws of subscribers) ws.send(data, { binary: isBinary });
}

function broadcastCorked(data: Buffer, isBinary: boolean): void {
  const frame = Buffer.concat(Sender.frame(data, { fin: true, rsv1: false, opcode: isBinary ? 2 : 1, mask: false, readOnly: false }));
  if (corked.length === 0) process.nextTick(uncorkAll);
  for (const ws of subscribers) {
    // ws keeps the net.Socket private; a baseline may reach for it.
    const sock = (ws as unknown as { _socket: Socket })._socket;
    if (!sock.writableCorked) {
      sock.cork();
      corked.push(sock);
    }
    sock.write(frame);
  }
}

const broadcast = mode === 'corked' ? broadcastCorked : broadcastPlain;
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false, maxPayload: 1 << 20 });

wss.on('connection', (ws, req) => {
  ws.on('error', () => undefined);
  if (req.url?.includes('role=pub')) {
    ws.on('message', (data: Buffer, isBinary: boolean) => broadcast(data, isBinary));
    return;
  }
  subscribers.add(ws);
  ws.on('close', () => subscribers.delete(ws));
});

wss.on('listening', () => {
  const a = wss.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port, pid: process.pid })}\n`);
});

const stop = () => {
  for (const ws of subscribers) ws.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
