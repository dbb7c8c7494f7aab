import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for one test's files: `$TMPDIR/ablyng-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ablyng-${prefix}-`));
}

/**
 * Removes a directory `tempDir` made, once its test is done with it (node logs included),
 * unless `ABLY_NG_TEST_KEEP_DIRS` is set to keep them for a look after the run.
 */
export function removeTempDir(dir: string): void {
  if (!process.env.ABLY_NG_TEST_KEEP_DIRS) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
