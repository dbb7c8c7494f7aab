/**
 * Typical channel entries for the micro-benchmarks (entry-codec.js, replica-apply.js):
 * those of the heal catch-up, ~100-byte text data, an id, a connection id, a name and an
 * origin in another region ("eu", epoch "ep-3f2a9c"). Serials and origin seqs run on
 * from batch to batch, so that consecutive batches make one channel's stream.
 */
import type { LogEntry } from '../channel/entry.js';

/** The origin every sample entry has (a ForwardedEntryList does not carry it per entry). */
export const SAMPLE_ORIGIN = { region: 'eu', epoch: 'ep-3f2a9c' } as const;
/** When the sample entries were stored (ms; within a second after): a state holding them starts here. */
export const SAMPLE_STORED_AT = 1_796_078_432_143;

/** The `k`-th batch of `size` entries (serials k·size+1 … (k+1)·size). */
export function sampleBatch(k: number, size: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 0; i < size; i++) {
    const n = k * size + i;
    out.push({
      kind: 'message',
      serial: n + 1,
      channelSerial: `e1a2b3c4:${n.toString(36)}`,
      storedAt: SAMPLE_STORED_AT + i,
      origin: { region: SAMPLE_ORIGIN.region, epoch: SAMPLE_ORIGIN.epoch, seq: n + 1 },
      message: { id: `conn-abc123def:${n}:0`, name: 'bench', connectionId: 'conn-abc123def', data: `${'x'.repeat(60)}|t=${1_796_078_432_143_123 + i}|`, timestamp: SAMPLE_STORED_AT + i },
    });
  }
  return out;
}
