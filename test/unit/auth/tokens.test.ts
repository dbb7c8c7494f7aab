/**
 * Signed TokenRequests (src/auth/tokens.ts): a nonce is used once for as long as its
 * request could be taken, also one stamped ahead of the server's clock.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/auth/keys.js';
import { TokenAuthority } from '../../../src/auth/tokens.js';
import { AblyError } from '../../../src/errors.js';

const SECRET = 'rootsecret';
const keys = new KeyStore([{ id: 'app', keys: [{ id: 'root', secret: SECRET, capability: { '*': ['*'] } }] }] as never);

function signed(timestamp: number, nonce: string) {
  const r = { keyName: 'app.root', timestamp, nonce, capability: '', clientId: '' };
  const mac = createHmac('sha256', SECRET).update(`${r.keyName}\n\n${r.capability}\n${r.clientId}\n${r.timestamp}\n${r.nonce}\n`).digest('base64');
  return { ...r, mac };
}

const codeOf = (f: () => unknown): number | null => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as AblyError).code;
  }
};

describe('TokenAuthority: signed TokenRequests', () => {
  it('refuses a nonce again for as long as its request could be taken: a request stamped a minute ahead, until three minutes after it came', () => {
    const auth = new TokenAuthority(keys);
    const t0 = 1_700_000_000_000;
    const req = signed(t0 + 60_000, 'nonce-ahead-0123456789');
    expect(auth.fromSignedRequest(req, 'app.root', t0).keyName).toBe('app.root');
    expect(codeOf(() => auth.fromSignedRequest(req, 'app.root', t0 + 1000))).toBe(40105);
    // Another request two and a half minutes on clears out what has expired; the first is
    // still within its window (its timestamp is 1.5 min ago): refused as a replay.
    auth.fromSignedRequest(signed(t0 + 150_000, 'nonce-other-0123456789'), 'app.root', t0 + 150_000);
    expect(codeOf(() => auth.fromSignedRequest(req, 'app.root', t0 + 170_000))).toBe(40105);
    // Past its window, refused for its timestamp.
    expect(codeOf(() => auth.fromSignedRequest(req, 'app.root', t0 + 181_000))).toBe(40104);
  });
});
