import { describe, expect, it } from 'vitest';
import { MAX_AGE_MS, REMAKE_MS, SubscriberDigests, WatchedMap, type AuditedMaster } from '../../../src/channel/audit-digests.js';
import { SubscribingNodes } from '../../../src/channel/batches.js';
import { hashName, sameDigest, subDigest } from '../../../src/channel/sub-digest.js';

/** Masters as the registry would list them, and a count of the walks over them. */
function masters(): { map: Map<string, AuditedMaster & { subscribers: Set<string> }>; walks: number; list: () => Iterable<[string, AuditedMaster]> } {
  const m = {
    map: new Map<string, AuditedMaster & { subscribers: Set<string> }>(),
    walks: 0,
    list: () => {
      m.walks++;
      return m.map.entries();
    },
  };
  return m;
}

function master(key: string, ...nodes: string[]) {
  return { keyHash: hashName(key), subscribers: new Set(nodes) };
}

describe('SubscriberDigests', () => {
  it("gives each node the digest of the channels it is subscribed to, made in one walk for every node", () => {
    const m = masters();
    m.map.set('app:a', master('app:a', 'n1', 'n2'));
    m.map.set('app:b', master('app:b', 'n2'));
    const d = new SubscriberDigests(m.list, () => 0);
    expect(sameDigest(d.of('n1'), subDigest(['app:a']))).toBe(true);
    expect(sameDigest(d.of('n2'), subDigest(['app:a', 'app:b']))).toBe(true);
    expect(sameDigest(d.of('n3'), subDigest([]))).toBe(true);
    expect(m.walks).toBe(1);
  });

  it('walks again after a change, at most once in REMAKE_MS, or once the digests are MAX_AGE_MS old', () => {
    const m = masters();
    m.map.set('app:a', master('app:a', 'n1'));
    let now = 0;
    const d = new SubscriberDigests(m.list, () => now);
    d.of('n1');
    d.of('n2');
    expect(m.walks).toBe(1);
    // A change the digests are told of shows once REMAKE_MS have passed since they were made.
    m.map.get('app:a')!.subscribers.add('n2');
    d.changed();
    now = REMAKE_MS - 1;
    expect(sameDigest(d.of('n2'), subDigest([]))).toBe(true);
    expect(m.walks).toBe(1);
    now = REMAKE_MS;
    expect(sameDigest(d.of('n2'), subDigest(['app:a']))).toBe(true);
    expect(m.walks).toBe(2);
    // Without a change, no walk however often they are asked.
    now = 5 * REMAKE_MS;
    d.of('n1');
    expect(m.walks).toBe(2);
    // One they are not told of (a missed bump) shows once they are old enough, not before.
    m.map.set('app:b', master('app:b', 'n1'));
    now = REMAKE_MS + MAX_AGE_MS - 1;
    expect(sameDigest(d.of('n1'), subDigest(['app:a']))).toBe(true);
    expect(m.walks).toBe(2);
    now = REMAKE_MS + MAX_AGE_MS;
    expect(sameDigest(d.of('n1'), subDigest(['app:a', 'app:b']))).toBe(true);
    expect(m.walks).toBe(3);
  });
});

describe('WatchedMap', () => {
  it('calls changed on every set, on a delete that removed something, and on clear', () => {
    let changes = 0;
    const map = new WatchedMap<string, number>(() => changes++);
    map.set('a', 1);
    map.set('a', 2);
    expect(changes).toBe(2);
    expect(map.delete('b')).toBe(false);
    expect(changes).toBe(2);
    expect(map.delete('a')).toBe(true);
    expect(changes).toBe(3);
    map.set('c', 1);
    map.clear();
    expect(changes).toBe(5);
    expect(map.size).toBe(0);
  });
});

describe('SubscribingNodes', () => {
  it('calls changed when a node is added, restored or removed, and not when nothing changed', () => {
    let changes = 0;
    const s = new SubscribingNodes(() => changes++);
    expect(s.add('n1')).toBe(true);
    expect(s.add('n1')).toBe(false);
    expect(changes).toBe(1);
    s.restore('n2');
    s.restore('n2');
    expect(changes).toBe(2);
    expect(s.delete('n3')).toBe(false);
    expect(changes).toBe(2);
    expect(s.delete('n1')).toBe(true);
    expect(changes).toBe(3);
    expect([...s.nodes]).toEqual(['n2']);
  });

  it('counts a restored node as never having subscribed here (the master tells it only where the replica was not asked to)', () => {
    const s = new SubscribingNodes();
    s.restore('n1');
    s.add('n2');
    const sent = s.askReplica('self', [], { serial: 1, error: { code: 80000, statusCode: 500, message: 'lost' } })!;
    expect(sent.to).toEqual(['n1', 'n2']);
    expect(s.masterTells('n1', sent)).toBe(false);
    s.add('n1');
    expect(s.masterTells('n1', sent)).toBe(true);
  });
});
