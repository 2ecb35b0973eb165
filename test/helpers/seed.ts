/**
 * The seed of a test file's random choices: `DOCBATCH_TEST_SEED` replays a run, otherwise a fresh
 * one is drawn. It is printed, so a failure seen once can be replayed exactly.
 */
export function testSeed(file: string): number {
  const given = process.env.DOCBATCH_TEST_SEED;
  const seed = given !== undefined && given !== "" ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  process.stdout.write(`${file}: seed ${seed} (replay with DOCBATCH_TEST_SEED=${seed})\n`);
  return seed;
}
