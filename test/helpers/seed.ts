/**
 * The random seed of a test: `DOCBATCH_TEST_SEED` replays a run, otherwise a fresh one is drawn.
 * Printed either way, so that a failure seen once can be repeated.
 */
export function testSeed(name: string): number {
  const given = process.env.DOCBATCH_TEST_SEED;
  const seed = given !== undefined && given !== "" ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error(`DOCBATCH_TEST_SEED must be an integer, got ${given}`);
  process.stderr.write(`[seed] ${name}: ${seed} (replay with DOCBATCH_TEST_SEED=${seed})\n`);
  return seed;
}

/** A small deterministic generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
