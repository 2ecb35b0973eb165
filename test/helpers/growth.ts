/**
 * How many times longer `work` takes on an input `factor` times larger: about `factor` for linear
 * work, about `factor²` for quadratic work. Both sizes are timed in the same run, interleaved, in
 * CPU time of this process (time spent waiting for a core on a busy machine does not count), and
 * each keeps its fastest try: the ratio stays meaningful where an absolute time limit would not.
 */
export function growthRatio(work: (size: number) => void, minSize: number, factor = 8, tries = 5): number {
  const size = measurableSize(work, minSize);
  const best = { small: Number.POSITIVE_INFINITY, large: Number.POSITIVE_INFINITY };
  for (let i = 0; i < tries; i++) {
    best.small = Math.min(
      best.small,
      timed(() => work(size)),
    );
    best.large = Math.min(
      best.large,
      timed(() => work(size * factor)),
    );
  }
  process.stderr.write(`growth ${size} -> ${size * factor}: ${JSON.stringify(best)} ms\n`);
  return best.large / best.small;
}

/**
 * The smallest size from `minSize` up (doubling, 64 times at the most) whose work takes 10 ms of
 * CPU once compiled (the fastest of two tries after a warm-up): below that, timer resolution and
 * collector pauses are more than the work.
 */
function measurableSize(work: (size: number) => void, minSize: number): number {
  work(minSize);
  let size = minSize;
  while (
    size < minSize * 64 &&
    Math.min(
      timed(() => work(size)),
      timed(() => work(size)),
    ) < 10
  )
    size *= 2;
  return size;
}

/** CPU milliseconds (user and system) that `run` takes. */
function timed(run: () => void): number {
  const started = process.cpuUsage();
  run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1_000;
}
