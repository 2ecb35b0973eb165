/**
 * Percentiles by the nearest-rank method. Each rank is found by selection (quickselect) on one
 * copy of the values, in linear time: a million latencies need no full sort. Empty input gives 0.
 */
export function percentiles(values: ArrayLike<number>, ranks: readonly number[]): number[] {
  if (values.length === 0) return ranks.map(() => 0);
  const data = Float64Array.from(values);
  return ranks.map((p) => {
    const k = Math.min(data.length - 1, Math.max(0, Math.ceil((p / 100) * data.length) - 1));
    return select(data, k);
  });
}

/** The k-th smallest value; reorders `data` (Hoare partitioning around a median of three). */
function select(data: Float64Array, k: number): number {
  let lo = 0;
  let hi = data.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const a = data[lo]!;
    const b = data[mid]!;
    const c = data[hi]!;
    const pivot = a < b ? (b < c ? b : Math.max(a, c)) : a < c ? a : Math.max(b, c);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (data[i]! < pivot) i++;
      while (data[j]! > pivot) j--;
      if (i <= j) {
        const t = data[i]!;
        data[i] = data[j]!;
        data[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return data[k]!;
  }
  return data[k]!;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A growable list of numbers in a typed array, for millions of latencies without boxing. */
export class NumberList {
  private data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}
