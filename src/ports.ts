/**
 * Ports for deployments made up on the fly (tests, chaos runs, benchmarks). They are
 * taken below the kernel's ephemeral range (32768+ here), where listen(0) and outgoing
 * connections never land, so a port chosen now is still free when a node binds it.
 */
import net from 'node:net';

const LOW = 10_000;
const HIGH = 32_000;
const taken = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `n` distinct ports that are free now and not handed out before by this process. */
export async function reservePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > n * 100) throw new Error(`could not find ${n} free ports in ${LOW}..${HIGH}`);
    const p = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (taken.has(p) || !(await canBind(p))) continue;
    taken.add(p);
    out.push(p);
  }
  return out;
}
