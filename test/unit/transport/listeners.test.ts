import { describe, expect, it } from 'vitest';
import { TransportListeners } from '../../../src/transport/listeners.js';
import type { NodeId, NodeMessage } from '../../../src/transport/messages.js';
import type { Logger } from '../../../src/log.js';

class Listeners extends TransportListeners {
  readonly threw: string[];
  constructor() {
    const threw: string[] = [];
    super({ error: (o: { from: string; type: string; err: string }) => void threw.push(`${o.from}/${o.type}: ${o.err.split('\n')[0]}`) } as unknown as Logger);
    this.threw = threw;
  }
  take(from: NodeId, msg: NodeMessage): void {
    this.deliver(from, msg);
  }
}

describe('TransportListeners', () => {
  it('a handler that throws is reported, and the other handlers and later messages still run (a defect does not end the node)', () => {
    const l = new Listeners();
    const seen: string[] = [];
    l.onMessage((_from, msg) => {
      if (msg.type === 'connMoved') throw new Error('boom');
      seen.push(`first ${msg.type}`);
    });
    l.onMessage((_from, msg) => void seen.push(`second ${msg.type}`));
    l.take('n1', { type: 'connMoved', connectionId: 'c' });
    l.take('n1', { type: 'connDrop', connectionId: 'c' });
    expect(l.threw).toEqual(['n1/connMoved: Error: boom']);
    expect(seen).toEqual(['second connMoved', 'first connDrop', 'second connDrop']);
  });
});
