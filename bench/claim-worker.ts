/**
 * A bare worker for the store benchmark: claims documents in groups and commits each with one
 * tiny chunk, through the Store interface only — what the engine asks of a store, minus the
 * pipeline. Prints how many it committed.
 */
import os from "node:os";
import { PostgresStore } from "../src/store/postgres/index.js";
import { SqliteStore } from "../src/store/sqlite/index.js";
import type { ClaimedDocument, Outcome, Store } from "../src/store/store.js";

const [kind, location, batchId, groupArg] = process.argv.slice(2);
const group = Number(groupArg ?? 100);
const store: Store =
  kind === "postgres"
    ? new PostgresStore({ url: location!, poolSize: 2 })
    : new SqliteStore({ file: location! });
await store.open();
const run = await store.startRun({
  batchId: batchId!,
  workerId: `bench-${process.pid}`,
  host: os.hostname(),
  pid: process.pid,
  command: "bench",
  processStartedAt: Date.now(),
});
let held: ClaimedDocument[] = [];
let committed = 0;
for (;;) {
  const now = Date.now();
  const outcomes: Outcome[] = held.map((doc) => ({
    kind: "completed",
    doc,
    degraded: null,
    chunks: [{ index: 0, text: doc.content ?? "", embedding: null }],
    startedAt: now,
    timings: {},
  }));
  const result = await store.commit({ run, outcomes, progress: [], claim: group, leaseMs: 60_000, now });
  committed += result.accepted.filter(Boolean).length;
  held = result.claimed;
  if (held.length === 0) break;
}
await store.endRun(run, "finished", Date.now());
await store.close();
process.stdout.write(`${committed}\n`);
