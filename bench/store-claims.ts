/**
 * Claim-and-commit throughput of the stores, without the pipeline: 1, 2 and 4 worker processes
 * against the local Postgres, and the embedded SQLite store, on the same tiny documents. Each
 * worker claims 100 documents and commits them (one chunk each) in the transaction that claims the
 * next 100, as the engine does. The per-document cost of each store is its time per document.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { contentHash, idempotencyKey } from "../src/core/keys.js";
import type { PlannedDocument } from "../src/core/types.js";
import { PostgresStore } from "../src/store/postgres/index.js";
import { SqliteStore } from "../src/store/sqlite/index.js";
import type { Store } from "../src/store/store.js";
import { quick, ROOT, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 20_000 : 100_000;
const pgBase = process.env.DOCBATCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function plan(store: Store, batchId: string): Promise<void> {
  const cursor = await store.beginPlan({
    batchId,
    layer: "bench",
    settings: {},
    inputRef: "bench",
    fingerprint: "f",
  });
  for (let from = 0; from < count; from += 5_000) {
    const docs: PlannedDocument[] = [];
    for (let i = from; i < Math.min(count, from + 5_000); i++) {
      const content = `document ${i}`;
      const hash = contentHash("text", {}, content);
      docs.push({
        seq: i,
        source: "bench",
        docId: `d${i}`,
        format: "text",
        metadata: {},
        content,
        loadError: null,
        contentHash: hash,
        idempotencyKey: idempotencyKey("bench", `d${i}`, hash, "bench"),
      });
    }
    await store.planDocuments(batchId, cursor.batch.planGeneration, docs, {
      records: from + docs.length,
      offset: from + docs.length,
    });
  }
  await store.finishPlan(batchId, cursor.batch.planGeneration);
}

function worker(kind: string, location: string, batchId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "bench", "claim-worker.ts"), kind, location, batchId, "100"],
      {
        stdio: ["ignore", "pipe", "inherit"],
        cwd: ROOT,
      },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("close", (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`worker exited ${code}`)),
    );
  });
}

/** Documents per second between the first claim and the last commit, read from the store. */
async function measure(
  kind: "postgres" | "sqlite",
  workers: number,
): Promise<{ docsPerSecond: number; usPerDoc: number }> {
  const batchId = `claims-${workers}`;
  let location: string;
  let store: Store;
  let schema = "";
  if (kind === "postgres") {
    schema = `bench_claims_${process.pid}_${workers}`;
    const u = new URL(pgBase);
    u.searchParams.set("schema", schema);
    location = u.toString();
    store = new PostgresStore({ url: location });
  } else {
    location = path.join(tempDir(), "claims.db");
    store = new SqliteStore({ file: location });
  }
  await store.open();
  await plan(store, batchId);
  const done = await Promise.all(Array.from({ length: workers }, () => worker(kind, location, batchId)));
  if (done.reduce((a, b) => a + b, 0) !== count) throw new Error(`committed ${done} of ${count}`);
  const runs = (await store.listRuns(batchId)).filter((r) => r.firstClaimAt !== null);
  const start = Math.min(...runs.map((r) => r.firstClaimAt!));
  const end = Math.max(...runs.map((r) => r.endedAt ?? r.lastSeenAt));
  await store.close();
  if (kind === "postgres") {
    const client = new pg.Client({ connectionString: pgBase });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
  const seconds = (end - start) / 1000;
  return { docsPerSecond: round(count / seconds, 0), usPerDoc: round((seconds * 1e6) / count, 1) };
}

async function main() {
  const results: Record<string, { docsPerSecond: number; usPerDoc: number }> = {};
  results.sqlite_1 = await measure("sqlite", 1);
  for (const workers of [1, 2, 4]) results[`postgres_${workers}`] = await measure("postgres", workers);
  const rows = [
    ["SQLite (embedded), 1 worker", results.sqlite_1!.docsPerSecond, results.sqlite_1!.usPerDoc],
    ...[1, 2, 4].map((w) => [
      `Postgres, ${w} worker${w > 1 ? "s" : ""}`,
      results[`postgres_${w}`]!.docsPerSecond,
      results[`postgres_${w}`]!.usPerDoc,
    ]),
  ] as (string | number)[][];
  const overhead = round(results.postgres_1!.usPerDoc / results.sqlite_1!.usPerDoc, 2);
  writeResult(
    "store-claims",
    { documents: count, group: 100, results, postgres_vs_sqlite_per_document: overhead },
    {
      title: "Claim-and-commit throughput of the stores (no pipeline)",
      columns: ["store", "documents / s", "µs / document"],
      rows: [...rows, ["Postgres ÷ SQLite, time per document (1 worker)", "", overhead]],
      notes: [
        `${count} tiny documents; each worker commits 100 and claims the next 100 in one transaction, as the engine does.`,
        "Baselines measured on these machines: Postgres claim+done LIMIT 100 with a partial index, 25,083/s (1 process), 32,775/s (4).",
      ],
    },
  );
}

await main();
