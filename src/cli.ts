#!/usr/bin/env node
/**
 * The `ably-ng` command: `node` runs one node, `up` runs a whole deployment, `chaos`
 * acts on a running one, `bench` measures.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runChaos } from './cli/chaos.js';
import { NAME } from './config/topology.js';

// Each command loads what it runs when it runs: an operator's `chaos kill` need not load a
// whole node (0.5 s against 0.15 s).

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** A log level pino knows. */
function logLevel(v: string): string {
  if (!LOG_LEVELS.includes(v)) throw new InvalidArgumentError(`must be one of ${LOG_LEVELS.join(', ')}`);
  return v;
}

/** A node name as topologies allow them (it goes into NATS subjects and log lines). */
function nodeName(v: string): string {
  if (!new RegExp(`^${NAME.source}$`).test(v)) throw new InvalidArgumentError('must be letters, digits, "_" and "-", from a letter or digit');
  return v;
}

/** A parser for an integer option in [min, max]. */
function intOption(name: string, min: number, max?: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(`${name} must be a whole number ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}`);
    }
    return n;
  };
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
  .requiredOption('--node <name>', 'node name (from the topology, or a new one to join a running region)', nodeName)
  .option('--host <host>', 'address to listen on (a node not in the topology)')
  .option('--port <port>', 'client port (a node not in the topology)', int)
  .option('--mesh-port <port>', 'mesh port (a node not in the topology)', int)
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace', logLevel, process.env.ABLY_NG_LOG_LEVEL ?? 'info')
  .option('--link-via <region=host:port>', 'dial another region through this address (repeatable; fault proxies)', collectVia, [])
  .option('--mesh-via <node=host:port>', 'dial a node of this region through this address (repeatable; fault proxies)', collectVia, [])
  .option('--nats-via <url=host:port>', "reach one of the region's NATS servers (as the topology names it) through this address, and no server the cluster announces (repeatable; fault proxies)", collectVia, [])
  .action(async (o) => (await import('./cli/node.js')).runNode(o));

program
  .command('up')
  .description('start every node of every region of a topology, each as its own process')
  .argument('[topology]', 'topology file', 'regions/local.yaml')
  .option('--log-level <level>', 'log level of the nodes (fatal|error|warn|info|debug|trace)', logLevel, process.env.ABLY_NG_LOG_LEVEL ?? 'info')
  .option('--state-dir <dir>', 'where the deployment writes its state and logs', '.ably-ng')
  .option('--no-mesh-proxies', 'dial node-to-node links directly (no fault injection between nodes)')
  .action(async (topology: string, o) => (await import('./cli/up.js')).runUp(topology, o));

program
  .command('chaos')
  .description('inject faults into the deployment "ably-ng up" runs from this directory, or run chaos scenarios (run, random) on deployments of their own')
  .argument(
    '<command>',
    'state | partition A B | heal [A B] | latency A B MS | loss A B FRACTION | bandwidth A B BYTES_PER_S | kill|restart|stop|pause|resume NODE | isolate|rejoin NODE [--from NODE] | run SCENARIO.yaml… | random',
  )
  .argument('[args...]')
  .option('--one-way', 'only from the first region to the second')
  .option('--jitter <ms>', 'random extra delay up to this (latency)')
  .option('--from <node>', 'isolate, rejoin: only the links between NODE and this node of its region')
  .option('--state-dir <dir>', 'where "ably-ng up" keeps its state', '.ably-ng')
  .option('--deployment <name>', 'which deployment, when several run here')
  .option('--out <dir>', 'run, random: where the scenarios, records and reports go', 'chaos/results/latest')
  .option('--seed <n>', 'random: the first seed (default: drawn and printed)', intOption('--seed', 0))
  .option('--runs <n>', 'random: how many seeds, one after another', intOption('--runs', 1), 1)
  .option('--duration <s>', 'random: seconds of publishing per run', intOption('--duration', 10, 600), 60)
  .option('--topology <file>', 'random: the topology the runs use', 'regions/local.yaml')
  .option('--pairs', 'random: in regions of five nodes or more, also fault two nodes at once (often a channel\'s master and replica)')
  .option('--clocks', "random: each region's wall clock off by up to 8 s for the whole run (libfaketime)")
  .option('--node-clocks', "random: each node's wall clock off by up to 4 s more, either way, from its region's")
  .option('--clock-steps', "random: two to four steps of a running node's wall clock, to within 10 s of the machine's")
  .option('--tokens', 'random: clients on tokens of 8–20 s, renewed through the run, each TokenRequest replayed once (which must be refused)')
  .option('--revocations', 'random: a revocation probe every 8–14 s (a token revoked through another region, which every region must then refuse)')
  .option('--revocation-gap <s>', "random, with --revocations: seconds from a probe's token to its revocation (default 30, more than clocks are apart)", intOption('--revocation-gap', 0, 300))
  .option('--trace <clients>', 'run, random: workload clients (comma-separated: eu-sub1,us-pub0,eu-mem0) whose SDK logs every protocol message to trace-CLIENT.log beside the record')
  .action(async (command: string, args: string[], o) => {
    if (command !== 'run' && command !== 'random') return runChaos(command, args, o);
    if (command === 'run' && args.length === 0) throw new InvalidArgumentError('usage: ably-ng chaos run SCENARIO.yaml… [--out DIR]');
    // Loaded only here: the workload needs the `ably` SDK, which serving nodes do not.
    const trace = typeof o.trace === 'string' ? o.trace.split(',').map((x: string) => x.trim()).filter(Boolean) : [];
    const { CLIENT_ID } = await import('./chaos/runner.js');
    const bad = trace.filter((c: string) => !CLIENT_ID.test(c));
    if (bad.length) throw new InvalidArgumentError(`--trace: ${bad.join(', ')} is not a workload client (REGION-subN, REGION-pubN or REGION-memN)`);
    const { runScenarios, runRandom, stopActiveRuns } = await import('./chaos/run-all.js');
    // Interrupted: the run's nodes go too (a paused one would not exit with us).
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => void stopActiveRuns().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143)));
    }
    const log = (await import('./log.js')).createLogger('warn', { role: 'chaos' });
    const print = (l: string) => process.stdout.write(`${l}\n`);
    const ok =
      command === 'run'
        ? await runScenarios(args, o.out, log, print, { trace })
        : await runRandom({ seed: o.seed ?? Math.floor(Math.random() * 1_000_000), runs: o.runs, durationS: o.duration, topologyFile: o.topology, pairs: o.pairs === true, clocks: o.clocks === true, nodeClocks: o.nodeClocks === true, clockSteps: o.clockSteps === true, tokens: o.tokens === true, revocations: o.revocations === true, ...(o.revocationGap !== undefined ? { revocationGapS: o.revocationGap } : {}) }, o.out, log, print, { trace });
    process.exit(ok ? 0 : 1);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  // By name: config/topology.js (zod, yaml) is loaded only by the commands that read a topology.
  if (err instanceof Error && err.name === 'TopologyError') {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const detail = err instanceof Error ? (process.env.ABLY_NG_DEBUG ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`ably-ng: ${detail}\n`);
  process.exit(1);
});
