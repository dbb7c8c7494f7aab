/**
 * Region links: TLS with certificates named in the topology plus the deployment
 * secret; a peer without them is refused. And a partition longer than history: the
 * subscribers on the far side are told of the gap, never left with a silent one.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_METADATA } from '../../src/bridge/links.js';
import * as pb from '../../src/gen/region.pb.js';
import { REGION_PROTOCOL } from '../../src/transport/protocol-version.js';
import { makeCerts } from '../helpers/certs.js';
import { globalmaster, nodeLogPath, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { removeTempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const certs = makeCerts();
afterAll(() => removeTempDir(certs.dir));

const gmHealth = async (d: TestDeployment, region: string): Promise<any> => (await globalmaster(d, region)).health;
const linksUp = (d: TestDeployment) => regionLinksUp(d, ['r1', 'r2']);

/** Two regions of one node each, started (links up) before the block's tests and stopped after them. */
function twoRegions(o: Omit<Parameters<typeof startDeployment>[0] & object, 'regions'> = {}): () => TestDeployment {
  let d: TestDeployment | undefined;
  beforeAll(async () => {
    d = await startDeployment({ ...o, regions: [{ name: 'r1', nodes: 1 }, { name: 'r2', nodes: 1 }] });
    await linksUp(d);
  });
  afterAll(async () => {
    await d?.stop();
  });
  return () => d!;
}

/** Opens a Link stream to a node's gRPC port and reports how it ends. */
function tryLink(port: number, creds: grpc.ChannelCredentials, secret: string | null, protocol = REGION_PROTOCOL): Promise<{ code: number; details: string }> {
  const client = new pb.RegionLinkClient(`127.0.0.1:${port}`, creds);
  const md = new grpc.Metadata();
  if (secret !== null) md.set(SECRET_METADATA, secret);
  const stream = client.link(md);
  stream.write({ frame: { $case: 'hello', hello: { region: 'r2', deployment: 'test', incarnation: 1, node: 'intruder', protocol, now: Date.now() } } });
  return new Promise((resolve) => {
    const done = (code: number, details: string) => {
      client.close();
      resolve({ code, details });
    };
    stream.on('data', () => undefined);
    stream.on('error', (e: grpc.ServiceError) => done(e.code, e.details));
    stream.on('end', () => done(grpc.status.OK, 'ended'));
    setTimeout(() => {
      stream.cancel();
      done(-1, 'still open');
    }, 3000);
  });
}

describe('region links over TLS', () => {
  const deployment = twoRegions({ tls: { ca: certs.ca, cert: certs.cert, key: certs.key } });

  it('carries messages between regions over mutual TLS', async () => {
    const d = deployment();
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r2-n1'));
    try {
      const got: string[] = [];
      await sub.channels.get('tls').subscribe((m) => void got.push(m.data as string));
      await connected(pub);
      await waitFor(async () => (await gmHealth(d, 'r1')).regionLinks.links[0].remoteInterest > 0);
      for (let i = 0; i < 5; i++) await pub.channels.get('tls').publish('x', `m${i}`);
      await waitFor(() => got.length === 5);
      expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    } finally {
      closeAll(pub, sub);
    }
  });

  it('refuses a peer without a certificate, with a foreign certificate, in plain text, or without the secret', async () => {
    const d = deployment();
    const grpcPort = d.sup.o.topology.regions[0]!.nodes[0]!.grpcPort!;
    const ca = readFileSync(certs.ca);
    const noCert = await tryLink(grpcPort, grpc.credentials.createSsl(ca), 'test-deployment-secret');
    expect(noCert.code).not.toBe(-1);
    expect(noCert.code).not.toBe(grpc.status.OK);
    const foreign = await tryLink(
      grpcPort,
      grpc.credentials.createSsl(ca, readFileSync(certs.otherKey), readFileSync(certs.otherCert)),
      'test-deployment-secret',
    );
    expect(foreign.code).not.toBe(-1);
    expect(foreign.code).not.toBe(grpc.status.OK);
    const plain = await tryLink(grpcPort, grpc.credentials.createInsecure(), 'test-deployment-secret');
    expect(plain.code).toBe(grpc.status.UNAVAILABLE);
    const good = grpc.credentials.createSsl(ca, readFileSync(certs.key), readFileSync(certs.cert));
    const noSecret = await tryLink(grpcPort, good, 'wrong-secret');
    expect(noSecret.code).toBe(grpc.status.UNAUTHENTICATED);
    const missing = await tryLink(grpcPort, good, null);
    expect(missing.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe('region protocol versions', () => {
  const deployment = twoRegions();

  it('drops a link whose hello carries another region protocol, logging both versions, and keeps the link of one version', async () => {
    const d = deployment();
    const grpcPort = d.sup.o.topology.regions[0]!.nodes[0]!.grpcPort!;
    const before = (await gmHealth(d, 'r1')).regionLinks.links[0];
    expect(before.up).toBe(true);
    // A build from before versions sends none, which reads as 0.
    const older = await tryLink(grpcPort, grpc.credentials.createInsecure(), 'test-deployment-secret', 0);
    expect(older.code).not.toBe(-1); // ended by the globalmaster, not left open
    const log = nodeLogPath(d, 'r1-n1');
    await waitFor(() => readFileSync(log, 'utf8').includes(`refused region link: r2 speaks region protocol 0 (a build from before protocol versions), this node ${REGION_PROTOCOL}`), {
      what: 'the refusal in the log',
    });
    // The refused hello took nothing over: the session of the real r2 is the one from before
    // (an accepted hello would have replaced it, and r2's redial replaced that in turn).
    const after = (await gmHealth(d, 'r1')).regionLinks.links[0];
    expect(after).toMatchObject({ up: true, since: before.since });
  });
});

describe('a partition longer than history', () => {
  const deployment = twoRegions({ retention: { maxMessagesPerChannel: 20 } });

  it('tells the other side\'s subscribers that continuity was lost (no RESUMED, with an error), never silently', async () => {
    const d = deployment();
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r2-n1'));
    try {
      const got: string[] = [];
      const events: { at: number; code?: number; resumed: boolean }[] = [];
      const ch = sub.channels.get('long-cut');
      ch.on('update', (sc) => void events.push({ at: got.length, code: sc.reason?.code, resumed: sc.resumed }));
      await ch.subscribe((m) => void got.push(m.data as string));
      await connected(pub);
      await waitFor(async () => (await gmHealth(d, 'r1')).regionLinks.links[0].remoteInterest > 0);
      for (let i = 0; i < 3; i++) await pub.channels.get('long-cut').publish('x', `before${i}`);
      await waitFor(() => got.length === 3);
      const proxy = d.sup.regionProxies.get('r1|r2')!;
      proxy.set('both', { blackhole: true });
      await waitFor(async () => !(await gmHealth(d, 'r1')).regionLinks.links[0].up, { timeoutMs: 15_000 });
      // r1 keeps 20 messages; 40 during the partition push the first 20 out of its history.
      for (let i = 0; i < 40; i++) await pub.channels.get('long-cut').publish('x', `during${i}`);
      proxy.heal();
      await waitFor(() => got.includes('during39'), { what: 'the rest after the heal', timeoutMs: 20_000 });
      expect(events).toEqual([{ at: 3, code: 90003, resumed: false }]);
      expect(got).toEqual([...[0, 1, 2].map((i) => `before${i}`), ...Array.from({ length: 20 }, (_, i) => `during${i + 20}`)]);
    } finally {
      closeAll(pub, sub);
    }
  });

  it('does not tell a client that moves from r1 having seen less than the loss that it resumed, but resumes one that saw all of it', async () => {
    const d = deployment();
    const channel = 'long-cut-moved';
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r2-n1'));
    const [early, late] = [realtime(d.port('r1-n1')), realtime(d.port('r1-n1'))];
    const moved: ReturnType<typeof realtime>[] = [];
    const proxy = d.sup.regionProxies.get('r1|r2')!;
    try {
      const got: string[] = [];
      await sub.channels.get(channel).subscribe((m) => void got.push(m.data as string));
      const seen = { early: [] as string[], late: [] as string[] };
      await early.channels.get(channel).subscribe((m) => void seen.early.push(m.data as string));
      await late.channels.get(channel).subscribe((m) => void seen.late.push(m.data as string));
      await waitFor(async () => (await gmHealth(d, 'r1')).regionLinks.links[0].remoteInterest > 0);
      for (let i = 0; i < 3; i++) await pub.channels.get(channel).publish('x', `before${i}`);
      await waitFor(() => got.length === 3 && seen.early.length === 3, { what: 'before0–2 in both regions' });
      const serialOf = (c: typeof early) => (c.channels.get(channel) as any).properties.channelSerial as string;
      const earlySerial = serialOf(early); // r1's stream up to before2
      closeAll(early);
      proxy.set('both', { blackhole: true });
      await waitFor(async () => !(await gmHealth(d, 'r1')).regionLinks.links[0].up, { timeoutMs: 15_000 });
      for (let i = 0; i < 40; i++) await pub.channels.get(channel).publish('x', `during${i}`);
      await waitFor(() => seen.late.length === 43, { what: 'all of them to the client that stays in r1' });
      const lateSerial = serialOf(late);
      closeAll(late);
      proxy.heal();
      await waitFor(() => got.includes('during39'), { what: 'the rest in r2 after the heal', timeoutMs: 20_000 });
      expect(got.length, 'r2 lost during0–19 (r1 keeps 20)').toBe(23);
      // Both move to r2 with the serials r1 gave them.
      const follow = async (serial: string) => {
        const c = realtime(d.port('r2-n1'));
        moved.push(c);
        const ch = c.channels.get(channel);
        (ch as any).properties.channelSerial = serial;
        const f = { got: [] as string[], attached: [] as { resumed: boolean; code?: number }[] };
        ch.on('attached', (sc) => void f.attached.push({ resumed: sc.resumed, ...(sc.reason ? { code: sc.reason.code } : {}) }));
        await ch.subscribe((m) => void f.got.push(m.data as string));
        return f;
      };
      const e = await follow(earlySerial);
      const l = await follow(lateSerial);
      await pub.channels.get(channel).publish('x', 'after');
      await waitFor(() => e.got.includes('after') && l.got.includes('after'), { what: 'a message after the moves', timeoutMs: 20_000 });
      // The one that saw up to before2 would cross the loss of during0–19; r2's history (the
      // newest 20) no longer reaches before2 either, so it is told its part cannot be
      // supplied (90005), and goes on from r2's position. (Where the history holds both
      // sides of such a loss, the point itself tells it: test/unit/channel/vector-range.test.ts.)
      expect(e.attached).toEqual([{ resumed: false, code: 90005 }]);
      expect(e.got).toEqual(['after']);
      // The one that saw all of it in r1 lost nothing.
      expect([l.attached, l.got]).toEqual([[{ resumed: true }], ['after']]);
    } finally {
      proxy.heal();
      closeAll(pub, sub, early, late, ...moved);
    }
  });
});

describe('a region link that cannot be dialled', () => {
  const deployment = twoRegions({ nodeLogLevel: 'debug' });

  /** The node's records that a dial of the region link failed (warnings and, at debug level, the quiet ones). */
  function dialFailures(node: string): { level: number; failures: number; failingMs: number }[] {
    return readFileSync(nodeLogPath(deployment(), node), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; failures: number; failingMs: number })
      .filter((r) => r.msg === 'region link dial failed; redialling');
  }
  const warnings = (node: string) => dialFailures(node).filter((r) => r.level >= 40);

  it('is warned of once it has failed for 5 s, not at every redial before or after that', async () => {
    const d = deployment();
    // Start-up: the link came up without a warning, however its first dials went.
    expect(warnings('r1-n1')).toEqual([]);
    const before = dialFailures('r1-n1').length;
    const proxy = d.sup.regionProxies.get('r1|r2')!;
    const cutAt = Date.now();
    proxy.set('both', { reset: true });
    try {
      const [first] = await waitFor(() => (warnings('r1-n1').length ? warnings('r1-n1') : null), {
        what: 'a warning that the link cannot be dialled',
        timeoutMs: 15_000,
      });
      expect(Date.now() - cutAt).toBeGreaterThanOrEqual(5000);
      expect(first!.failingMs).toBeGreaterThanOrEqual(5000);
      // The redials of those 5 s failed too, logged at debug level only.
      const quiet = dialFailures('r1-n1').slice(before).filter((r) => r.failures < first!.failures);
      expect(quiet.length).toBeGreaterThanOrEqual(3);
      expect(quiet.every((r) => r.level < 40)).toBe(true);
      // Two more failed redials (≤ 1.1 s apart): still the one warning (the next comes 30 failures later).
      await waitFor(() => dialFailures('r1-n1').some((r) => r.failures >= first!.failures + 2), { what: 'two more failed redials', timeoutMs: 5000 });
      expect(warnings('r1-n1')).toHaveLength(1);
    } finally {
      proxy.heal();
    }
    await linksUp(d);
  });
});
