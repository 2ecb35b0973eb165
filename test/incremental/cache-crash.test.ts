import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { type Answer, EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { collect, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";

/** At most this many crashes; a fast machine may finish the batch before the last ones. */
const KILLS = 7;
/** Fewer crashes than this would measure too little. */
const MIN_KILLS = 4;
/** An answer older than this at a crash must never be asked for again. */
const HELD_MS = 1_000;

interface CrashMeasure {
  texts: number;
  /** Texts sent again after a crash although their answer arrived more than HELD_MS before it. */
  resentAfterHeld: number;
  kills: number;
}

/**
 * Texts answered, then asked for again after the crash that came next, when that crash came more
 * than HELD_MS after the answer: the answer was the run's to keep, and the crash lost it. (An
 * answer younger than that at the crash may be lost; it is sent again once.) An answer that left
 * the server after a crash, to a request that arrived before it, reached nobody: the requests in
 * flight at a crash are the ones the crash may cost, and they are not counted.
 */
function measure(times: ReadonlyMap<string, readonly Answer[]>, kills: number[]): CrashMeasure {
  const reachedRun = (a: Answer) => !kills.some((k) => k >= a.received && k < a.answered);
  let resent = 0;
  for (const all of times.values()) {
    const answers = all.filter(reachedRun).map((a) => a.answered);
    const lost = answers.some((at, i) => {
      const next = answers[i + 1];
      const crash = kills.find((k) => k > at);
      return next !== undefined && crash !== undefined && crash < next && crash - at > HELD_MS;
    });
    if (lost) resent += 1;
  }
  return { texts: times.size, resentAfterHeld: resent, kills: kills.length };
}

/**
 * Vectors enter the cache as their answers arrive, not with their documents: under 5% endpoint
 * faults and up to 7 SIGKILLs at random moments, almost no text whose answer came more than a
 * second before a crash is sent again. The same loop with cache lookups off (what every run did before
 * the cache) shows that the measure does catch lost answers.
 *
 * `npm test` runs this file alone, after the others: its second is measured on the endpoint's
 * clock, and on two cores shared with two other test files that spawn runs of their own, a run's
 * answers of 1–2.5 s before a crash were sometimes sent again (6–28 of 12,540 texts, in this
 * version and the one before it, with two busy loops beside it; none in three runs alone).
 */
describe("embedding answers survive crashes", () => {
  let server: EmbeddingTestServer;
  let input: string;
  let dir: string;
  beforeAll(async () => {
    // Requests leave full (16 texts, 8 in flight): at 100 ms a run from scratch lasts about ten seconds,
    // long enough for several crashes at random moments, each more than a second into embedding.
    server = new EmbeddingTestServer({
      latencyMs: 100,
      rates: { error500: 0.05 },
      answerTimes: true,
      seed: 3,
    });
    await server.start();
    dir = tempDir("docbatch-cache-crash-");
    input = path.join(dir, "corpus.jsonl");
    // One document in six repeats one of 40 others (a README copied into many folders, a shared
    // policy page): its texts were answered for another document, maybe in an earlier run.
    const docs = makeCorpus({ count: 1_200, seed: 21, largeShare: 0 });
    const copies = docs.map((d, i) => {
      if (i % 6 !== 5) return d;
      const original = docs[(i * 7) % 40]!;
      return { ...d, format: original.format, content: original.content };
    });
    writeJsonl(input, copies);
  });
  afterAll(async () => {
    await server.stop();
  });

  async function crashLoop(db: string, extra: string[]): Promise<CrashMeasure> {
    server.reset();
    const random = seededRandom(5);
    const args = ["run", input, "--db", db, "--batch-id", "k", "--embed-url", server.url, "--no-progress"];
    const flags = ["--chunk-size", "300", "--embed-batch-size", "16", "--concurrency", "32", ...extra];
    const kills: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const answered = server.stats().ok;
      const child = spawnCli([...args, ...flags]);
      const exited = collect(child);
      let done = false;
      void exited.then(() => {
        done = true;
      });
      // A crash at a random moment once this run embeds (its start-up takes long on a busy machine).
      while (!done && server.stats().ok === answered) await new Promise((r) => setTimeout(r, 5));
      const alive = await Promise.race([
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 500 + random() * 2_000)),
        exited.then(() => false),
      ]);
      if (!alive) break;
      kills.push(Date.now());
      child.kill("SIGKILL");
      await exited;
    }
    const last = await runCli([...args, ...flags]);
    expect(last.code, last.stderr).toBe(0);
    return measure(server.answerTimes(), kills);
  }

  it("sends almost no text again whose answer came more than a second before a crash", async () => {
    const cached = await crashLoop(path.join(dir, "cached.db"), []);
    const uncached = await crashLoop(path.join(dir, "uncached.db"), ["--no-cache"]);
    process.stderr.write(
      `cache crash loop: with the cache ${JSON.stringify(cached)}, lookups off ${JSON.stringify(uncached)}\n`,
    );
    expect(cached.kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(uncached.kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(cached.resentAfterHeld / cached.texts).toBeLessThan(0.001);
    // Without lookups, a text answered before a crash is sent again for every document that
    // needs it after the crash: the measure sees it.
    expect(uncached.resentAfterHeld / uncached.texts).toBeGreaterThan(0.001);
  }, 900_000);
});
