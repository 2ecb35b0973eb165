/**
 * What the two peers of `bench/peers.ts` share: reading the JSON Lines corpus, the embeddings
 * request of an OpenAI-compatible endpoint, and the summary line each prints when it exits.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { DocumentFormat } from "../../src/core/types.js";

/** One line of the corpus (`test/helpers/corpus.ts` writes them). */
export interface InputDocument {
  id: string;
  source: string;
  format: DocumentFormat;
  content: string;
  metadata: Record<string, unknown>;
}

export async function* readJsonl(file: string): AsyncGenerator<InputDocument> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() !== "") yield JSON.parse(line) as InputDocument;
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
