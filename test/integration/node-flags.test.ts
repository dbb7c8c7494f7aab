/**
 * ABLY_NG_NODE_FLAGS: extra Node/V8 flags for every node the supervisor starts (as
 * `ably-ng up`, the chaos and the benchmark runs do), with what the flags print on the
 * node's stdout kept in its log. Before them, every node gets the supervisor's own V8
 * flags (NODE_V8_FLAGS), which they can override. Real node processes.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_MALLOC_TUNABLES, NODE_V8_FLAGS } from '../../src/cli/supervisor.js';
import { nodeLogPath, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment | undefined;
const saved = process.env.ABLY_NG_NODE_FLAGS;
const savedTunables = process.env.GLIBC_TUNABLES;

afterEach(async () => {
  if (saved === undefined) delete process.env.ABLY_NG_NODE_FLAGS;
  else process.env.ABLY_NG_NODE_FLAGS = saved;
  if (savedTunables === undefined) delete process.env.GLIBC_TUNABLES;
  else process.env.GLIBC_TUNABLES = savedTunables;
  await d?.stop();
  d = undefined;
});

/**
 * A node's GLIBC_TUNABLES, as it was started. glibc parses it in place at start-up, each
 * colon left a NUL: what follows up to the next variable is the rest of it.
 */
function nodeTunables(dep: TestDeployment, node: string): string | undefined {
  const vars = readFileSync(`/proc/${dep.sup.nodes.get(node)!.pid}/environ`, 'utf8').split('\0');
  const i = vars.findIndex((v) => v.startsWith('GLIBC_TUNABLES='));
  if (i < 0) return undefined;
  const rest = vars.slice(i + 1).findIndex((v) => !v.startsWith('glibc.'));
  return vars.slice(i, rest < 0 ? undefined : i + 1 + rest).join(':').slice('GLIBC_TUNABLES='.length);
}

/** What a node process was started with, before its script: Node's own flags. */
function nodeFlags(dep: TestDeployment, node: string): string[] {
  const argv = readFileSync(`/proc/${dep.sup.nodes.get(node)!.pid}/cmdline`, 'utf8').split('\0');
  return argv.slice(1, argv.findIndex((a) => a.endsWith('cli.js')));
}

describe('ABLY_NG_NODE_FLAGS', () => {
  it('starts every node with the flags after its own (so they can override them), and keeps their stdout output in the node log', async () => {
    process.env.ABLY_NG_NODE_FLAGS = '--trace-gc  --stack-trace-limit=20 --allocation-site-pretenuring';
    d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }] });
    for (const n of ['r1-n1', 'r1-n2']) {
      expect(nodeFlags(d, n)).toEqual([
        '--no-allocation-site-pretenuring',
        '--initial-old-space-size=128',
        '--trace-gc',
        '--stack-trace-limit=20',
        '--allocation-site-pretenuring',
      ]);
    }
    const log = nodeLogPath(d, 'r1-n1');
    // A starting node collects garbage at least once; --trace-gc reports it on stdout.
    await waitFor(() => /Scavenge|Mark-Compact/.test(readFileSync(log, 'utf8')), { what: 'GC trace lines in the node log' });
    expect((await d.health('r1-n1')).region).toBe('r1');
  });

  it('without it, a node starts with its own V8 flags only (no allocation-site pretenuring, a first old-generation limit of 128 MB)', async () => {
    delete process.env.ABLY_NG_NODE_FLAGS;
    d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }] });
    expect(NODE_V8_FLAGS).toEqual(['--no-allocation-site-pretenuring', '--initial-old-space-size=128']);
    expect(nodeFlags(d, 'r1-n1')).toEqual(['--no-allocation-site-pretenuring', '--initial-old-space-size=128']);
    expect((await d.health('r1-n1')).region).toBe('r1');
  });
});

describe('GLIBC_TUNABLES', () => {
  it("starts every node with the supervisor's malloc settings (huge pages for the heap, freed memory kept), or the operator's own", async () => {
    delete process.env.GLIBC_TUNABLES;
    d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }] });
    expect(NODE_MALLOC_TUNABLES).toBe('glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864');
    expect(nodeTunables(d, 'r1-n1')).toBe(NODE_MALLOC_TUNABLES);
    await d.stop();
    process.env.GLIBC_TUNABLES = '';
    d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }] });
    expect(nodeTunables(d, 'r1-n1')).toBe('');
    expect((await d.health('r1-n1')).region).toBe('r1');
  });
});
