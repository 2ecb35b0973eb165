/** Percentiles by the nearest-rank method on a sorted copy. Empty input gives 0. */
export function percentiles(values: ArrayLike<number>, ranks: readonly number[]): number[] {
  if (values.length === 0) return ranks.map(() => 0);
  const sorted = Float64Array.from(values).sort();
  return ranks.map((p) => {
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[index]!;
  });
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
