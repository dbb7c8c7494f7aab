import { describe, expect, it, vi } from 'vitest';
import { ChannelLog } from '../../../src/channel/log.js';
import { CreateLookup } from '../../../src/channel/creates.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { formatMessageSerial } from '../../../src/protocol/message-serial.js';

const at = 1_700_000_000_000;
const origin = (seq: number) => ({ region: 'eu', epoch: 'e', seq });
const create = (n: number): LogEntry => ({ kind: 'message', serial: n, channelSerial: `eu~e~${n}`, storedAt: at + n, origin: origin(n), message: { id: `m${n}`, timestamp: at + n, serial: formatMessageSerial(at + n, origin(n)) } });

describe('CreateLookup', () => {
  it("finds a message's create, and then reads only what the log took since, found or not", () => {
    const log = new ChannelLog(0);
    for (let n = 1; n <= 5; n++) log.append(create(n));
    const lookup = new CreateLookup(log);
    const reads = vi.spyOn(log, 'created');
    const s3 = formatMessageSerial(at + 3, origin(3));
    const s7 = formatMessageSerial(at + 7, origin(7));
    expect(lookup.logSerial(s3)).toBe(3);
    expect(lookup.entry(s3)?.message.id).toBe('m3');
    expect(lookup.logSerial(s7)).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(2);
    // Nothing new: nothing read. Two more entries: only they are read, and the create among them found.
    expect(lookup.logSerial(s3)).toBe(3);
    expect(reads).toHaveBeenCalledTimes(2);
    for (let n = 6; n <= 7; n++) log.append(create(n));
    expect(lookup.logSerial(s7)).toBe(7);
    expect(reads.mock.calls.at(-1)!.slice(1)).toEqual([7, 5]);
    // Bounded before it: none; a serial this service did not make: none.
    expect(lookup.entry(s7, 6)).toBeNull();
    expect(lookup.entry(s3, 6)?.message.id).toBe('m3');
    expect(lookup.logSerial('not-a-serial')).toBeUndefined();
  });

  it('forgets a create once retention drops it', () => {
    const log = new ChannelLog(0);
    for (let n = 1; n <= 3; n++) log.append(create(n));
    const lookup = new CreateLookup(log);
    const s1 = formatMessageSerial(at + 1, origin(1));
    expect(lookup.logSerial(s1)).toBe(1);
    log.expire(at + 10_000, 60_000, 2, Infinity);
    expect(log.baseSerial).toBe(1);
    expect(lookup.logSerial(s1)).toBeUndefined();
    expect(lookup.entry(s1)).toBeNull();
  });
});
