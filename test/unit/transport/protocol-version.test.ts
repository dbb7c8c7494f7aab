import { describe, expect, it } from 'vitest';
import { NODE_PROTOCOL, REGION_PROTOCOL, VersionRefusals, versionText } from '../../../src/transport/protocol-version.js';

function refusals(ours: number) {
  const lines: { o: Record<string, unknown>; msg: string }[] = [];
  let now = 1_000_000;
  const r = new VersionRefusals({ error: (o, msg) => void lines.push({ o: o as Record<string, unknown>, msg }) }, 'mesh link', 'node protocol', ours, 'run one build', () => now);
  return { r, lines, advance: (ms: number) => (now += ms) };
}

describe('protocol versions', () => {
  it('are versioned from 1: a peer that sends none is a build from before versions', () => {
    expect(NODE_PROTOCOL).toBeGreaterThanOrEqual(1);
    expect(REGION_PROTOCOL).toBeGreaterThanOrEqual(1);
    expect(versionText(0)).toBe('0 (a build from before protocol versions)');
    expect(versionText(3)).toBe('3');
  });

  it('accept their own version and refuse any other, logging both versions and the advice', () => {
    const { r, lines } = refusals(2);
    expect(r.accepts('n2', 2)).toBe(true);
    expect(lines).toEqual([]);
    expect(r.accepts('n3', 0)).toBe(false);
    expect(r.accepts('n4', 3)).toBe(false);
    expect(lines.map((l) => l.msg)).toEqual([
      'refused mesh link: n3 speaks node protocol 0 (a build from before protocol versions), this node 2; run one build',
      'refused mesh link: n4 speaks node protocol 3, this node 2; run one build',
    ]);
    expect(lines[0]!.o).toEqual({ peer: 'n3', theirs: 0, ours: 2 });
  });

  it('log a refused peer at most once per 30 s (it redials every second), each peer on its own', () => {
    const { r, lines, advance } = refusals(1);
    expect(r.accepts('n2', 0)).toBe(false);
    advance(29_999);
    expect(r.accepts('n2', 0)).toBe(false);
    expect(r.accepts('n3', 0)).toBe(false);
    expect(lines.map((l) => l.o.peer)).toEqual(['n2', 'n3']);
    advance(1);
    expect(r.accepts('n2', 0)).toBe(false);
    expect(lines.map((l) => l.o.peer)).toEqual(['n2', 'n3', 'n2']);
  });
});
