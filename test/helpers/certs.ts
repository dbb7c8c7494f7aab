import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/**
 * Test certificates made with openssl: a CA, and one certificate (for 127.0.0.1 and
 * localhost) signed by it, used by every node for region links (server and client).
 */
export function makeCerts(): { dir: string; ca: string; cert: string; key: string; otherCa: string; otherCert: string; otherKey: string } {
  const dir = tempDir('certs');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const prefix of ['', 'other-']) {
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${prefix}ably-ng test CA`, '-keyout', `${prefix}ca.key`, '-out', `${prefix}ca.pem`);
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=ably-ng node', '-keyout', `${prefix}node.key`, '-out', `${prefix}node.csr`);
    run('x509', '-req', '-in', `${prefix}node.csr`, '-CA', `${prefix}ca.pem`, '-CAkey', `${prefix}ca.key`, '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', `${prefix}node.pem`);
  }
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'node.pem'),
    key: join(dir, 'node.key'),
    otherCa: join(dir, 'other-ca.pem'),
    otherCert: join(dir, 'other-node.pem'),
    otherKey: join(dir, 'other-node.key'),
  };
}
