/** Builders for hand-made chaos records: one channel `ch` unless said otherwise. */
import type { DeliverEvent, PublishEvent, PublishOutcome, RecordEvent } from '../../../src/chaos/record.js';

/** Publisher id → region, for the builders below. */
const REGION_OF: Record<string, string> = { p1: 'r1', p2: 'r1', q1: 'r2' };
/** Subscriber client id → region. */
const SUB_REGION: Record<string, string> = { a: 'r1', b: 'r1', c: 'r2', d: 'r2' };

/** The serial the builders give the message (publisher, seq). */
export function serialOf(publisher: string, seq: number): string {
  return `s-${publisher}-${seq}`;
}

export function pub(t: number, publisher: string, seq: number, outcome: PublishOutcome = 'ack', channel = 'ch'): PublishEvent {
  const region = REGION_OF[publisher] ?? 'r1';
  const done = outcome === 'unknown' ? {} : { doneAt: t + 5, ...(outcome === 'ack' ? { serial: serialOf(publisher, seq) } : {}) };
  return { type: 'publish', t, region, client: publisher, channel, publisher, seq, outcome, ...done };
}

export function del(t: number, client: string, publisher: string, seq: number, sentAt: number, channel = 'ch', serial = serialOf(publisher, seq)): DeliverEvent {
  return { type: 'deliver', t, region: SUB_REGION[client] ?? 'r1', client, channel, publisher, seq, sentAt, serial };
}

export function sub(t: number, client: string, channel = 'ch'): RecordEvent {
  return { type: 'subscribe', t, region: SUB_REGION[client] ?? 'r1', client, channel };
}

export function unsub(t: number, client: string, channel = 'ch'): RecordEvent {
  return { type: 'unsubscribe', t, region: SUB_REGION[client] ?? 'r1', client, channel };
}

export function gap(t: number, client: string, channel = 'ch'): RecordEvent {
  return { type: 'continuity', t, region: SUB_REGION[client] ?? 'r1', client, channel, resumed: false, error: { code: 80008, message: 'continuity lost' } };
}

export function fault(t: number, phase: 'start' | 'end', action = 'partition', target = 'r1-r2'): RecordEvent {
  return { type: 'fault', t, action, target, phase };
}

export function end(t: number): RecordEvent {
  return { type: 'end', t };
}

/**
 * A clean run: subscribers a, b (r1) and c (r2) attach at 0; p1 (r1) publishes seq 1..3
 * at 100, 200, 300, all ACKed; r1 subscribers get each 10 ms later, c 50 ms later.
 * `drop` leaves out deliveries given as `client:seq`.
 */
export function cleanRun(drop: string[] = []): RecordEvent[] {
  const events: RecordEvent[] = [sub(0, 'a'), sub(0, 'b'), sub(0, 'c')];
  for (const seq of [1, 2, 3]) {
    const t = seq * 100;
    for (const [client, lag] of [['a', 10], ['b', 10], ['c', 50]] as const) {
      if (!drop.includes(`${client}:${seq}`)) events.push(del(t + lag, client, 'p1', seq, t));
    }
    events.push(pub(t, 'p1', seq));
  }
  events.push(end(1000));
  return events;
}
