/**
 * A channel master against a replica that answers after a fixed round trip (as over a
 * network between machines): publishes arrive one per event-loop turn at a steady
 * rate, and each is timed from `publish()` to its resolution (replicated, broadcast,
 * ACKable). Shows whether the master keeps up when a replication round trip is longer
 * than the gap between publishes: it must send the batches that queued meanwhile
 * together, or its queue (and latency) grows for as long as the load lasts.
 * Usage: node dist/bench/master-commit.js [--rtt-ms 1] [--rates 500,2000,10000] [--seconds 3] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/master-commit-<date>.json.
 */
import { NOT_BY_REPLICA } from '../channel/batches.js';
import { ChannelMaster } from '../channel/master.js';
import { ChannelState, type ChannelSettings } from '../channel/state.js';
import { argOf, emitResult, percentile, sleep } from './util.js';

const SETTINGS: ChannelSettings = { region: 'eu', historyMs: 600_000, dedupMs: 120_000, maxMessages: 1_000_000 };

interface Step {
  offeredPerS: number;
  completedPerS: number;
  replications: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Publishes still unresolved when the load stopped. */
  backlogAtEnd: number;
}

async function step(ratePerS: number, rttMs: number, seconds: number): Promise<Step> {
  let replications = 0;
  const key = `bench:master-commit-${ratePerS}`;
  const master = new ChannelMaster(key, ChannelState.fresh(key, SETTINGS, Date.now()), {
    now: () => Date.now(),
    sendBroadcast: () => undefined,
    replicate: async () => {
      replications++;
      await sleep(rttMs);
      return NOT_BY_REPLICA;
    },
  });
  master.subscribe('subscribers');
  const latencies: number[] = [];
  let sent = 0;
  let done = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (now >= end) return resolve();
      if (sent < ((now - t0) / 1000) * ratePerS) {
        const at = now;
        void master.publish([{ id: `m${sent++}`, data: 'x'.repeat(100), timestamp: Date.now() }]).then(() => {
          latencies.push(performance.now() - at);
          done++;
        });
      }
      setImmediate(tick);
    };
    tick();
  });
  const backlogAtEnd = sent - done;
  const completedPerS = done / seconds;
  while (done < sent) await sleep(5);
  latencies.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    offeredPerS: ratePerS,
    completedPerS: Math.round(completedPerS),
    replications,
    p50Ms: r2(percentile(latencies, 50)),
    p99Ms: r2(percentile(latencies, 99)),
    maxMs: r2(latencies[latencies.length - 1] ?? 0),
    backlogAtEnd,
  };
}

async function main(): Promise<void> {
  const rttMs = Number(argOf('--rtt-ms') ?? 1);
  const seconds = Number(argOf('--seconds') ?? 3);
  const rates = (argOf('--rates') ?? '500,2000,10000').split(',').map(Number);
  const steps: Step[] = [];
  for (const rate of rates) steps.push(await step(rate, rttMs, seconds));
  const result = { date: new Date().toISOString(), node: process.version, rttMs, seconds, steps };
  emitResult('master-commit', result, argOf('--out'));
}

void main();
