#!/usr/bin/env node
/**
 * The `ably-ng` command: `node` runs one node, `up` runs a whole deployment, `chaos`
 * acts on a running one, `bench` measures.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runNode } from './cli/node.js';
import { runUp } from './cli/up.js';
import { TopologyError } from './config/topology.js';

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number');
  return n;
}

function collectVia(v: string, acc: string[]): string[] {
  if (!/^[^=]+=[^:]+:\d+$/.test(v)) throw new InvalidArgumentError('expected name=host:port');
  return [...acc, v];
}

const program = new Command();
program.name('ably-ng').description('A multi-region realtime pub/sub service speaking the Ably protocol');

program
  .command('node')
  .description('run one node of a region')
  .requiredOption('--topology <file>', 'topology file (regions/*.yaml)')
  .requiredOption('--region <name>', 'region of this node')
  .requiredOption('--node <name>', 'node name (from the topology, or a new one to join a running region)')
  .option('--host <host>', 'address to listen on (a node not in the topology)')
  .option('--port <port>', 'client port (a node not in the topology)', int)
  .option('--mesh-port <port>', 'mesh port (a node not in the topology)', int)
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace', process.env.ABLY_NG_LOG_LEVEL ?? 'info')
  .option('--link-via <region=host:port>', 'dial another region through this address (repeatable; fault proxies)', collectVia, [])
  .option('--mesh-via <node=host:port>', 'dial a node of this region through this address (repeatable; fault proxies)', collectVia, [])
  .action(async (o) => runNode(o));

program
  .command('up')
  .description('start every node of every region of a topology, each as its own process')
  .argument('[topology]', 'topology file', 'regions/local.yaml')
  .option('--log-level <level>', 'log level of the nodes', process.env.ABLY_NG_LOG_LEVEL ?? 'info')
  .option('--state-dir <dir>', 'where the deployment writes its state and logs', '.ably-ng')
  .action(async (topology: string, o) => runUp(topology, o));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof TopologyError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
