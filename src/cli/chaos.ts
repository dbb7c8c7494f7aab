/**
 * `ably-ng chaos …`: fault injection into a deployment that `ably-ng up` runs, through
 * its control endpoint. Run from the directory `up` was started in, it finds the
 * deployment by itself (its state file in `.ably-ng/`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface RunningDeployment {
  deployment: string;
  control: { url: string; token: string };
  file: string;
}

/** Whether a process with this PID exists (signal 0; one we may not signal exists too). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running deployment whose state is in `stateDir` (the only one, or the one named). */
export function findDeployment(stateDir: string, name?: string): RunningDeployment {
  const dir = resolve(stateDir);
  if (!existsSync(dir)) throw new Error(`no ${stateDir} here: run "ably-ng up" in this directory first`);
  const found: RunningDeployment[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { deployment: string; pid: number; control?: { url: string; token: string } };
      if (s.control && pidAlive(s.pid)) found.push({ deployment: s.deployment, control: s.control, file: join(dir, f) });
    } catch {
      /* not a state file */
    }
  }
  const pick = name ? found.filter((d) => d.deployment === name) : found;
  if (pick.length === 0) throw new Error(name ? `no running deployment "${name}" in ${stateDir}` : `no running deployment in ${stateDir}`);
  if (pick.length > 1) throw new Error(`several deployments run here (${pick.map((d) => d.deployment).join(', ')}): choose one with --deployment`);
  return pick[0]!;
}

export async function control(d: RunningDeployment, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${d.control.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${d.control.token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as { error?: string };
  if (!res.ok) throw new Error(json.error ?? `control endpoint answered ${res.status}`);
  return json;
}

export interface ChaosOptions {
  stateDir: string;
  deployment?: string;
  oneWay?: boolean;
  jitter?: string;
  from?: string;
}

/** Runs one chaos command; prints its result as one JSON line. */
export async function runChaos(command: string, args: string[], o: ChaosOptions): Promise<void> {
  const d = findDeployment(o.stateDir, o.deployment);
  const need = (n: number, usage: string) => {
    if (args.length < n) throw new Error(`usage: ably-ng chaos ${usage}`);
  };
  const num = (v: string, what: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a number ≥ 0`);
    return n;
  };
  let result: unknown;
  switch (command) {
    case 'state':
      result = await control(d, 'GET', '/state');
      break;
    case 'partition':
      need(2, 'partition REGION_A REGION_B [--one-way]');
      result = await control(d, 'POST', '/regions/partition', { a: args[0], b: args[1], oneWay: !!o.oneWay });
      break;
    case 'heal':
      result = args.length >= 2 ? await control(d, 'POST', '/regions/heal', { a: args[0], b: args[1] }) : await control(d, 'POST', '/heal');
      break;
    case 'latency':
      need(3, 'latency REGION_A REGION_B MS [--jitter MS] [--one-way]');
      result = await control(d, 'POST', '/regions/faults', {
        a: args[0],
        b: args[1],
        latencyMs: num(args[2]!, 'MS'),
        ...(o.jitter ? { jitterMs: num(o.jitter, '--jitter') } : {}),
        oneWay: !!o.oneWay,
      });
      break;
    case 'loss':
      need(3, 'loss REGION_A REGION_B FRACTION [--one-way]');
      result = await control(d, 'POST', '/regions/faults', { a: args[0], b: args[1], lossRate: num(args[2]!, 'FRACTION'), oneWay: !!o.oneWay });
      break;
    case 'bandwidth':
      need(3, 'bandwidth REGION_A REGION_B BYTES_PER_S [--one-way]');
      result = await control(d, 'POST', '/regions/faults', {
        a: args[0],
        b: args[1],
        bandwidthBytesPerS: num(args[2]!, 'BYTES_PER_S'),
        oneWay: !!o.oneWay,
      });
      break;
    case 'kill':
    case 'restart':
    case 'stop':
    case 'pause':
    case 'resume':
    case 'isolate':
    case 'rejoin':
      // --from is for isolate and rejoin: the control endpoint refuses it for the others.
      need(1, `${command} NODE${command === 'isolate' || command === 'rejoin' ? ' [--from NODE]' : ''}`);
      result = await control(d, 'POST', `/nodes/${encodeURIComponent(args[0]!)}/${command}`, o.from === undefined ? undefined : { from: o.from });
      break;
    default:
      throw new Error(`unknown chaos command "${command}"`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
