/**
 * What the two peers of `bench/peers.ts` share: reading the JSON Lines corpus, the embeddings
 * request of an OpenAI-compatible endpoint, and the summary line each prints when it exits.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { DocumentFormat } from "../../src/core/types.js";

/** One line of the corpus (`bench/corpus.ts` writes them), its defaults filled in. */
export interface InputDocument {
  id: string;
  source: string;
  format: DocumentFormat;
  content: string;
  metadata: Record<string, unknown>;
}

/**
 * The documents of a corpus, with docbatch's defaults where a line leaves a field out (the small
 * corpus gives only `id` and `content`): source `inline`, format `text`, no metadata.
 */
export async function* readJsonl(file: string): AsyncGenerator<InputDocument> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const doc = JSON.parse(line) as Partial<InputDocument> & { id: string; content: string };
    yield { source: "inline", format: "text", metadata: {}, ...doc };
  }
}

/** `POST {model, input}` to an OpenAI-compatible endpoint; the vectors in input order. */
export async function embedBatch(
  url: string,
  texts: string[],
  model = "text-embedding-3-small",
): Promise<number[][]> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, input: texts }),
  });
  if (!response.ok) throw new Error(`embeddings answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: { index: number; embedding: number[] }[] };
  const vectors: number[][] = new Array(texts.length);
  for (const item of body.data) vectors[item.index] = item.embedding;
  if (body.data.length !== texts.length)
    throw new Error(`${body.data.length} vectors for ${texts.length} texts`);
  return vectors;
}

/** A vector as the little-endian float32 blob docbatch stores too. */
export function vectorBlob(vector: number[]): Buffer {
  return Buffer.from(Float32Array.from(vector).buffer);
}

/** The last line a peer prints: its own figures, with its peak resident set size. */
export function printSummary(summary: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...summary, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}
