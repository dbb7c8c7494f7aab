/** Puts `x` into the ascending list `xs` at its place (after any equal to it). */
export function insertSorted(xs: string[], x: string): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, x);
}
