/**
 * LinkClock: a peer region's wall clock measured over pings, as NTP does (hand-made
 * pings; the wire and the live link are in test/integration/clock-skew.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { LinkFrame } from '../../../src/bridge/codec.js';
import { LinkClock } from '../../../src/bridge/link-clock.js';
import type { NodeMessage } from '../../../src/transport/messages.js';
import { FakeCall, PEER_HELLO, testGlobalmaster } from '../../helpers/fake-link.js';

/**
 * One exchange: we ping at our wall clock `t1`; the peer, whose clock is `offset` ahead
 * of ours, has it `up` ms later, holds it `held` ms, and pings back, which reaches us
 * `down` ms after that. `mono` is our monotonic clock (wall clock here).
 */
function exchange(c: LinkClock, t1: number, o: { offset: number; up: number; held: number; down: number }): void {
  const ours = c.ping(t1, t1);
  const t3 = t1 + o.up + o.held + o.offset; // the peer's clock as it pings back
  const t4 = t1 + o.up + o.held + o.down;
  c.pinged({ at: t3, echoAt: ours.at, echoHeldMs: o.held }, t4, t4);
}

describe('LinkClock', () => {
  it('measures the offset, off by half the asymmetry of the round trip, and says its round trip', () => {
    const c = new LinkClock();
    expect(c.offsetMs()).toBeNull();
    expect(c.status()).toBeNull();
    // The first ping from the peer echoes none of ours: nothing measured yet.
    c.pinged({ at: 1_000_000 + 6000, echoAt: 0, echoHeldMs: 0 }, 1_000_000, 1_000_000);
    expect(c.offsetMs()).toBeNull();
    exchange(c, 1_001_000, { offset: 6000, up: 20, held: 300, down: 20 });
    expect(c.offsetMs()).toBe(6000);
    expect(c.status()).toEqual({ offsetMs: 6000, rttMs: 40, samples: 1 });
    exchange(c, 1_002_000, { offset: 6030, up: 20, held: 300, down: 20 });
    // The shorter round trip wins; at equal ones the first kept.
    expect(c.offsetMs()).toBe(6000);
    exchange(c, 1_003_000, { offset: 6000, up: 10, held: 5, down: 50 });
    // 60 ms round trip, 40 of asymmetry: off by 20 (5,980), and longer: not taken.
    expect(c.offsetMs()).toBe(6000);
    exchange(c, 1_004_000, { offset: 5990, up: 5, held: 5, down: 5 });
    expect(c.status()).toEqual({ offsetMs: 5990, rttMs: 10, samples: 4 });
  });

  it('takes the sample of the shortest round trip among the last eight', () => {
    const c = new LinkClock();
    exchange(c, 1000, { offset: 100, up: 1, held: 0, down: 1 });
    for (let i = 1; i <= 7; i++) exchange(c, 1000 + i * 1000, { offset: 200, up: 50, held: 0, down: 50 });
    expect(c.offsetMs()).toBe(100);
    exchange(c, 9000, { offset: 200, up: 50, held: 0, down: 50 });
    // The 2 ms sample is no longer among the last eight.
    expect(c.offsetMs()).toBe(200);
    // A round trip stretched by a queue on one side says a wrong offset, and is not taken.
    exchange(c, 10_000, { offset: 200, up: 400, held: 0, down: 50 });
    expect(c.offsetMs()).toBe(200);
  });

  it("forgets the samples from before a step of either clock: two samples disagreeing by more than half their round trips together", () => {
    const c = new LinkClock();
    const T = 1_000_000;
    exchange(c, T, { offset: 100, up: 1, held: 0, down: 1 });
    for (let i = 1; i <= 6; i++) exchange(c, T + i * 1000, { offset: 100 + (i % 2 ? 40 : -40), up: 50, held: 0, down: 50 });
    // Within what round trips of 2 and 100 ms explain, and the slack: all kept, the 2 ms one taken.
    expect(c.status()).toEqual({ offsetMs: 100, rttMs: 2, samples: 7 });
    // The peer's clock steps 10 s back: the next sample says -9,900 at once, not the 2 ms sample's 100.
    exchange(c, T + 7000, { offset: -9900, up: 50, held: 0, down: 50 });
    expect(c.status()).toEqual({ offsetMs: -9900, rttMs: 100, samples: 1 });
    // Ours steps 10 s on (the wall clock; the monotonic one goes on): the peer is 19.9 s behind.
    const ours = c.ping(T + 18_000, T + 8000);
    c.pinged({ at: T + 8005 - 9900, echoAt: ours.at, echoHeldMs: 0 }, T + 18_010, T + 8010);
    expect(c.status()).toEqual({ offsetMs: -19_900, rttMs: 10, samples: 1 });
  });

  it("takes the peer's hello as a first measure, off by its one-way delay, until a ping measures it", () => {
    const c = new LinkClock();
    c.hello(10_000 + 6000, 10_000 + 30); // sent at its 16,000, had here 30 ms later
    expect(c.offsetMs()).toBe(5970);
    expect(c.status()).toEqual({ offsetMs: 5970, rttMs: null, samples: 0 });
    exchange(c, 11_000, { offset: 6000, up: 30, held: 100, down: 30 });
    expect(c.offsetMs()).toBe(6000);
  });

  it('ignores what an older build sends (no clock), an echo of no ping of ours, and round trips over 10 s; a step of our wall clock mid-ping spoils nothing', () => {
    const c = new LinkClock();
    c.hello(0, 5000);
    c.pinged({ at: 0, echoAt: 0, echoHeldMs: 0 }, 5000, 5000);
    expect(c.offsetMs()).toBeNull();
    // An echo of a ping we never sent (or one long gone).
    c.pinged({ at: 9000, echoAt: 1234, echoHeldMs: 0 }, 9000, 9000);
    expect(c.offsetMs()).toBeNull();
    // Over 10 s on the monotonic clock: not kept.
    const slow = c.ping(30_000, 30_000);
    c.pinged({ at: 45_000, echoAt: slow.at, echoHeldMs: 0 }, 45_000, 45_000);
    expect(c.offsetMs()).toBeNull();
    // Our wall clock steps back an hour between our ping and the answer; the monotonic
    // clock goes on (20 ms). The peer is 5 s ahead of the clock we have now: 1 h 5 s.
    const ours = c.ping(50_000, 60_000);
    c.pinged({ at: 50_010 + 5000, echoAt: ours.at, echoHeldMs: 0 }, 50_020 - 3_600_000, 60_020);
    expect(c.status()).toEqual({ offsetMs: 3_605_000, rttMs: 20, samples: 1 });
  });

  it("echoes the peer's last ping with how long it held it, on the monotonic clock, and owes the first an answer at once", () => {
    const c = new LinkClock();
    expect(c.ping(1000, 50)).toEqual({ at: 1000, echoAt: 0, echoHeldMs: 0 });
    expect(c.owesEcho()).toBe(false);
    c.pinged({ at: 0, echoAt: 0, echoHeldMs: 0 }, 1050, 100); // an older build's: nothing to answer
    expect(c.owesEcho()).toBe(false);
    c.pinged({ at: 7000, echoAt: 0, echoHeldMs: 0 }, 1100, 150);
    expect(c.owesEcho()).toBe(true);
    // The wall clock stepped on by an hour meanwhile: the hold is still 250 ms.
    expect(c.ping(3_601_350, 400)).toEqual({ at: 3_601_350, echoAt: 7000, echoHeldMs: 250 });
    expect(c.owesEcho()).toBe(false);
  });
});

describe("a globalmaster's measure of a peer region's clock", () => {
  const told = (g: ReturnType<typeof testGlobalmaster>) => g.sent.filter((x) => x.msg.type === 'remoteInterest').map((x) => x.msg as Extract<NodeMessage, { type: 'remoteInterest' }>);

  it('says hello first when it accepts, pings at once on the peer hello, answers its first ping at once, and tells the masters the offset with the interest, again when it moves', async () => {
    const g = testGlobalmaster();
    await g.open();
    const call = new FakeCall();
    g.accept(call);
    expect(call.frames().map((f) => f.type)).toEqual(['hello']);
    // The peer's clock is 6 s ahead (its hello's time as it comes).
    call.from({ ...(PEER_HELLO as Extract<LinkFrame, { type: 'hello' }>), now: Date.now() + 6000 });
    const ours = call.frames().find((f) => f.type === 'ping') as Extract<LinkFrame, { type: 'ping' }>;
    expect(ours).toMatchObject({ echoAt: 0 });
    call.from({ type: 'snapshot', version: 1, channels: [{ channel: 'app:c', since: 7 }] });
    const first = told(g).at(-1)!;
    expect(first.regions).toHaveLength(1);
    expect(Math.abs(first.regions[0]!.offsetMs! - 6000)).toBeLessThan(100);
    // The peer's first ping is answered at once, echoing it.
    const peerAt = Date.now() + 7000;
    call.from({ type: 'ping', at: peerAt, echoAt: 0, echoHeldMs: 0 });
    expect(call.frames().filter((f) => f.type === 'ping').at(-1)).toMatchObject({ echoAt: peerAt });
    // Its next ping echoes ours: a measure of 7 s, a second from what the masters were told.
    const n = told(g).length;
    call.from({ type: 'ping', at: Date.now() + 7000, echoAt: ours.at, echoHeldMs: 0 });
    expect(told(g)).toHaveLength(n + 1);
    expect(told(g).at(-1)).toMatchObject({ channel: 'app:c', regions: [{ region: 'r0', since: 7 }] });
    expect(Math.abs(told(g).at(-1)!.regions[0]!.offsetMs! - 7000)).toBeLessThan(100);
    expect(g.gm.status().links[0]!.clock).toMatchObject({ samples: 1 });
    // Within 250 ms of it: not told again.
    call.from({ type: 'ping', at: Date.now() + 7100, echoAt: ours.at, echoHeldMs: 0 });
    expect(told(g)).toHaveLength(n + 1);
    await g.gm.stop();
  });
});
