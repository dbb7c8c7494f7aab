/**
 * Where a message's create is in a channel's log, by the message's serial: what a change
 * of it (versions.ts), an annotation of it (annotations.ts) and `getMessage` look up. The
 * log is read from the newest entry back (each only as far as its origin) once a serial;
 * then this remembers where the create was, or that none was, and how far the log had
 * been read, so the next look reads only what the log took since.
 */
import { parseMessageSerial } from '../protocol/message-serial.js';
import type { MessageEntry } from './entry.js';
import type { ChannelLog } from './log.js';

/** Serials remembered at most (all forgotten at once past that). */
const MAX_REMEMBERED = 4096;

/** A serial looked up: its create's log serial (undefined: none), the newest there, as far as the log was read. */
interface Looked {
  at: number | undefined;
  upto: number;
}

export class CreateLookup {
  private readonly looked = new Map<string, Looked>();

  constructor(private readonly log: ChannelLog) {}

  /** The log serial of the newest retained create of the message of `serial`, or undefined. */
  logSerial(serial: string): number | undefined {
    const p = parseMessageSerial(serial);
    if (!p) return undefined;
    const base = this.log.baseSerial;
    const last = this.log.lastSerial;
    let l = this.looked.get(serial);
    if (l?.at !== undefined && l.at <= base) l.at = undefined;
    const from = Math.max(l?.upto ?? base, base);
    if (l && from >= last) return l.at;
    const e = this.log.created(p, last, from);
    const found = e?.kind === 'message' && e.message.serial === serial ? e.serial : undefined;
    if (!l) {
      if (this.looked.size >= MAX_REMEMBERED) this.looked.clear();
      this.looked.set(serial, (l = { at: found, upto: last }));
    } else {
      if (found !== undefined) l.at = found;
      l.upto = last;
    }
    return l.at;
  }

  /** The retained create of the message of `serial` (the newest at most at log serial `upto`), or null. */
  entry(serial: string, upto = Infinity): MessageEntry | null {
    const at = this.logSerial(serial);
    if (at === undefined) return null;
    if (at > upto) {
      // Made after the bound: an older create of the same serial (two masters' copies) may be within it.
      const p = parseMessageSerial(serial)!;
      const e = this.log.created(p, upto);
      return e?.kind === 'message' && e.message.serial === serial ? e : null;
    }
    const e = this.log.range(at - 1, at)?.[0];
    return e?.kind === 'message' ? e : null;
  }
}
