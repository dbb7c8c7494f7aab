/**
 * The child processes of machine-speed.ts, none of which runs any ably-ng code:
 *   loop N            → {"nsPerIter"}: N iterations of a multiply-and-xor hash (one core's speed);
 *   echo              → a TCP server on 127.0.0.1 (port on stdout as {"port"}) that echoes;
 *   ping PORT N WARM [GAP_MS]
 *                     → {"p50Us","p99Us"}: N 64-byte round trips to PORT, one at a time,
 *                       after WARM not counted (the cost of waking a process and of loopback
 *                       TCP); with GAP_MS, each after that long idle (a light load's hops);
 *   faults MB         → {"faultUs","rewriteUsPerPage","faults"}: writes one byte in each 4 KB page
 *                       of MB fresh megabytes (each write a minor page fault: the kernel
 *                       gives the page), then writes each page's byte again (no fault): µs
 *                       per fault, first-touch time less the rewrite's, over the faults counted.
 */
import net from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

function out(v: object): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

if (mode === 'loop') {
  const n = Number(a);
  const t0 = process.hrtime.bigint();
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    h ^= i & 255;
    h = Math.imul(h, 0x01000193);
  }
  // h is printed so that the loop cannot be optimised away.
  out({ nsPerIter: Number(process.hrtime.bigint() - t0) / n, h: h >>> 0 });
} else if (mode === 'echo') {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => out({ port: (server.address() as net.AddressInfo).port }));
} else if (mode === 'ping') {
  const total = Number(b) + Number(c);
  const warm = Number(c);
  const gapMs = Number(process.argv[6] ?? 0);
  const rtts: number[] = [];
  const payload = Buffer.alloc(64, 7);
  const s = net.connect(Number(a), '127.0.0.1', () => {
    s.setNoDelay(true);
    let sent = process.hrtime.bigint();
    let got = 0;
    let done = 0;
    s.on('data', (d) => {
      got += d.length;
      if (got < payload.length) return;
      got -= payload.length;
      const now = process.hrtime.bigint();
      if (done++ >= warm) rtts.push(Number(now - sent) / 1000);
      if (done === total) {
        rtts.sort((x, y) => x - y);
        out({ p50Us: rtts[Math.floor(rtts.length / 2)], p99Us: rtts[Math.floor(rtts.length * 0.99)] });
        s.destroy();
        return;
      }
      const next = () => {
        sent = process.hrtime.bigint();
        s.write(payload);
      };
      if (gapMs > 0) setTimeout(next, gapMs);
      else next();
    });
    s.write(payload);
  });
  s.on('error', (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
} else if (mode === 'faults') {
  const bytes = Number(a) * 1024 * 1024;
  // Not zero-filled, and above malloc's mmap threshold: pages the process has not touched.
  const buf = Buffer.allocUnsafeSlow(bytes);
  const touch = (v: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < bytes; i += 4096) buf[i] = v;
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  const f0 = process.resourceUsage().minorPageFault;
  const first = touch(1);
  const faults = process.resourceUsage().minorPageFault - f0;
  const again = touch(2);
  const pages = bytes / 4096;
  out({ faultUs: faults > 0 ? (first - again) / faults : NaN, rewriteUsPerPage: again / pages, faults });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
