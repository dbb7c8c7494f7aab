/**
 * Corking per event-loop turn, for every socket the process writes (client WebSockets,
 * mesh links): the first write to a socket in a turn corks it, and one tick after the
 * turn every corked socket is uncorked, so the writes of a turn leave in one syscall per
 * socket, with one scheduled callback for all of them.
 */
import type { Socket } from 'node:net';

const corked: Socket[] = [];
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  const socks = corked.splice(0);
  for (const s of socks) s.uncork();
}

/** Corks the socket until the end of this turn (once per turn). */
export function corkForTurn(sock: Socket): void {
  if (sock.writableCorked > 0) return;
  sock.cork();
  corked.push(sock);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    process.nextTick(uncorkAll);
  }
}
