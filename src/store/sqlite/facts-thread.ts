import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { FactsBuilder } from "../facts.js";
import { SETTLED_FACTS } from "./read.js";

/**
 * One reader of a large batch's report facts (see documentFactsInThreads): the settled documents
 * whose rows fall in [from, to), read through a read-only connection of its own. The columns go
 * back as transferred buffers.
 */
const { file, batchId, origin, from, to } = workerData as {
  file: string;
  batchId: string;
  origin: number;
  from: number;
  to: number;
};
const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 15_000 });
try {
  const builder = new FactsBuilder(origin);
  const rows = db.prepare(`${SETTLED_FACTS} AND row >= ? AND row < ?`).raw();
  for (const row of rows.iterate(batchId, from, to) as IterableIterator<unknown[]>) builder.add(row);
  const columns = builder.columns();
  // Copies: a NumberList's buffer is larger than its values, and only whole buffers transfer.
  const out = {
    durations: columns.durations.slice(),
    stages: columns.stages.map((s) => s.slice()),
    commits: columns.commits.slice(),
  };
  parentPort!.postMessage(out, [
    out.durations.buffer,
    ...out.stages.map((s) => s.buffer),
    out.commits.buffer,
  ]);
} finally {
  db.close();
}
