/**
 * Token auth: Ably tokens issued by `POST /keys/{keyName}/requestToken`, and Ably JWTs
 * signed by the customer with a key secret.
 *
 * Our Ably tokens are self-contained, so that any node of any region can check one
 * without a lookup: `<base64url(JSON details)>.<base64url(HMAC-SHA256(key secret, that))>`,
 * carrying key name, clientId, capability, issue and expiry times. JWTs (HS256, `kid` =
 * key name, claims `x-ably-capability` and `x-ably-clientId`) are checked the same way.
 * Either way the capability is cut down to the key's.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AblyError } from '../errors.js';
import { intersect, parseCapability, type Capability } from './capability.js';
import type { ApiKey, Credentials, KeyStore } from './keys.js';
import { MAX_REVOCABLE_TTL_MS, type RevocableToken } from './revocations.js';

export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000; // 1 hour, Ably's default
export const MAX_TOKEN_TTL_MS = 24 * 60 * 60 * 1000; // 24 hours
/** A signed TokenRequest must be this fresh (either way), and its nonce unused within it. */
export const TOKEN_REQUEST_WINDOW_MS = 2 * 60 * 1000; // 2 minutes

export interface TokenDetails {
  token: string;
  keyName: string;
  issued: number;
  expires: number;
  capability: string;
  clientId?: string;
}

/** A TokenRequest as the SDKs send it (capability is JSON text). */
export interface TokenRequest {
  keyName: string;
  ttl?: number;
  capability?: string;
  clientId?: string;
  timestamp: number;
  nonce: string;
  mac: string;
}

interface TokenBody {
  k: string;
  c?: string;
  cap: string;
  iat: number;
  exp: number;
  /** 1: issued by a key with revocable tokens (only such tokens can be revoked). */
  r?: 1;
  /** The region that issued a revocable token (revocations are compared with it on that region's clock). */
  g?: string;
}

/** A signed TokenRequest checked: what to issue, once its nonce is taken as used. */
export interface SignedRequest {
  key: ApiKey;
  params: { ttl?: number; capability?: Capability; clientId: string | null };
  nonce: { key: string; until: number };
}

function hmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class TokenAuthority {
  /**
   * `revocations`: a revocable token is issued no earlier than the revocations held that
   * could match it (RevocationStore.issueFloor). `region`: the region issuing, which a
   * revocable token names.
   */
  constructor(
    private readonly keys: KeyStore,
    private readonly o: { revocations?: { issueFloor(t: Omit<RevocableToken, 'issuedAt'>): number }; region?: string } = {},
  ) {}

  /** Issues a token for `key` with the given (already key-bounded) capability. */
  issue(key: ApiKey, params: { ttl?: number; capability?: Capability; clientId?: string | null }, now: number): TokenDetails {
    const ttl = params.ttl ?? DEFAULT_TOKEN_TTL_MS;
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TOKEN_TTL_MS) {
      throw AblyError.of('invalidParameterValue', `ttl must be 1..${MAX_TOKEN_TTL_MS} ms`);
    }
    if (key.revocableTokens && ttl > MAX_REVOCABLE_TTL_MS) {
      throw AblyError.of('invalidParameterValue', `key ${key.keyName} has revocable tokens: ttl must be at most ${MAX_REVOCABLE_TTL_MS} ms`);
    }
    const capability = params.capability ? intersect(params.capability, key.capability) : key.capability;
    const body: TokenBody = { k: key.keyName, cap: capability.toJSON(), iat: now, exp: now + ttl };
    if (params.clientId) body.c = params.clientId;
    if (key.revocableTokens) {
      body.r = 1;
      if (this.o.region) body.g = this.o.region;
      const floor = this.o.revocations?.issueFloor({ keyName: key.keyName, clientId: params.clientId ?? null, revocationKey: null, resources: Object.keys(capability.raw) }) ?? 0;
      body.iat = Math.max(now, floor);
    }
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    const token = `${payload}.${hmac(key.secret, payload)}`;
    return {
      token,
      keyName: key.keyName,
      issued: body.iat,
      expires: body.exp,
      capability: body.cap,
      ...(params.clientId ? { clientId: params.clientId } : {}),
    };
  }

  /**
   * Checks a signed TokenRequest (no other auth needed): its key, its mac, its timestamp
   * within the window of `now`. What to issue, and the nonce to take as used (`nonce.key`,
   * until `nonce.until`: its timestamp plus the window, the last moment it could be taken)
   * before issuing it.
   */
  checkSignedRequest(req: unknown, keyNameInPath: string, now: number): SignedRequest {
    const r = req as Partial<TokenRequest>;
    if (typeof r !== 'object' || r === null) throw AblyError.of('invalidRequestBody', 'TokenRequest must be an object');
    if (r.keyName !== keyNameInPath) throw AblyError.of('invalidCredential', 'TokenRequest keyName does not match the URL');
    const key = this.keys.get(keyNameInPath);
    if (!key) throw AblyError.of('invalidCredentials', `no key "${keyNameInPath}"`);
    if (typeof r.timestamp !== 'number' || typeof r.nonce !== 'string' || typeof r.mac !== 'string') {
      throw AblyError.of('invalidRequestBody', 'TokenRequest needs timestamp, nonce and mac');
    }
    if (r.nonce.length < 16) throw AblyError.of('invalidRequestBody', 'nonce must be at least 16 characters');
    const ttl = r.ttl === undefined || r.ttl === null || (r.ttl as unknown) === '' ? undefined : Number(r.ttl);
    const text = `${r.keyName}\n${ttl ?? ''}\n${r.capability ?? ''}\n${r.clientId ?? ''}\n${r.timestamp}\n${r.nonce}\n`;
    const want = createHmac('sha256', key.secret).update(text).digest('base64');
    if (!safeEqual(want, r.mac)) throw AblyError.of('invalidCredentials', 'TokenRequest mac does not match');
    if (Math.abs(now - r.timestamp) > TOKEN_REQUEST_WINDOW_MS) {
      throw AblyError.of('timestampNotCurrent', 'TokenRequest timestamp is more than 2 minutes from server time');
    }
    return {
      key,
      params: {
        ...(ttl !== undefined ? { ttl } : {}),
        ...(r.capability ? { capability: parseCapability(r.capability) } : {}),
        clientId: r.clientId || null,
      },
      nonce: { key: `${r.keyName}:${r.nonce}`, until: r.timestamp + TOKEN_REQUEST_WINDOW_MS },
    };
  }

  /** Verifies an Ably token or an Ably JWT. Token errors are 4014x (the SDK renews on those). */
  verify(token: string, now: number): Credentials {
    const parts = token.split('.');
    if (parts.length === 3) return this.verifyJwt(parts as [string, string, string], now);
    if (parts.length !== 2) throw AblyError.of('tokenUnrecognised', 'not a token this service issued');
    const [payload, sig] = parts as [string, string];
    let body: TokenBody;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenBody;
    } catch {
      throw AblyError.of('tokenUnrecognised', 'token payload is not valid');
    }
    const key = typeof body.k === 'string' ? this.keys.get(body.k) : undefined;
    if (!key || !safeEqual(hmac(key.secret, payload), sig)) throw AblyError.of('tokenUnrecognised', 'token signature is not valid');
    if (now >= body.exp) throw AblyError.of('tokenExpired', `token expired at ${new Date(body.exp).toISOString()}`);
    const own = parseCapability(body.cap);
    return {
      appId: key.appId,
      keyName: key.keyName,
      capability: intersect(own, key.capability),
      clientId: body.c ?? null,
      via: 'token',
      expiresAt: body.exp,
      rules: key.rules,
      ...(body.r === 1
        ? {
            revocable: {
              keyName: key.keyName,
              issuedAt: body.iat,
              clientId: body.c ?? null,
              revocationKey: null,
              resources: Object.keys(own.raw),
              ...(typeof body.g === 'string' ? { region: body.g } : {}),
            },
          }
        : {}),
    };
  }

  private verifyJwt([h, p, s]: [string, string, string], now: number): Credentials {
    let header: { alg?: string; kid?: string; typ?: string };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw AblyError.of('invalidJwt', 'JWT header or claims are not valid JSON');
    }
    if (header.alg !== 'HS256') throw AblyError.of('invalidJwt', 'JWT must be signed with HS256');
    const key = typeof header.kid === 'string' ? this.keys.get(header.kid) : undefined;
    if (!key) throw AblyError.of('invalidJwt', 'JWT kid must name a key of this deployment');
    const sig = createHmac('sha256', key.secret).update(`${h}.${p}`).digest('base64url');
    if (!safeEqual(sig, s.replace(/=+$/, ''))) throw AblyError.of('tokenUnrecognised', 'JWT signature is not valid');
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    if (exp === null) throw AblyError.of('invalidJwt', 'JWT needs an exp claim');
    if (now >= exp) throw AblyError.of('tokenExpired', `JWT expired at ${new Date(exp).toISOString()}`);
    const capText = claims['x-ably-capability'];
    // A JSON string (Ably's JWT); anything else given is a mistake, not a wish for the key's whole capability.
    if (capText !== undefined && typeof capText !== 'string') throw AblyError.of('invalidJwt', 'the JWT\'s x-ably-capability claim must be a JSON string');
    const own = typeof capText === 'string' ? parseCapability(capText) : null;
    const capability = own ? intersect(own, key.capability) : key.capability;
    const clientId = typeof claims['x-ably-clientId'] === 'string' && claims['x-ably-clientId'] ? claims['x-ably-clientId'] : null;
    return {
      appId: key.appId,
      keyName: key.keyName,
      capability,
      clientId,
      via: 'jwt',
      expiresAt: exp,
      rules: key.rules,
      ...(key.revocableTokens ? { revocable: revocableJwt(key, claims, exp, clientId, own ?? key.capability) } : {}),
    };
  }
}

/**
 * A JWT of a key with revocable tokens: what revocations match it by. It must say when it
 * was issued (`iat`), and live an hour at most, as Ably's revocable tokens do.
 */
function revocableJwt(key: ApiKey, claims: Record<string, unknown>, exp: number, clientId: string | null, capability: Capability): RevocableToken {
  const iat = typeof claims.iat === 'number' ? claims.iat * 1000 : null;
  if (iat === null) throw AblyError.of('invalidJwt', `key ${key.keyName} has revocable tokens: a JWT needs an iat claim`);
  if (exp - iat > MAX_REVOCABLE_TTL_MS) throw AblyError.of('invalidJwt', `key ${key.keyName} has revocable tokens: a JWT may live an hour at most`);
  const rk = claims['x-ably-revocation-key'];
  // iat is in whole seconds: a revocation applies to a JWT from the second after its
  // issuedBefore (RevocationStore.revokedAt), so that one signed anew then is not refused.
  return { keyName: key.keyName, issuedAt: iat, jwt: true, clientId, revocationKey: typeof rk === 'string' && rk ? rk : null, resources: Object.keys(capability.raw) };
}

/** A random nonce (for tools and tests building TokenRequests). */
export function newNonce(): string {
  return randomBytes(12).toString('hex');
}
