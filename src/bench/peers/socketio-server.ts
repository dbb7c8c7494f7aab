/**
 * The socket.io 4 peer, run as its own process: subscribers join one room, and every
 * `p` event from the publisher is emitted to the room as `m` (socket.io encodes a
 * broadcast once and writes it to each member). WebSocket transport only.
 * Clients connect with the query `role=pub` (the publisher) or `role=sub`.
 * Usage: node dist/bench/peers/socketio-server.js --port N
 * Prints `{"ready":true,"port":N,"pid":…}` once it listens.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const ROOM = 'bench';

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 1 << 20 });

io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'pub') {
    socket.on('p', (data: string) => {
      io.to(ROOM).emit('m', data);
    });
    return;
  }
  void socket.join(ROOM);
});

http.listen(port, '127.0.0.1', () => {
  const a = http.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port, pid: process.pid })}\n`);
});

const stop = () => {
  io.disconnectSockets(true);
  void io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
