import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { FactsBuilder } from "../facts.js";
import { type FactsThreadData, SETTLED_FACTS } from "./read.js";

/**
 * One reader of a large batch's report facts (see documentFacts in read.ts): the settled
 * documents whose rows fall in [from, to), read through a read-only connection of its own and
 * written into its part of the shared columns. It answers with how many values it wrote.
 */
const { file, batchId, origin, from, to, buffers, offset } = workerData as FactsThreadData;
const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 15_000 });
try {
  const builder = FactsBuilder.into(origin, buffers, offset, to - from);
  const rows = db.prepare(`${SETTLED_FACTS} AND row >= ? AND row < ?`).raw();
  for (const row of rows.iterate(batchId, from, to) as IterableIterator<unknown[]>) builder.add(row);
  parentPort!.postMessage(builder.lengths());
} finally {
  db.close();
}
