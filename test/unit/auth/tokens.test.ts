/**
 * Signed TokenRequests (src/auth/tokens.ts, src/auth/nonces.ts): a nonce is used once for
 * as long as its request could be taken, also one stamped ahead of the server's clock.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/auth/keys.js';
import { NonceKeeper, UsedNonces } from '../../../src/auth/nonces.js';
import { Ring } from '../../../src/cluster/ring.js';
import { silentLogger } from '../../../src/log.js';
import type { NodeMessage, ReplyBody } from '../../../src/transport/messages.js';
import { TOKEN_REQUEST_WINDOW_MS, TokenAuthority } from '../../../src/auth/tokens.js';
import { codeOf } from '../../helpers/errors.js';

const SECRET = 'rootsecret';
const keys = new KeyStore([{ id: 'app', keys: [{ id: 'root', secret: SECRET, capability: { '*': ['*'] } }] }] as never);

function signed(timestamp: number, nonce: string) {
  const r = { keyName: 'app.root', timestamp, nonce, capability: '', clientId: '' };
  const mac = createHmac('sha256', SECRET).update(`${r.keyName}\n\n${r.capability}\n${r.clientId}\n${r.timestamp}\n${r.nonce}\n`).digest('base64');
  return { ...r, mac };
}

describe('signed TokenRequests', () => {
  it("keep a nonce used until the request's timestamp plus the window: one stamped a minute ahead, until three minutes after it came", () => {
    const auth = new TokenAuthority(keys);
    const used = new UsedNonces();
    const t0 = 1_700_000_000_000;
    const req = signed(t0 + 60_000, 'nonce-ahead-0123456789');
    const take = (now: number) => {
      const s = auth.checkSignedRequest(req, 'app.root', now);
      return used.use(s.nonce.key, s.nonce.until, now);
    };
    const s = auth.checkSignedRequest(req, 'app.root', t0);
    expect(s.nonce).toEqual({ key: 'app.root:nonce-ahead-0123456789', until: t0 + 60_000 + TOKEN_REQUEST_WINDOW_MS });
    expect(take(t0)).toBe(true);
    expect(take(t0 + 1000)).toBe(false);
    // Two and a half minutes on, with the used nonces swept meanwhile: its timestamp is 1.5
    // min ago, so it could still be taken, and it is still refused as a replay. (Kept
    // two minutes from when it came, before the forty-second session, it was taken again.)
    expect(used.use('app.root:other-nonce-0123456789', t0 + 150_000 + TOKEN_REQUEST_WINDOW_MS, t0 + 150_000)).toBe(true);
    expect(take(t0 + 170_000)).toBe(false);
    // Past its window, refused for its timestamp; and the nonce is swept out once past its time.
    expect(codeOf(() => auth.checkSignedRequest(req, 'app.root', t0 + 181_000))).toBe(40104);
    expect(used.use('app.root:third-nonce-0123456789', t0 + 400_000, t0 + 190_000)).toBe(true);
    expect(used.size).toBe(2);
    expect(used.used('app.root:third-nonce-0123456789', t0 + 399_999)).toBe(true);
    expect(used.used('app.root:third-nonce-0123456789', t0 + 400_000)).toBe(false);
  });

  it('refuse a wrong mac, another key than the URL names and a short nonce before any nonce is taken', () => {
    const auth = new TokenAuthority(keys);
    const t0 = 1_700_000_000_000;
    expect(codeOf(() => auth.checkSignedRequest({ ...signed(t0, 'nonce-0123456789abc'), mac: 'bm9wZQ==' }, 'app.root', t0))).toBe(40101);
    expect(codeOf(() => auth.checkSignedRequest(signed(t0, 'nonce-0123456789abc'), 'app.other', t0))).toBe(40005);
    expect(codeOf(() => auth.checkSignedRequest(signed(t0, 'short'), 'app.root', t0))).toBe(40001);
  });
});

describe("a node's side of the region's nonces (NonceKeeper)", () => {
  /** n1 of a ring of two, asking n2 through `answer` (a rejection: no answer in time). */
  function keeper(answer: (msg: NodeMessage) => Promise<ReplyBody>) {
    let now = 1_000_000;
    const asked: NodeMessage[] = [];
    const k = new NonceKeeper({
      self: 'n1',
      ring: () => new Ring(['n1', 'n2']),
      rpc: { request: (_to: string, msg: NodeMessage) => (asked.push(msg), answer(msg)) } as never,
      now: () => now,
      log: silentLogger(),
    });
    return { k, asked, tick: (ms: number) => (now += ms) };
  }
  /** A nonce whose keeper in a ring of n1 and n2 is n2. */
  const theirs = Array.from({ length: 100 }, (_, i) => `app.root:nonce-${i}-0123456789`).find((key) => new Ring(['n1', 'n2']).owner(`nonce:${key}`) === 'n2')!;

  it("asks the keeper, with the time left for it to read on its own clock, and takes its word", async () => {
    const { k, asked } = keeper(async () => ({ kind: 'ok' }));
    expect(await k.use(theirs, 1_000_000 + 90_000)).toBe(true);
    expect(asked).toEqual([{ type: 'nonce', key: theirs, forMs: 90_000 }]);
    const refused = keeper(async () => ({ kind: 'error', error: { code: 40105, statusCode: 401, message: 'nonce value replayed' } }));
    expect(await refused.k.use(theirs, 1_000_000 + 90_000)).toBe(false);
  });

  it('keeps a nonce itself when the keeper does not answer, and refuses a replay to it after the keeper answers again', async () => {
    let up = false;
    const { k, asked, tick } = keeper(async () => {
      if (!up) throw new Error('timed out');
      return { kind: 'ok' };
    });
    expect(await k.use(theirs, 1_000_000 + 90_000)).toBe(true);
    up = true;
    tick(1000);
    expect(await k.use(theirs, 1_000_000 + 90_000)).toBe(false);
    expect(asked).toHaveLength(1); // looked here first
  });

  it('is kept by two nodes: a replay is refused after the first keeper restarts, and after a node joins the ring before them', async () => {
    // A region of real NonceKeepers whose requests go to each other's answer; a node that is
    // down (restarting) does not answer.
    let members = ['n1', 'n2', 'n3'];
    const down = new Set<string>();
    const nodes = new Map<string, NonceKeeper>();
    const start = (self: string) =>
      nodes.set(
        self,
        new NonceKeeper({
          self,
          ring: () => new Ring(members),
          rpc: {
            request: async (to: string, msg: NodeMessage) => {
              if (down.has(to) || msg.type !== 'nonce') throw new Error('timed out');
              return nodes.get(to)!.answer({ ...msg, rid: 1 });
            },
          } as never,
          now: () => 1_000_000,
          log: silentLogger(),
        }),
      );
    for (const n of ['n1', 'n2', 'n3', 'n4']) start(n);
    const use = (at: string, key: string) => nodes.get(at)!.use(key, 1_000_000 + 90_000);
    const keys = Array.from({ length: 400 }, (_, i) => `app.root:nonce-${i}-0123456789`);
    const keepers = (ring: string[], key: string) => new Ring(ring).preference(`nonce:${key}`, 2);

    // Taken at n1, kept first by n2 (n3 keeps it second); n2 restarts and forgets; replayed to n3.
    const restarted = keys.find((k) => keepers(members, k)[0] === 'n2' && keepers(members, k)[1] === 'n3')!;
    expect(await use('n1', restarted)).toBe(true);
    down.add('n2');
    start('n2');
    expect(await use('n3', restarted)).toBe(false);
    down.delete('n2');
    expect(await use('n2', restarted)).toBe(false);

    // Taken at n1, kept by n2 and n3; n4 joins first in the ring for it, and is asked a replay to it.
    const joined = keys.find((k) => !keepers(members, k).includes('n1') && keepers([...members, 'n4'], k)[0] === 'n4')!;
    expect(joined).toBeDefined();
    expect(await use('n1', joined)).toBe(true);
    members = [...members, 'n4'];
    expect(await use('n4', joined)).toBe(false);
  });

  it("answers another node's question on its own clock: used for forMs from when it came", () => {
    const { k, tick } = keeper(async () => ({ kind: 'ok' }));
    const ask = { type: 'nonce', rid: 1, key: 'app.root:asked-0123456789', forMs: 5000 } as const;
    expect(k.answer(ask)).toEqual({ kind: 'ok' });
    tick(4999);
    expect(k.answer(ask)).toMatchObject({ kind: 'error', error: { code: 40105 } });
    tick(1);
    expect(k.answer(ask)).toEqual({ kind: 'ok' });
  });
});

