// One mesh node in its own process, for test/integration/mesh-name-probe.test.ts (from
// dist/). argv: self selfPort peer peerPort mode. It prints "started", and "up PEER",
// "down PEER", "nameInUse PEER" as its transport tells them.
// mode 'flood': once its link is up and stdin says "go", it sends words to the peer as fast
// as it can, until stopped. mode 'wait': it prints "loaded" and starts only when stdin says
// "go". 'plain': it sends nothing but the mesh's own frames.
import pino from 'pino';
import { MeshTransport } from '../../dist/transport/mesh.js';

const [self, selfPort, peer, peerPort, mode] = process.argv.slice(2);
const t = new MeshTransport({ self, region: 'r', host: '127.0.0.1', meshPort: Number(selfPort), secret: 's', log: pino({ level: 'silent' }) });
t.onEvent((e) => {
  if (e.type === 'linkUp' || e.type === 'linkDown' || e.type === 'nameInUse') process.stdout.write(`${e.type === 'linkUp' ? 'up' : e.type === 'linkDown' ? 'down' : 'nameInUse'} ${e.peer}\n`);
});
t.addPeer(peer, { host: '127.0.0.1', port: 0, meshPort: Number(peerPort) });
const go = new Promise((resolve) => process.stdin.on('data', (d) => String(d).includes('go') && resolve()));
if (mode === 'wait') {
  process.stdout.write('loaded\n');
  await go;
}
await t.start();
process.stdout.write('started\n');
if (mode === 'flood') {
  await go;
  const channel = `app:${'x'.repeat(80)}`;
  let i = 0;
  const burst = () => {
    for (let k = 0; k < 2000; k++) t.send(peer, { type: 'broadcast', channel, epoch: `m${i++}`, entries: [] });
    setImmediate(burst);
  };
  burst();
}
