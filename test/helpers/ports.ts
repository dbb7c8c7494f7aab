import { reservePorts } from '../../src/ports.js';

/** Ports free on 127.0.0.1 now, below the ephemeral range (see src/ports.ts). */
export function freePorts(n: number): Promise<number[]> {
  return reservePorts(n);
}
