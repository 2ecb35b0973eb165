import fs from "node:fs";
import { seededRandom } from "../src/core/backoff.js";
import { type CorpusDocument, makeCorpus, writeJsonl } from "../test/helpers/corpus.js";

/**
 * Deterministic corpora of the benchmarks. The mixed corpus is the tests' (every format, mixed
 * sizes, English and Chinese); the small one is a million short documents written as a stream;
 * the CPU-bound one is large HTML and markdown pages, where parsing and chunking dominate.
 */

export function writeMixed(file: string, count: number): CorpusDocument[] {
  const docs = makeCorpus({ count, seed: 1, largeShare: 0.01 });
  writeJsonl(file, docs);
  return docs;
}

const WORDS =
  "batch checkpoint resume lease chunk vector index commit worker retry backoff breaker fence plan export report".split(
    " ",
  );

/** `count` documents of one or two sentences each, as JSON Lines, without holding them in memory. */
export function writeSmall(file: string, count: number): void {
  const random = seededRandom(3);
  const fd = fs.openSync(file, "w");
  let buffer = "";
  for (let i = 0; i < count; i++) {
    const words: string[] = [];
    const n = 8 + Math.floor(random() * 16);
    for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
    buffer += `${JSON.stringify({ id: `s${i}`, content: `${words.join(" ")}.` })}\n`;
    if (buffer.length > 1 << 20) {
      fs.writeSync(fd, buffer);
      buffer = "";
    }
  }
  fs.writeSync(fd, buffer);
  fs.closeSync(fd);
}

/** Large HTML and markdown pages (50–150 KB): parsing and chunking are most of the work. */
export function writeCpuBound(file: string, count: number): void {
  const docs = makeCorpus({ count: count * 4, seed: 5, largeShare: 1 }).filter(
    (d) => d.format === "html" || d.format === "markdown",
  );
  writeJsonl(file, docs.slice(0, count));
}
