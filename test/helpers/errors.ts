/** Ably errors in unit tests. */
import { expect } from 'vitest';
import { AblyError } from '../../src/errors.js';

/** The code of the AblyError `fn` throws; fails the test where it throws something else, or nothing. */
export function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AblyError);
    return (e as AblyError).code;
  }
  throw new Error('expected an AblyError, but nothing was thrown');
}
