// Export speed of the Postgres store against SQLite, for the same batch: both stores are filled by
// the same run, then `docbatch export` (with and without vectors) is timed from each, best of 3.
// `npx tsx bench/export.ts [--quick]` (needs DOCBATCH_PG_URL); results in bench/results/export.*
import { spawn } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { CLI, quick, tempDir, writeResult } from "./lib.js";

const url = process.env.DOCBATCH_PG_URL;
if (!url) throw new Error("bench/export.ts needs DOCBATCH_PG_URL");
const docs = quick ? 3_000 : 15_000;

function cli(args: string[]): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let bytes = 0;
    child.stdout.on("data", (d: Buffer) => {
      bytes += d.length;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve({ ms: performance.now() - started, bytes }) : reject(new Error(`exit ${code}`)),
    );
  });
}

async function best(args: string[]): Promise<{ ms: number; bytes: number }> {
  const runs = [await cli(args), await cli(args), await cli(args)];
  return runs.sort((a, b) => a.ms - b.ms)[0]!;
}

const dir = tempDir();
const input = path.join(dir, "docs.jsonl");
const { writeFileSync } = await import("node:fs");
const lines: string[] = [];
for (let i = 0; i < docs; i++) {
  const text = Array.from(
    { length: 12 },
    (_, p) => `Paragraph ${p} of document ${i}: ${"words and more words ".repeat(12)}`,
  );
  lines.push(JSON.stringify({ id: `doc-${String(i).padStart(6, "0")}`, content: text.join("\n\n") }));
}
writeFileSync(input, `${lines.join("\n")}\n`);
const schema = `bench_export_${Date.now()}`;
const store = new URL(url);
store.searchParams.set("schema", schema);
const db = path.join(dir, "s.db");
const common = ["--batch-id", "e", "--chunk-size", "300", "--no-progress"];
await cli(["run", input, "--db", db, ...common]);
await cli(["run", input, "--store", store.toString(), ...common]);
try {
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = { docs };
  for (const vectors of [false, true]) {
    const extra = vectors ? ["--with-embeddings"] : [];
    const sqlite = await best(["export", "--db", db, "--batch-id", "e", ...extra]);
    const postgres = await best(["export", "--store", store.toString(), "--batch-id", "e", ...extra]);
    const label = vectors ? "with vectors" : "without vectors";
    rows.push([
      label,
      Math.round(sqlite.ms),
      Math.round(postgres.ms),
      (postgres.ms / sqlite.ms).toFixed(2),
      sqlite.bytes === postgres.bytes ? "yes" : "NO",
    ]);
    data[label] = { sqlite_ms: sqlite.ms, postgres_ms: postgres.ms, bytes: sqlite.bytes };
  }
  writeResult("export", data, {
    title: `docbatch export of ${docs} documents (${quick ? "quick" : "full"}), best of 3, ms`,
    columns: ["export", "SQLite", "Postgres", "Postgres / SQLite", "same bytes"],
    rows,
  });
} finally {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}
