/**
 * Reads a channel log's entry only as far as its origin position (`getMessage`'s look
 * through history, log.ts `created`): nothing decoded, its strings compared as bytes.
 */
import { asBuffer, Reader } from './wire.js';
import { TAG } from './entry-codec.js';

const WHAT = 'entry list';

/** Whether the bytes [at, at + n) of `buf` are `want`'s. */
function sameBytes(buf: Buffer, at: number, n: number, want: Buffer): boolean {
  if (n !== want.length) return false;
  for (let i = 0; i < n; i++) if (buf[at + i] !== want[i]) return false;
  return true;
}

/** Whether the OriginPosition from here to `r.end` is `seq` of `region` in `epoch` (their UTF-8), strings compared as bytes. */
function originIs(r: Reader, seq: number, region: Buffer, epoch: Buffer): boolean {
  let got = 0;
  let regionOk = region.length === 0;
  let epochOk = epoch.length === 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.originSeq) got = r.uint();
    else if (tag === TAG.region || tag === TAG.epoch) {
      const e = r.lenEnd();
      const ok = sameBytes(r.buf, r.pos, e - r.pos, tag === TAG.region ? region : epoch);
      if (tag === TAG.region) regionOk = ok;
      else epochOk = ok;
      r.pos = e;
    } else r.skip(tag & 7);
  }
  return got === seq && regionOk && epochOk;
}

/**
 * Whether the LogEntryList element at [start, end) of `buf` (one entry, as a log holds
 * it) was first accepted as `seq` of `region` in `epoch` (their UTF-8): read only as
 * far as its origin, with nothing decoded or allocated but the reader.
 */
export function acceptedAt(buf: Buffer, start: number, end: number, seq: number, region: Buffer, epoch: Buffer): boolean {
  const r = new Reader(asBuffer(buf), WHAT);
  r.pos = start;
  r.end = end;
  if (r.uint() !== TAG.listEntry) return false;
  r.end = r.lenEnd();
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.origin) return r.nested((n) => originIs(n, seq, region, epoch));
    r.skip(tag & 7);
  }
  return false;
}
