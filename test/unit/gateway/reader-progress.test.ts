/**
 * Telling a reader that stopped from one that is behind, on real sockets on 127.0.0.1:
 * over the limit with nothing reaching the kernel since last seen over it is stopped;
 * over the limit while the client reads is not; far over it is stopped however it reads.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ReaderProgress, socketOf } from '../../../src/gateway/socket-writes.js';
import { sleep, waitFor } from '../../helpers/wait.js';

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function pair(): Promise<{ server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [server] = (await once(wss, 'connection')) as [WebSocket];
  await once(client, 'open');
  cleanup.push(() => {
    client.terminate();
    server.terminate();
    wss.close();
  });
  return { server, client };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('ReaderProgress', () => {
  it('says a client that stopped reading has stopped, and one that reads again has not', async () => {
    const { server, client } = await pair();
    let read = 0;
    client.on('message', (d: Buffer) => (read += d.length));
    client.pause();
    const limit = 512 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 1);
    // Fill the kernel's buffers, then some of ours: past the limit, under four times it.
    await waitFor(
      async () => {
        server.send(chunk);
        await turn();
        return server.bufferedAmount > limit + 128 * 1024;
      },
      { what: 'the outbound buffer past the limit' },
    );
    expect(server.bufferedAmount).toBeLessThan(4 * limit);
    const sock = socketOf(server)!;
    const taken = () => sock.bytesWritten - sock.writableLength;
    // The kernel may still take some in the moments after the client paused (on a loaded
    // machine, loopback's window updates come late): wait until it takes no more for 50 ms.
    await waitFor(
      async () => {
        const was = taken();
        await sleep(50);
        return taken() === was;
      },
      { what: 'the kernel to take no more of what the server wrote' },
    );
    const r = new ReaderProgress(server);
    expect(r.stopped(server.bufferedAmount, limit)).toBe(false); // first seen over: given a chance
    // Two turns: the event loop polls the socket between them, and writes if it can.
    await turn();
    await turn();
    expect(r.stopped(server.bufferedAmount, limit)).toBe(true); // nothing reached the kernel since
    // The client reads again: the kernel takes more, so it is behind, not stopped. (Waited
    // for: one turn after the client's first read was not always enough on a loaded machine.)
    const takenBefore = taken();
    client.resume();
    await waitFor(() => read > 0 && taken() > takenBefore, { what: 'the client reading, and the kernel taking more of what the server wrote' });
    expect(r.stopped(limit + 1, limit)).toBe(false);
    // However it reads, four times the limit is too far behind.
    expect(r.stopped(4 * limit + 1, limit)).toBe(true);
  });
});
