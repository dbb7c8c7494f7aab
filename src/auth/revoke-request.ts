/**
 * `POST /keys/{keyName}/revokeTokens` (README "Token revocation"): the request checked
 * and turned into revocations (revocations.ts), and the answer Ably gives, a BatchResult
 * with one result per target. Pure.
 *
 * Body: `{targets: ["clientId:ID" | "revocationKey:KEY" | "channel:NAME", …],
 * issuedBefore?: ms, allowReauthMargin?: boolean}`, at most 100 targets. The request must
 * be made with the key it names (HTTP Basic), a key with `revocableTokens`. `issuedBefore`
 * defaults to now, and may be neither in the future nor more than an hour past;
 * `allowReauthMargin` puts enforcement 30 s later, the tokens' holders asked to renew first.
 */
import { AblyError, type ErrorInfo } from '../errors.js';
import type { ApiKey, Credentials } from './keys.js';
import { MAX_PER_KEY, MAX_REVOCABLE_TTL_MS, MAX_TARGET_LENGTH, MAX_TARGETS, REAUTH_MARGIN_MS, TARGET_TYPES, type Revocation } from './revocations.js';

/** An issuedBefore this far ahead of the server's time (ms) is taken as now, for a client's clock a little ahead. */
const AHEAD_TOLERANCE_MS = 1000;

export type RevocationResult = { target: string; issuedBefore: number; appliesAt: number } | { target: string; error: ErrorInfo };

export interface RevokeOutcome {
  revocations: Revocation[];
  result: { successCount: number; failureCount: number; results: RevocationResult[] };
}

/**
 * Checks a revokeTokens request for key `keyName`, made with `creds`, at `now` (the
 * region's time); `held`: the revocations of that key held already (at most MAX_PER_KEY,
 * each kept an hour: beyond, 42910).
 */
export function revokeRequest(
  body: unknown,
  o: { keyName: string; creds: Credentials; key: ApiKey | undefined; now: number; held: number; region: string },
): RevokeOutcome {
  if (o.creds.via !== 'basic') throw AblyError.of('revokeWithToken', 'tokens cannot be revoked by a client authenticated with a token: use the key that issued them');
  if (o.creds.keyName !== o.keyName || !o.key) throw AblyError.of('invalidCredentials', `revokeTokens must be authenticated with the key it names (${o.keyName})`);
  if (!o.key.revocableTokens) throw AblyError.of('forbidden', `key ${o.keyName} does not have revocable tokens (revocableTokens in the topology's key)`);
  const b = body as { targets?: unknown; issuedBefore?: unknown; allowReauthMargin?: unknown };
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw AblyError.of('invalidRequestBody', 'revokeTokens body must be an object with targets');
  if (!Array.isArray(b.targets) || b.targets.length === 0) throw AblyError.of('invalidParameterValue', 'targets must be a non-empty array of "type:value" strings');
  if (b.targets.length > MAX_TARGETS) throw AblyError.of('invalidParameterValue', `at most ${MAX_TARGETS} targets per request`);
  if (o.held + b.targets.length > MAX_PER_KEY) {
    throw AblyError.of('rateLimited', `key ${o.keyName} has ${o.held} revocations in force (at most ${MAX_PER_KEY}; each is kept an hour after its issuedBefore)`);
  }
  let issuedBefore = o.now;
  if (b.issuedBefore !== undefined && b.issuedBefore !== null) {
    const t = b.issuedBefore;
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw AblyError.of('invalidParameterValue', 'issuedBefore must be a time in ms since the epoch');
    if (t > o.now + AHEAD_TOLERANCE_MS) throw AblyError.of('invalidParameterValue', 'issuedBefore may not be in the future');
    if (t < o.now - MAX_REVOCABLE_TTL_MS) throw AblyError.of('invalidParameterValue', 'issuedBefore may not be more than an hour ago');
    issuedBefore = Math.min(t, o.now);
  }
  if (b.allowReauthMargin !== undefined && typeof b.allowReauthMargin !== 'boolean') throw AblyError.of('invalidParameterValue', 'allowReauthMargin must be true or false');
  const appliesAt = b.allowReauthMargin ? o.now + REAUTH_MARGIN_MS : o.now;
  const revocations: Revocation[] = [];
  const results: RevocationResult[] = b.targets.map((raw): RevocationResult => {
    const target = typeof raw === 'string' ? raw : JSON.stringify(raw);
    const i = typeof raw === 'string' ? raw.indexOf(':') : -1;
    const type = i > 0 ? raw.slice(0, i) : '';
    if (!(TARGET_TYPES as readonly string[]).includes(type) || i === raw.length - 1 || raw.length > MAX_TARGET_LENGTH) {
      return {
        target: target.slice(0, MAX_TARGET_LENGTH),
        error: AblyError.of('invalidParameterValue', `a target is "TYPE:VALUE", TYPE one of ${TARGET_TYPES.join(', ')}, at most ${MAX_TARGET_LENGTH} characters`).toInfo(),
      };
    }
    revocations.push({ origin: o.region, keyName: o.keyName, target, issuedBefore, appliesAt, originIssuedBefore: issuedBefore, times: {}, guesses: {} });
    return { target, issuedBefore, appliesAt };
  });
  const failureCount = results.length - revocations.length;
  return { revocations, result: { successCount: revocations.length, failureCount, results } };
}
