/**
 * A VCDIFF encoder (RFC 3284), for Ably's delta mode (channel param `delta: 'vcdiff'`,
 * src/channel/delta.ts): the target as COPYs from the source (the previous message's
 * payload) and ADDs of new bytes, in one window, with the default code table and no
 * secondary compression, so any conforming decoder (the SDKs' `@ably/vcdiff-decoder`)
 * reads it. Pure.
 *
 * Matches are found through a hash of every 4-byte block of the source, a few
 * candidates per block, extended forward and back; greedy, which for successive states
 * of one document (what deltas are for) finds what changed.
 */

/** RFC 3284 §4.1: the magic bytes 'V' 'C' 'D' with their high bits set, and version 0. */
const MAGIC = [0xd6, 0xc3, 0xc4, 0x00];
/** Win_Indicator: the window copies from the source segment. */
const VCD_SOURCE = 0x01;
/** The default code table (§5.6): ADD of size 0 (the size follows), ADD of 1–17 at 2–18. */
const ADD_SIZED = 1;
const ADD_MAX_INLINE = 17;
/** COPY in mode 0 (VCD_SELF: the address as it is) of size 0 (the size follows); 4–18 at 20–34. */
const COPY_SIZED = 19;
const COPY_MIN_INLINE = 4;
const COPY_MAX_INLINE = 18;

/** Matches shorter than this go as ADDs (a COPY costs about as much). */
const MIN_MATCH = 4;
/** Candidates looked at per block of the target. */
const MAX_CANDIDATES = 16;

/** RFC 3284 §2: an unsigned integer in base 128, most significant digit first, the high bit set on all but the last. */
export function writeVarint(out: number[], n: number): void {
  let digits = 1;
  for (let m = n; m >= 128; m = Math.floor(m / 128)) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    const digit = Math.floor(n / 128 ** i) % 128;
    out.push(i > 0 ? digit | 0x80 : digit);
  }
}

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/**
 * The source's 4-byte blocks by hash, at every INDEX_STEP-th position: `head` the last
 * such position of each hash plus one (0: none), `chain` the one before it (likewise).
 * A match of MIN_MATCH + INDEX_STEP - 1 bytes or more holds an indexed block wherever it
 * lies, and is found from there (the target is looked up at every position) and
 * extended back to its start.
 */
interface BlockIndex {
  shift: number;
  head: Int32Array;
  chain: Int32Array;
}

const INDEX_STEP = 4;

/**
 * The index's tables, kept from one delta to the next and grown as needed: made afresh
 * for each, their pages were new memory each time (a page fault each, several µs on a VM),
 * which cost more than the rest of the delta. Only `head` needs clearing (`chain` is read
 * only where written).
 */
let headTable = new Int32Array(1 << 8);
let chainTable = new Int32Array(1024);

function indexBlocks(source: Uint8Array): BlockIndex {
  const blocks = Math.ceil(source.length / INDEX_STEP);
  let bits = 8;
  while (1 << bits < blocks * 2 && bits < 18) bits++;
  if (headTable.length < 1 << bits) headTable = new Int32Array(1 << bits);
  if (chainTable.length < source.length) chainTable = new Int32Array(source.length);
  const head = headTable.subarray(0, 1 << bits).fill(0);
  const chain = chainTable;
  const shift = 32 - bits;
  for (let p = 0; p + MIN_MATCH <= source.length; p += INDEX_STEP) {
    const h = Math.imul(read32(source, p), 0x9e3779b1) >>> shift;
    chain[p] = head[h]!;
    head[h] = p + 1;
  }
  return { shift, head, chain };
}

/** The encoded delta's three sections as they are built. */
class Sections {
  readonly data: number[] = [];
  readonly instructions: number[] = [];
  readonly addresses: number[] = [];

  get size(): number {
    return this.data.length + this.instructions.length + this.addresses.length;
  }

  add(target: Uint8Array, from: number, to: number): void {
    const size = to - from;
    if (size === 0) return;
    if (size <= ADD_MAX_INLINE) this.instructions.push(ADD_SIZED + size);
    else {
      this.instructions.push(ADD_SIZED);
      writeVarint(this.instructions, size);
    }
    for (let i = from; i < to; i++) this.data.push(target[i]!);
  }

  copy(size: number, address: number): void {
    if (size >= COPY_MIN_INLINE && size <= COPY_MAX_INLINE) this.instructions.push(COPY_SIZED + size - (COPY_MIN_INLINE - 1));
    else {
      this.instructions.push(COPY_SIZED);
      writeVarint(this.instructions, size);
    }
    writeVarint(this.addresses, address);
  }
}

/**
 * The delta that makes `target` from `source`, in VCDIFF; null where its sections would
 * pass `maxBytes` (the caller sends the target whole: no need to finish the delta).
 */
export function vcdiffEncode(source: Uint8Array, target: Uint8Array, maxBytes = Infinity): Uint8Array | null {
  const s = new Sections();
  let pending = 0;
  if (source.length >= MIN_MATCH) {
    const { shift, head, chain } = indexBlocks(source);
    /** How far source from `cand` and target from `i` agree. */
    const agree = (cand: number, i: number): number => {
      const limit = Math.min(source.length - cand, target.length - i);
      let n = 0;
      while (n < limit && source[cand + n] === target[i + n]) n++;
      return n;
    };
    // Where the last COPY ended, in the source and the target (none yet: the same offsets).
    let copiedTo = 0;
    let copiedFrom = 0;
    let i = 0;
    while (i + MIN_MATCH <= target.length) {
      if (s.size + (i - pending) > maxBytes) return null;
      // First where the last COPY would go on, as far on as the target has moved since: a
      // change of the same length leaves the rest where it was (and data that repeats
      // itself has no better place to look).
      let at = copiedFrom + (i - copiedTo);
      let best = at < source.length ? agree(at, i) : 0;
      let next = best === target.length - i ? 0 : head[Math.imul(read32(target, i), 0x9e3779b1) >>> shift]!;
      for (let tries = 0; next > 0 && tries < MAX_CANDIDATES; tries++, next = chain[next - 1]!) {
        const cand = next - 1;
        const n = agree(cand, i);
        if (n > best) {
          best = n;
          at = cand;
          // None can go past the target's end.
          if (n === target.length - i) break;
        }
      }
      if (best < MIN_MATCH) {
        i++;
        continue;
      }
      // Bytes before the match that match too go with it, not in the ADD.
      while (i > pending && at > 0 && source[at - 1] === target[i - 1]) {
        i--;
        at--;
        best++;
      }
      s.add(target, pending, i);
      s.copy(best, at);
      i += best;
      pending = i;
      copiedTo = i;
      copiedFrom = at + best;
    }
  }
  s.add(target, pending, target.length);
  if (s.size > maxBytes) return null;

  // The window (§4.2): the delta encoding's length counts from the target's size on.
  const encoding: number[] = [];
  writeVarint(encoding, target.length);
  encoding.push(0); // Delta_Indicator: no section compressed
  writeVarint(encoding, s.data.length);
  writeVarint(encoding, s.instructions.length);
  writeVarint(encoding, s.addresses.length);
  const out: number[] = [...MAGIC, 0]; // Hdr_Indicator: no secondary compressor, the default code table
  if (source.length > 0) {
    out.push(VCD_SOURCE);
    writeVarint(out, source.length);
    writeVarint(out, 0);
  } else out.push(0);
  writeVarint(out, encoding.length + s.size);
  const bytes = Buffer.allocUnsafe(out.length + encoding.length + s.size);
  let o = 0;
  for (const part of [out, encoding, s.data, s.instructions, s.addresses]) for (const b of part) bytes[o++] = b;
  return bytes;
}
