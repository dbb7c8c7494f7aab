/** Ably errors in tests: thrown by our code (unit tests), or an SDK call's rejection (integration tests). */
import { expect } from 'vitest';
import { AblyError } from '../../src/errors.js';

/** The AblyError `fn` throws; fails the test where it throws something else, or nothing. */
export function ablyErrorOf(fn: () => unknown): AblyError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AblyError);
    return e as AblyError;
  }
  throw new Error('expected an AblyError, but nothing was thrown');
}

/** The code of the AblyError `fn` throws (ablyErrorOf). */
export function codeOf(fn: () => unknown): number {
  return ablyErrorOf(fn).code;
}

/** What `p` (an SDK call, say) rejects with: the SDK's ErrorInfo; fails the test where it resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<{ code?: number; statusCode?: number; message?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: number; statusCode?: number; message?: string };
  }
  throw new Error('expected a rejection, but it resolved');
}
