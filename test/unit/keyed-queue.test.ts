/** Work per key in order (src/keyed-queue.ts): a presence hold never overtakes the one before it. */
import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../src/keyed-queue.js';

describe('KeyedQueue', () => {
  it("runs one key's work in the order asked, each after the one before settled, and other keys freely", async () => {
    const q = new KeyedQueue();
    const done: string[] = [];
    let releaseSlow!: () => void;
    const slow = q.run('ch', () => new Promise<void>((r) => (releaseSlow = r)).then(() => void done.push('stay')));
    const failing = q.run('ch', async () => {
      done.push('leave');
      throw new Error('no answer');
    });
    const after = q.run('ch', async () => void done.push('after'));
    const other = q.run('other', async () => void done.push('other'));
    await other;
    expect(done).toEqual(['other']);
    releaseSlow();
    await slow;
    await expect(failing).rejects.toThrow('no answer');
    await after;
    expect(done).toEqual(['other', 'stay', 'leave', 'after']);
    await new Promise((r) => setImmediate(r));
    expect(q.size).toBe(0);
  });
});
