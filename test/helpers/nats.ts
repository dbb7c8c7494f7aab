/**
 * nats-server for tests: installs Debian's `nats-server` when it is missing (through
 * scripts/ensure-system-deps.sh, which needs root), then starts servers on free loopback
 * ports — one, or a cluster routed in a full mesh — and stops them by PID.
 *
 *   const nats = await startNats({ count: 3 });   // in beforeAll
 *   … nats.urls …
 *   await nats.stop();                            // in afterAll
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServer, NatsServers, type NatsServerOptions } from '../../src/nats-server.js';

export type { NatsServers } from '../../src/nats-server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The nats-server binary, installing it first if this machine lacks it. */
export function ensureNatsServer(): string {
  let bin = findNatsServer();
  if (bin) return bin;
  execFileSync(join(ROOT, 'scripts', 'ensure-system-deps.sh'), { stdio: 'inherit' });
  bin = findNatsServer();
  if (!bin) throw new Error('nats-server is still missing after scripts/ensure-system-deps.sh');
  return bin;
}

/** Starts `count` nats-servers (a cluster when more than one); stop them with `stop()`. */
export async function startNats(o: NatsServerOptions = {}): Promise<NatsServers> {
  return NatsServers.start({ ...o, binary: o.binary ?? ensureNatsServer() });
}

/** Index of the running server holding the most of the given node connections (by connection name). */
export async function busiestServer(nats: NatsServers, names: string[]): Promise<{ server: number; nodes: string[] }> {
  const { server, names: nodes } = await nats.busiest((n) => names.includes(n));
  return { server, nodes };
}
