/**
 * Token revocation (src/auth/revocations.ts, src/auth/revoke-request.ts): what a store
 * holds and matches, that stores merging in any order agree, and the request's checks.
 */
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/auth/keys.js';
import { revokeRequest } from '../../../src/auth/revoke-request.js';
import { onOurClock, withGuesses } from '../../../src/bridge/revocation-times.js';
import { KEEP_AFTER_MS, REAUTH_MARGIN_MS, RevocationStore, type RevocableToken, type Revocation } from '../../../src/auth/revocations.js';
import { TokenAuthority } from '../../../src/auth/tokens.js';
import { rng } from '../../../src/rng.js';
import { codeOf } from '../../helpers/errors.js';
import { signJwt } from '../../helpers/jwt.js';

const T0 = 1_800_000_000_000;
const rev = (target: string, issuedBefore: number, appliesAt = issuedBefore, keyName = 'app.rev'): Revocation => ({ origin: 'r1', keyName, target, issuedBefore, appliesAt, originIssuedBefore: issuedBefore, times: {}, guesses: {} });
/** `r` as a region whose clock is `off` ms behind its origin's holds it. */
const moved = (r: Revocation, off: number): Revocation => ({ ...r, issuedBefore: r.issuedBefore - off, appliesAt: r.appliesAt - off });
const token = (o: Partial<RevocableToken> = {}): RevocableToken => ({ keyName: 'app.rev', issuedAt: T0 - 1000, clientId: 'bob', revocationKey: null, resources: ['*'], ...o });

describe('a store of token revocations', () => {
  it('matches tokens of its key issued before it, by clientId, revocation key or a resource named exactly', () => {
    let now = T0;
    const s = new RevocationStore(() => now);
    expect(s.revokedAt(token())).toBeNull();
    s.merge([rev('clientId:bob', T0), rev('revocationKey:group-1', T0 + 5), rev('channel:rooms:*', T0 + 7, T0 + 30_000)]);
    expect(s.revokedAt(token())).toBe(T0);
    expect(s.revokedAt(token({ issuedAt: T0 }))).toBeNull(); // issued at issuedBefore: not before it
    expect(s.revokedAt(token({ clientId: 'alice' }))).toBeNull();
    expect(s.revokedAt(token({ keyName: 'app.other' }))).toBeNull();
    expect(s.revokedAt(token({ clientId: null, revocationKey: 'group-1' }))).toBe(T0 + 5);
    expect(s.revokedAt(token({ clientId: null, resources: ['rooms:*'] }))).toBe(T0 + 30_000);
    expect(s.revokedAt(token({ clientId: null, resources: ['rooms:1'] }))).toBeNull(); // not the name in the capability
    // The earliest of several that match.
    expect(s.revokedAt(token({ revocationKey: 'group-1', resources: ['rooms:*'] }))).toBe(T0);
    // Kept for an hour and a minute after issuedBefore, then let go: every token it could match has expired.
    now = T0 + KEEP_AFTER_MS - 1;
    expect(s.sweep()).toBe(0);
    now = T0 + KEEP_AFTER_MS + 6;
    expect(s.sweep()).toBe(2);
    expect(s.all()).toEqual([rev('channel:rooms:*', T0 + 7, T0 + 30_000)]);
    expect(s.merge([rev('clientId:bob', T0)])).toEqual([]); // past keeping: not taken again
  });

  it('keeps, per key and target, the revocations no other covers: a later one that applies later does not undo an earlier immediate one', () => {
    const s = new RevocationStore(() => T0);
    expect(s.merge([rev('clientId:bob', T0 - 100)])).toHaveLength(1);
    // Revokes more tokens, but only 30 s on: both stand.
    expect(s.merge([rev('clientId:bob', T0, T0 + REAUTH_MARGIN_MS)])).toHaveLength(1);
    expect(s.size).toBe(2);
    expect(s.revokedAt(token({ issuedAt: T0 - 200 }))).toBe(T0 - 100);
    expect(s.revokedAt(token({ issuedAt: T0 - 50 }))).toBe(T0 + REAUTH_MARGIN_MS);
    // Covered (fewer tokens, no sooner): nothing changes, nothing is told.
    const told: Revocation[][] = [];
    s.onChange((added) => told.push(added));
    expect(s.merge([rev('clientId:bob', T0 - 200, T0 - 100), rev('clientId:bob', T0 - 100)])).toEqual([]);
    expect(told).toEqual([]);
    // One that covers the later (more tokens, sooner) replaces it; the earlier stands.
    expect(s.merge([rev('clientId:bob', T0 + 10)])).toHaveLength(1);
    expect(s.all()).toEqual([rev('clientId:bob', T0 - 100), rev('clientId:bob', T0 + 10)]);
    expect(told).toHaveLength(1);
  });

  it('agree, and have one digest, whatever order and however often they merge the same revocations', () => {
    const random = rng(43);
    const pool = Array.from({ length: 60 }, () =>
      rev(`${['clientId', 'revocationKey', 'channel'][Math.floor(random() * 3)]}:${Math.floor(random() * 4)}`, T0 - Math.floor(random() * 50), T0 + Math.floor(random() * 50)),
    );
    const stores = Array.from({ length: 5 }, () => new RevocationStore(() => T0));
    for (const s of stores) {
      const order = [...pool, ...pool.slice(0, 20)].sort(() => random() - 0.5);
      // In pieces, as messages and pushes would bring them.
      for (let i = 0; i < order.length; i += 7) s.merge(order.slice(i, i + 7));
    }
    const sorted = (s: RevocationStore) => JSON.stringify(s.all().sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
    for (const s of stores) {
      expect(sorted(s)).toBe(sorted(stores[0]!));
      expect(s.digest()).toBe(stores[0]!.digest());
    }
    expect(stores[0]!.digest()).not.toBe(0);
    expect(new RevocationStore(() => T0).digest()).toBe(0);
    // A store that missed one of them has another digest.
    const fewer = new RevocationStore(() => T0);
    fewer.merge(stores[0]!.all().slice(1));
    expect(fewer.size).toBe(stores[0]!.size - 1);
    expect(fewer.digest()).not.toBe(stores[0]!.digest());
  });

  it('pass over ill-formed revocations (a peer of another build, bad bytes): nothing kept for ever or waited for past a timer', () => {
    const s = new RevocationStore(() => T0);
    const bad: Revocation[] = [
      rev('nothing:x', T0),
      rev('clientId:', T0),
      { ...rev('clientId:x', T0), issuedBefore: 1.5 },
      rev('clientId:x', T0 + 6 * 60_000), // issuedBefore far ahead: kept for ever
      rev('clientId:x', T0, T0 - 1), // applies before it was made
      rev('clientId:x', T0, T0 + 40 * 24 * 3_600_000), // past setTimeout's range
      rev(`channel:${'c'.repeat(3000)}`, T0),
    ];
    expect(s.merge(bad)).toEqual([]);
    expect(s.size).toBe(0);
    // A peer region's clock a few minutes ahead is taken.
    expect(s.merge([rev('clientId:x', T0 + 60_000, T0 + 90_000)])).toHaveLength(1);
  });

  it("give a new token of a key an issue time no earlier than the revocations that could match it, and count a key's", () => {
    const s = new RevocationStore(() => T0);
    s.merge([rev('clientId:bob', T0 + 3000), rev('channel:rooms:*', T0 + 5000), rev('clientId:bob', T0 - 10, T0 - 10, 'app.other')]);
    const like = { keyName: 'app.rev', clientId: 'bob', revocationKey: null, resources: ['news'] };
    expect(s.issueFloor(like)).toBe(T0 + 3000);
    expect(s.issueFloor({ ...like, resources: ['rooms:*'] })).toBe(T0 + 5000);
    expect(s.issueFloor({ ...like, clientId: 'alice' })).toBe(0);
    expect(s.revokedAt({ ...like, issuedAt: s.issueFloor(like) })).toBeNull();
    expect(s.heldFor('app.rev')).toBe(2);
    expect(s.heldFor('app.other')).toBe(1);
  });
});

describe("another region's revocations, as its link brings them", () => {
  it("are moved onto this region's time by the offset measured between the two, noting the sender's; this region's own, and those it moved before, come back on those times", () => {
    // Taken in r1 from r2, whose clock is 6 s ahead of r1's: r2's T0 + 6 s is r1's T0.
    const theirs = { ...rev('clientId:bob', T0 + 6000, T0 + 36_000), origin: 'r2' };
    // Made in r3, held by r2 on its time (r3's T0 was r2's T0 + 1 s).
    const passedOn = moved({ ...rev('clientId:eve', T0), origin: 'r3' }, -1000);
    // Made in r1, held by r2 on its time (so 6 s later), coming home after r1 restarted whole.
    const home = moved(rev('clientId:dave', T0 - 500, T0 + 29_500), -6000);
    expect(onOurClock([theirs, passedOn, home], 'r2', 'r1', 6000.4)).toEqual([
      { ...theirs, issuedBefore: T0, appliesAt: T0 + 30_000 },
      { ...passedOn, issuedBefore: T0 - 5000, appliesAt: T0 - 5000, times: { r2: T0 + 1000 } },
      { ...rev('clientId:dave', T0 - 500, T0 + 29_500), times: { r2: T0 + 5500 } }, // exactly as made, whatever the offset
    ]);
    expect(onOurClock([theirs], 'r2', 'r1', -2000)).toEqual([{ ...theirs, issuedBefore: T0 + 8000, appliesAt: T0 + 38_000 }]);
    expect(onOurClock([home], 'r2', 'r1', 123)).toEqual([{ ...rev('clientId:dave', T0 - 500, T0 + 29_500), times: { r2: T0 + 5500 } }]);
    // r3's, which r1 moved and sent on to r2, back from r2: on r1's time as r1 moved it, not moved again.
    const back = { ...moved({ ...rev('clientId:eve', T0), origin: 'r3' }, -1000), times: { r1: T0 - 4000 } };
    expect(onOurClock([back], 'r2', 'r1', 6000)).toEqual([{ ...back, issuedBefore: T0 - 4000, appliesAt: T0 - 4000, times: { r2: T0 + 1000 } }]);
  });

  it("compare a token on the clock of the region that issued it, as well as it is known", () => {
    // Held in r1: made in r2 (at r2's T0 + 6 s, r1's T0), which r3 took at its T0 - 2 s.
    const s = new RevocationStore(() => T0);
    s.merge([{ ...rev('clientId:bob', T0), origin: 'r2', originIssuedBefore: T0 + 6000, times: { r3: T0 - 2000 } }]);
    const bob = (issuedAt: number, region?: string) => token({ issuedAt, ...(region ? { region } : {}) });
    expect(s.revokedAt(bob(T0 + 5999, 'r2'))).toBe(T0); // issued in r2 just before it, by r2's clock
    expect(s.revokedAt(bob(T0 + 6000, 'r2'))).toBeNull();
    expect(s.revokedAt(bob(T0 - 1, 'r1'))).toBe(T0); // here, by ours
    expect(s.revokedAt(bob(T0, 'r1'))).toBeNull();
    expect(s.revokedAt(bob(T0 - 2001, 'r3'))).toBe(T0); // r3's, as r3 moved it
    expect(s.revokedAt(bob(T0 - 2000, 'r3'))).toBeNull();
    expect(s.revokedAt(bob(T0 - 1, 'r9'))).toBe(T0); // a region not heard of, and a token naming none: ours
    expect(s.revokedAt(bob(T0 - 1))).toBe(T0);
    expect(s.revokedAt(bob(T0))).toBeNull();
  });

  it('are known for what they are wherever they come from: copies moved by two offsets, or brought by two ways, join into one with the earlier times, in any order', () => {
    const made = { ...rev('clientId:bob', T0, T0 + 30_000), origin: 'r2' };
    const a = new RevocationStore(() => T0);
    const b = new RevocationStore(() => T0);
    expect(a.merge([moved(made, 6000)])).toHaveLength(1);
    expect(a.merge([moved(made, 5880)])).toEqual([]); // the same, moved later here: held once, as it was
    // Moved earlier (another globalmaster's measure): the earlier is taken, and told.
    expect(a.merge([moved(made, 6120)])).toEqual([moved(made, 6120)]);
    expect(b.merge([moved(made, 6120), moved(made, 6000), moved(made, 5880)])).toEqual([moved(made, 6120)]);
    expect(a.all()).toEqual(b.all());
    expect(a.digest()).toBe(b.digest());
    // What a copy brings of other regions' times joins the same way, and the digest tells it.
    expect(a.merge([{ ...moved(made, 6000), times: { r3: T0 - 100, constructor: T0 - 7 } }])).toEqual([{ ...moved(made, 6120), times: { r3: T0 - 100, constructor: T0 - 7 } }]);
    expect(a.merge([{ ...moved(made, 6000), times: { r3: T0 - 50 } }])).toEqual([]);
    expect(a.digest()).not.toBe(b.digest());
    expect(b.merge([{ ...moved(made, 6000), times: { r3: T0 - 120, constructor: T0 - 7 } }])).toHaveLength(1);
    expect(a.merge(b.all())).toHaveLength(1); // r3's earlier time
    expect(b.merge(a.all())).toEqual([]);
    expect(a.all()).toEqual(b.all());
    expect(a.digest()).toBe(b.digest());
    // A region named as an Object property is a region like another.
    expect(a.revokedAt(token({ issuedAt: T0 - 8, region: 'constructor' }))).toBe(T0 + 30_000 - 6120);
    expect(a.revokedAt(token({ issuedAt: T0 - 7, region: 'constructor' }))).toBeNull();
    // A later one of the same region covers it, whatever the copies' offsets; one made by
    // another region does not (their times are not comparable).
    const later = { ...made, originIssuedBefore: T0 + 10, issuedBefore: T0 - 5990, appliesAt: T0 - 5990 }; // at once, 10 ms on
    expect(a.merge([later])).toEqual([later]);
    expect(a.all()).toEqual([later]);
    expect(a.merge([moved(made, 6000)])).toEqual([]);
    const elsewhere = { ...made, origin: 'r3', originIssuedBefore: T0 + 50_000 };
    expect(a.merge([elsewhere])).toEqual([elsewhere]);
    expect(a.size).toBe(2);
    expect(a.digest()).not.toBe(b.digest());
  });

  it("pass over times on other regions' clocks further from issuedBefore than clocks may be apart, and regions' past 64; a revocation whose origin's time is so, or with more than 64, is not taken", () => {
    const s = new RevocationStore(() => T0);
    const made = { ...rev('clientId:bob', T0), origin: 'r2', originIssuedBefore: T0 + 6000 };
    const regions = (n: number, at = T0) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i + 3}`, at]));
    expect(s.merge([{ ...made, originIssuedBefore: T0 + 5 * 60_000 + 1 }])).toEqual([]);
    expect(s.merge([{ ...made, times: regions(65) }])).toEqual([]);
    expect(s.merge([{ ...made, guesses: JSON.parse('{"__proto__": 1}') }])).toEqual([]);
    // Taken without the time that is too far off.
    expect(s.merge([{ ...made, times: { r3: Number.MAX_SAFE_INTEGER, r4: T0 - 1000 }, guesses: { r5: T0 - 6 * 60_000 } }])).toEqual([{ ...made, times: { r4: T0 - 1000 } }]);
    expect(s.merge([{ ...made, times: regions(64) }])).toHaveLength(1);
    // Full: another region's time is not taken in; an earlier one of a region named is.
    expect(s.merge([{ ...made, times: { r99: T0 - 1 } }])).toEqual([]);
    expect(s.merge([{ ...made, times: { r3: T0 - 1 } }])).toHaveLength(1);
    expect(Object.keys(s.all()[0]!.times)).toHaveLength(64);
  });

  it("carry, as they are sent on, this region's guess of their time on each region measured that has neither said nor been guessed", () => {
    const made = { ...rev('clientId:bob', T0), origin: 'r2', originIssuedBefore: T0 + 6000, times: { r4: T0 + 1000 } };
    const offsets = new Map([
      ['r2', 6000], // the origin: it has its own
      ['r3', 9000],
      ['r4', 1200], // said its own
      ['r5', -4000],
      ['r6', 6 * 60_000], // further than clocks may be apart
    ]);
    const [out] = withGuesses([made], offsets, 'r1');
    expect(out).toEqual({ ...made, guesses: { r3: T0 + 9000, r5: T0 - 4000 } });
    // Guessed already: left as it was (the same entry), as is every entry where nothing was measured.
    const again = withGuesses([out!], new Map([['r3', 9500]]), 'r1');
    expect(again[0]).toBe(out);
    expect(withGuesses([made], new Map(), 'r1')[0]).toBe(made);
    // At most 64 guesses, as a store keeps.
    const full = { ...made, guesses: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`g${i}`, T0])) };
    expect(withGuesses([full], offsets, 'r1')[0]).toBe(full);
  });

  it("judge a token by a region's own time before another's guess of it, and by a guess before this region's time", () => {
    // Held in r1: made in r2; r2 guessed r3's time (r3 cut off) and r4's, and r4 said its own.
    const s = new RevocationStore(() => T0);
    s.merge([{ ...rev('clientId:bob', T0), origin: 'r2', originIssuedBefore: T0 + 6000, times: { r4: T0 + 1000 }, guesses: { r3: T0 + 9000, r4: T0 + 1500 } }]);
    const bob = (issuedAt: number, region: string) => token({ issuedAt, region });
    expect(s.revokedAt(bob(T0 + 8999, 'r3'))).toBe(T0);
    expect(s.revokedAt(bob(T0 + 9000, 'r3'))).toBeNull();
    expect(s.revokedAt(bob(T0 + 999, 'r4'))).toBe(T0);
    expect(s.revokedAt(bob(T0 + 1000, 'r4'))).toBeNull(); // r4's own, not r2's guess
    // A region takes no guess of itself for its own time: r3, taking it from r2, moves it by its own offset.
    // (r1's clock 9.1 s behind r3's by r3's measure; r2 guessed 9 s.)
    const atR3 = onOurClock(s.all(), 'r1', 'r3', -9100);
    expect(atR3[0]).toMatchObject({ issuedBefore: T0 + 9100, times: { r1: T0, r4: T0 + 1000 }, guesses: { r4: T0 + 1500 } });
    expect(atR3[0]!.guesses).not.toHaveProperty('r3');
  });
});

describe('a revokeTokens request', () => {
  const keys = new KeyStore([
    {
      id: 'app',
      keys: [
        { id: 'rev', secret: 'revsecret1', capability: { '*': ['*'] }, revocableTokens: true },
        { id: 'root', secret: 'rootsecret', capability: { '*': ['*'] }, revocableTokens: false },
      ],
    },
  ] as never);
  const key = keys.get('app.rev')!;
  const basic = keys.keyCredentials(key, null);
  const ask = (body: unknown, o: Partial<Parameters<typeof revokeRequest>[1]> = {}) => revokeRequest(body, { keyName: 'app.rev', creds: basic, key, now: T0, held: 0, region: 'r1', ...o });
  it('revokes each target now, or 30 s on with allowReauthMargin, and names a target it cannot read', () => {
    const out = ask({ targets: ['clientId:bob', 'revocationKey:g', 'bogus:1', 'clientId:', `channel:${'c'.repeat(3000)}`] });
    expect(out.revocations).toEqual([rev('clientId:bob', T0), rev('revocationKey:g', T0)]);
    expect(out.result.successCount).toBe(2);
    expect(out.result.failureCount).toBe(3);
    expect(out.result.results[0]).toEqual({ target: 'clientId:bob', issuedBefore: T0, appliesAt: T0 });
    expect(out.result.results[2]).toMatchObject({ target: 'bogus:1', error: { code: 40003, statusCode: 400 } });
    expect(ask({ targets: ['channel:a'], issuedBefore: T0 - 60_000, allowReauthMargin: true }).revocations).toEqual([rev('channel:a', T0 - 60_000, T0 + REAUTH_MARGIN_MS)]);
  });

  it('refuses a request it cannot carry out, with an Ably error', () => {
    const token = new TokenAuthority(keys).verify(new TokenAuthority(keys).issue(key, { clientId: 'bob' }, T0).token, T0);
    expect(codeOf(() => ask({ targets: ['clientId:bob'] }, { creds: token }))).toBe(40162);
    expect(codeOf(() => ask({ targets: ['clientId:bob'] }, { keyName: 'app.root', key: keys.get('app.root') }))).toBe(40101); // made with another key
    const root = keys.get('app.root')!;
    expect(codeOf(() => ask({ targets: ['clientId:bob'] }, { keyName: 'app.root', key: root, creds: keys.keyCredentials(root, null) }))).toBe(40300);
    expect(codeOf(() => ask('targets'))).toBe(40001);
    expect(codeOf(() => ask({ targets: [] }))).toBe(40003);
    expect(codeOf(() => ask({ targets: Array.from({ length: 101 }, (_, i) => `clientId:${i}`) }))).toBe(40003);
    expect(codeOf(() => ask({ targets: ['clientId:bob'], issuedBefore: T0 + 5000 }))).toBe(40003);
    expect(codeOf(() => ask({ targets: ['clientId:bob'], issuedBefore: T0 - 3_700_000 }))).toBe(40003);
    expect(codeOf(() => ask({ targets: ['clientId:bob'], allowReauthMargin: 'yes' }))).toBe(40003);
    // A key's revocations in force are capped (each is kept an hour).
    expect(codeOf(() => ask({ targets: ['clientId:a', 'clientId:b'] }, { held: 9_999 }))).toBe(42910);
    expect(ask({ targets: ['clientId:a'] }, { held: 9_999 }).revocations).toHaveLength(1);
  });

  it("issues a revocable key's tokens for an hour at most, marked revocable; the key's JWTs must say when they were issued", () => {
    const tokens = new TokenAuthority(keys);
    expect(codeOf(() => tokens.issue(key, { ttl: 3_600_001 }, T0))).toBe(40003);
    const t = tokens.verify(tokens.issue(key, { clientId: 'bob', ttl: 3_600_000 }, T0).token, T0);
    expect(t.revocable).toEqual({ keyName: 'app.rev', issuedAt: T0, clientId: 'bob', revocationKey: null, resources: ['*'] });
    expect(tokens.verify(tokens.issue(keys.get('app.root')!, {}, T0).token, T0).revocable).toBeUndefined();
    // With revocations held, a token is issued no earlier than those that could match it.
    const store = new RevocationStore(() => T0);
    store.merge([rev('clientId:bob', T0 + 2000)]);
    const after = new TokenAuthority(keys, { revocations: store, region: 'r1' });
    expect(after.issue(key, { clientId: 'bob' }, T0).issued).toBe(T0 + 2000);
    expect(after.issue(key, { clientId: 'carol' }, T0).issued).toBe(T0);
    // Issued knowing its region, a token names it.
    expect(after.verify(after.issue(key, { clientId: 'carol' }, T0).token, T0).revocable).toMatchObject({ clientId: 'carol', region: 'r1' });
    // A JWT's iat is whole seconds: a revocation applies to it from the second after its
    // issuedBefore, so that one signed anew then is not "before" it.
    const jwt = (claims: Record<string, unknown>) => signJwt(claims, 'app.rev', 'revsecret1');
    const sameSecond = Math.floor((T0 + 400) / 1000);
    const j = tokens.verify(jwt({ iat: sameSecond, exp: sameSecond + 600, 'x-ably-clientId': 'bob', 'x-ably-revocation-key': 'g1' }), T0 + 500);
    expect(j.revocable).toMatchObject({ clientId: 'bob', revocationKey: 'g1', jwt: true, issuedAt: sameSecond * 1000 });
    const atRevocation = new RevocationStore(() => T0);
    atRevocation.merge([rev('revocationKey:g1', T0 + 400)]);
    const nextSecond = (sameSecond + 1) * 1000;
    expect(atRevocation.revokedAt(j.revocable!)).toBe(nextSecond);
    expect(atRevocation.revokedAt({ ...j.revocable!, issuedAt: nextSecond })).toBeNull();
    // An Ably token's issue time is to the ms: it applies when it says.
    expect(atRevocation.revokedAt({ ...j.revocable!, jwt: false })).toBe(T0 + 400);
    expect(codeOf(() => tokens.verify(jwt({ iat: undefined, exp: sameSecond + 600 }), T0))).toBe(40144);
    expect(codeOf(() => tokens.verify(jwt({ iat: sameSecond, exp: sameSecond + 3601 }), T0))).toBe(40144);
  });
});
