/** Ably errors in unit tests. */
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
