/**
 * Scenario 1, overhead against the physical limit: docbatch with its durable SQLite store against
 * the same stages run in a plain loop with no store (bench/bare-pipeline.ts), on the same mixed
 * corpus with the local embedder. Each runs a few times, alternating; the best wall time of each
 * counts (the least disturbed run on a shared machine). Throughput is documents ÷ wall time,
 * process start to exit, for both.
 */
import path from "node:path";
import { writeMixed } from "./corpus.js";
import { best, docbatch, quick, round, script, tempDir, writeResult } from "./lib.js";

const count = quick ? 5_000 : 20_000;
const rounds = quick ? 2 : 3;

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "mixed.jsonl");
  writeMixed(input, count);
  const bare: number[] = [];
  const durable: number[] = [];
  const mainThread: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = await script("bare-pipeline.ts", [input]);
    if (b.code !== 0) throw new Error(`bare pipeline failed: ${b.stderr}`);
    bare.push(b.wallMs);
    const d = await docbatch(["run", input, "--db", path.join(dir, `d${r}.db`), "--no-progress"]);
    if (d.code !== 0) throw new Error(`docbatch failed: ${d.stderr}`);
    durable.push(d.wallMs);
    const m = await docbatch([
      "run",
      input,
      "--db",
      path.join(dir, `m${r}.db`),
      "--no-progress",
      "--threads",
      "0",
    ]);
    mainThread.push(m.wallMs);
  }
  const perSecond = (ms: number) => round((count / ms) * 1000, 0);
  const ratio = round(best(bare) / best(durable), 3);
  writeResult(
    "overhead",
    {
      documents: count,
      wall_ms: {
        bare: bare.map(Math.round),
        docbatch: durable.map(Math.round),
        docbatch_main_thread: mainThread.map(Math.round),
      },
      docs_per_second: {
        bare: perSecond(best(bare)),
        docbatch: perSecond(best(durable)),
        docbatch_main_thread: perSecond(best(mainThread)),
      },
      ratio_docbatch_over_bare: ratio,
      ratio_main_thread_over_bare: round(best(bare) / best(mainThread), 3),
    },
    {
      title: "Overhead against the bare pipeline (local embedder, SQLite, mixed corpus)",
      columns: ["system", "documents / s", "÷ bare"],
      rows: [
        ["bare pipeline (no store, one thread)", perSecond(best(bare)), 1],
        ["docbatch (durable store, worker threads)", perSecond(best(durable)), ratio],
        ["docbatch --threads 0", perSecond(best(mainThread)), round(best(bare) / best(mainThread), 3)],
      ],
      notes: [
        `${count} documents; best of ${rounds} runs each, process start to exit (validation, planning and the report included for docbatch).`,
      ],
    },
  );
}

await main();
