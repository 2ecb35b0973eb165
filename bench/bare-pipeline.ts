/**
 * The physical limit docbatch is measured against: the same stages (parse, clean, chunk, local
 * embedding) run in a plain loop over the same JSONL, with no store, no checkpoint and no output.
 * Prints the documents and chunks it processed.
 */

import type { DocumentFormat } from "../src/core/types.js";
import { readLines } from "../src/input/lines.js";
import { embedText } from "../src/pipeline/embed/local.js";
import { prepareChunks } from "../src/pipeline/prepare.js";

const [input, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg ?? 1000);
let docs = 0;
let chunks = 0;
for await (const line of readLines(input!)) {
  if (!line.text.trim()) continue;
  const doc = JSON.parse(line.text) as { content: string; format?: DocumentFormat };
  const { texts } = await prepareChunks(doc.content, doc.format ?? "text", { size, overlap: 0 }, "doc", {});
  for (const text of texts) embedText(text, 256);
  docs += 1;
  chunks += texts.length;
}
process.stdout.write(`${JSON.stringify({ docs, chunks })}\n`);
