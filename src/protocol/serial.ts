/**
 * Channel serials: the opaque `channelSerial` a client gets with every message and sends
 * back in ATTACH to resume.
 *
 * Form: `<region>~<epoch>~<serial>` where serial is base-36, optionally followed by
 * `|<origin>~<epoch>~<seq>` entries: for each region whose messages this region's
 * stream carries, how far (in that origin's own sequence) the stream had got at this
 * message. The origin vector lets another region resume a client exactly; a stream that
 * only ever carried local messages needs none (its serial is its local origin seq).
 *
 * Epochs name one lifetime of a channel's state in a region: serials of different
 * epochs are not comparable.
 */
import { randomBytes } from 'node:crypto';

export interface OriginPosition {
  region: string;
  epoch: string;
  seq: number;
}

export interface ChannelPosition {
  region: string;
  epoch: string;
  serial: number;
  /** Per origin region, how far this stream had got in that origin's sequence. */
  origins: OriginPosition[];
}

const PART = /^[A-Za-z0-9_-]+$/;

export function newEpoch(): string {
  return randomBytes(5).readUIntBE(0, 5).toString(36);
}

function part(region: string, epoch: string, n: number): string {
  return `${region}~${epoch}~${n.toString(36)}`;
}

export function formatSerial(p: ChannelPosition): string {
  let s = part(p.region, p.epoch, p.serial);
  for (const o of p.origins) s += `|${part(o.region, o.epoch, o.seq)}`;
  return s;
}

function parsePart(s: string): OriginPosition | null {
  const bits = s.split('~');
  if (bits.length !== 3) return null;
  const [region, epoch, num] = bits as [string, string, string];
  if (!PART.test(region) || !PART.test(epoch) || !/^[0-9a-z]{1,12}$/.test(num)) return null;
  const seq = parseInt(num, 36);
  if (!Number.isSafeInteger(seq)) return null;
  return { region, epoch, seq };
}

/** Parses a channelSerial; null when it is not one of ours (a client's garbage or another service's). */
export function parseSerial(s: string): ChannelPosition | null {
  if (typeof s !== 'string' || s.length === 0 || s.length > 2048) return null;
  const [head, ...rest] = s.split('|');
  const h = parsePart(head!);
  if (!h) return null;
  const origins: OriginPosition[] = [];
  for (const r of rest) {
    const o = parsePart(r);
    if (!o) return null;
    origins.push(o);
  }
  return { region: h.region, epoch: h.epoch, serial: h.seq, origins };
}
