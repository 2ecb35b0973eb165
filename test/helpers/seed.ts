/**
 * The seed of a test's random choices (timings, corpus sizes): DOCBATCH_TEST_SEED when set, so a
 * failure can be replayed, else a fresh one. It is printed either way.
 */
export function testSeed(name: string): number {
  const given = process.env.DOCBATCH_TEST_SEED;
  const seed = given !== undefined && given !== "" ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error(`DOCBATCH_TEST_SEED must be an integer, got ${given}`);
  process.stderr.write(`[seed] ${name}: ${seed} (replay with DOCBATCH_TEST_SEED=${seed})\n`);
  return seed;
}
