import { Balancer } from '../../src/proxy/balancer.js';
import { silentLogger } from '../../src/log.js';
import type { TestDeployment } from './deployment.js';
import { waitFor } from './wait.js';

/** Waits until every running node of the deployment sees a ring of `n` members, with quorum. */
export async function ringOf(d: TestDeployment, n: number): Promise<void> {
  await waitFor(
    async () => {
      const hs = await Promise.all(d.nodes().filter((x) => d.sup.nodes.has(x)).map((x) => d.health(x)));
      return hs.length === n && hs.every((h) => h.ring.length === n && h.quorum);
    },
    { what: `every node seeing a ring of ${n}`, timeoutMs: 20_000 },
  );
}

/** A balancer over these nodes, in this order (the first one healthy takes the next client). */
export async function balancerFor(d: TestDeployment, order: string[]): Promise<Balancer> {
  const b = new Balancer(order.map((name) => ({ name, host: '127.0.0.1', port: d.port(name) })), silentLogger());
  await b.listen(0, '127.0.0.1');
  return b;
}

export function portOf(b: Balancer): number {
  return (b as unknown as { server: { address(): { port: number } } }).server.address().port;
}
