/**
 * `ably-ng up`: runs a whole deployment from a topology file. Every node is its own
 * process; each region gets a TCP balancer as its one client endpoint. Prints one ready
 * line per node, one per region, then `{"ready":"all",…}`; stops everything it started
 * (by PID) on SIGINT/SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadTopology } from '../config/topology.js';
import { createLogger, type LogLevel } from '../log.js';
import { Supervisor } from './supervisor.js';

export async function runUp(topologyFile: string, o: { logLevel: string; stateDir: string; meshProxies: boolean }): Promise<void> {
  const topology = loadTopology(topologyFile);
  const stateDir = resolve(o.stateDir);
  mkdirSync(stateDir, { recursive: true });
  const log = createLogger((process.env.ABLY_NG_UP_LOG_LEVEL as LogLevel) ?? 'info', { role: 'up' });
  const sup = new Supervisor({
    topology,
    topologyFile: resolve(topologyFile),
    stateDir,
    nodeLogLevel: o.logLevel,
    log,
    meshProxies: o.meshProxies,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping deployment');
    sup.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    await sup.start((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  } catch (err) {
    log.error({ err: (err as Error).message }, 'deployment failed to start');
    await sup.stop();
    throw err;
  }
}
