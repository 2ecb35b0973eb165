/**
 * Scenario 1, overhead against the physical limit: docbatch with its durable SQLite store against
 * the same stages run in a plain loop with no store (bench/bare-pipeline.ts), on the same mixed
 * corpus with the local embedder. Each runs a few times, alternating; the best wall time of each
 * counts (the least disturbed run on a shared machine). Throughput is documents ÷ wall time,
 * process start to exit, for both. Then each runs once more with the CPU time of every thread
 * recorded (bench/thread-cpu.mjs; Linux): where docbatch's time goes that the bare loop's does not.
 */

import os from "node:os";
import path from "node:path";
import { writeMixed } from "./corpus.js";
import {
  best,
  CLI,
  cpuByThread,
  docbatch,
  type Measured,
  quick,
  ROOT,
  round,
  script,
  type ThreadCpu,
  tempDir,
  writeResult,
} from "./lib.js";

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
  const profiled = {
    docbatch: await cpuByThread([CLI, "run", input, "--db", path.join(dir, "p.db"), "--no-progress"]),
    bare: await cpuByThread(["--import", "tsx", path.join(ROOT, "bench", "bare-pipeline.ts"), input]),
  };
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
      cpu_by_thread: {
        docbatch: {
          wall_ms: Math.round(profiled.docbatch.measured.wallMs),
          threads: profiled.docbatch.threads,
        },
        bare: { wall_ms: Math.round(profiled.bare.measured.wallMs), threads: profiled.bare.threads },
      },
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
        cpuNote("docbatch", profiled.docbatch),
        cpuNote("bare pipeline", profiled.bare),
        "CPU by thread: one more run of each with bench/thread-cpu.mjs preloaded, user + system time per thread from /proc, in order of start; input: the threads that validate, then plan, the input; cpu: the CPU pool; runtime: V8's and libuv's own threads (garbage collection, compilers, file system; for the bare loop, tsx's module loader too), the process's CPU time beyond its JavaScript threads. Busy: all of it ÷ (cores × wall).",
      ],
    },
  );
}

/** One line of the notes: a run's CPU time by thread, and how busy it kept the machine's cores. */
function cpuNote(name: string, run: { measured: Measured; threads: ThreadCpu[] }): string {
  if (run.threads.length === 0) return `CPU by thread, ${name}: not measured (no /proc here).`;
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  const total = run.threads.reduce((sum, t) => sum + t.cpu_ms, 0);
  const busy = round((total / (os.cpus().length * run.measured.wallMs)) * 100, 0);
  const parts = run.threads.map((t) => `${t.thread} ${seconds(t.cpu_ms)}`);
  return `CPU by thread, ${name} (${seconds(run.measured.wallMs)} s wall): ${parts.join(", ")}; ${seconds(total)} s in all, ${busy}% busy.`;
}

await main();
