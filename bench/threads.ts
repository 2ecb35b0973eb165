/**
 * Scenario 6, both cores: a CPU-bound corpus (large HTML and markdown pages, local embedder),
 * processed with the CPU stages on two worker threads and on the main thread.
 */
import path from "node:path";
import { writeCpuBound } from "./corpus.js";
import { best, docbatch, quick, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 200 : 400;
const rounds = quick ? 2 : 3;

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "cpu.jsonl");
  writeCpuBound(input, count);
  const threads: number[] = [];
  const single: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = await docbatch([
      "run",
      input,
      "--db",
      path.join(dir, `t${r}.db`),
      "--no-progress",
      "--threads",
      "2",
    ]);
    const m = await docbatch([
      "run",
      input,
      "--db",
      path.join(dir, `m${r}.db`),
      "--no-progress",
      "--threads",
      "0",
    ]);
    if (t.code !== 0 || m.code !== 0) throw new Error(`docbatch failed: ${t.stderr}${m.stderr}`);
    threads.push(t.wallMs);
    single.push(m.wallMs);
  }
  const ratio = round(best(single) / best(threads), 3);
  const perSecond = (ms: number) => round((count / ms) * 1000, 1);
  writeResult(
    "threads",
    {
      documents: count,
      wall_ms: { threads2: threads.map(Math.round), main_thread: single.map(Math.round) },
      ratio,
    },
    {
      title: "Both cores: CPU stages on 2 worker threads vs on the main thread",
      columns: ["mode", "documents / s", "ratio"],
      rows: [
        ["main thread (--threads 0)", perSecond(best(single)), 1],
        ["2 worker threads (--threads 2)", perSecond(best(threads)), ratio],
      ],
      notes: [
        `${count} HTML and markdown pages of 50–150 KB; best of ${rounds} runs each, process start to exit.`,
      ],
    },
  );
}

await main();
