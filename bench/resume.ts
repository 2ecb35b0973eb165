/**
 * Scenarios 3 and 4, resume at scale and memory: a batch of small documents (a million in full
 * mode) as JSON Lines, processed with the local embedder and SIGKILLed at about half; then the
 * same command again, to completion; then once more on the finished batch.
 * - resume time: from the second process's start to its first unfinished document being
 *   processed (the report's resume_time_ms, measured by docbatch itself);
 * - re-run of the finished batch: wall time of the third process;
 * - memory: peak RSS of the processes that processed the JSON Lines (VmHWM from /proc).
 */
import path from "node:path";
import Database from "better-sqlite3";
import { writeSmall } from "./corpus.js";
import { docbatch, quick, round, tempDir, writeResult } from "./lib.js";

const count = quick ? 200_000 : 1_000_000;

function settled(file: string): number {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM documents WHERE state = 'done'").get() as { n: number })
        .n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

async function main() {
  const dir = tempDir();
  const input = path.join(dir, "small.jsonl");
  writeSmall(input, count);
  const db = path.join(dir, "resume.db");
  const args = ["run", input, "--db", db, "--batch-id", "scale", "--no-progress", "--json"];
  let lastCheck = 0;
  const first = await docbatch(args, (child) => {
    if (Date.now() - lastCheck < 500) return;
    lastCheck = Date.now();
    if (settled(db) >= count / 2) child.kill("SIGKILL");
  });
  if (first.signal !== "SIGKILL")
    throw new Error(`the first run was not killed (exit ${first.code}): ${first.stderr}`);
  const killedAt = settled(db);
  const second = await docbatch(args);
  if (second.code !== 0) throw new Error(`the resumed run failed: ${second.stderr}`);
  const report = JSON.parse(second.stdout) as {
    resume_time_ms: number;
    counts: { done: number };
    runs: { recovered_in_flight: number }[];
  };
  const third = await docbatch(args);
  if (third.code !== 0) throw new Error(`the re-run failed: ${third.stderr}`);
  const rerun = JSON.parse(third.stdout) as { runs: { processed: number }[] };
  const peak = Math.max(first.peakRssMb, second.peakRssMb);
  writeResult(
    "resume",
    {
      documents: count,
      killed_at_documents: killedAt,
      resume_time_ms: report.resume_time_ms,
      recovered_in_flight: report.runs.at(-1)?.recovered_in_flight,
      resumed_run_wall_ms: Math.round(second.wallMs),
      finished_rerun_wall_ms: Math.round(third.wallMs),
      finished_rerun_processed: rerun.runs.at(-1)?.processed,
      peak_rss_mb: { first: first.peakRssMb, resumed: second.peakRssMb, rerun: third.peakRssMb },
      done: report.counts.done,
    },
    {
      title: `Resume and memory at ${count.toLocaleString("en-US")} documents`,
      columns: ["measure", "value", "goal"],
      rows: [
        ["killed at", `${killedAt.toLocaleString("en-US")} documents done`, "about half"],
        ["process start → first unfinished document processing", `${report.resume_time_ms} ms`, "≤ 1 s"],
        [
          "re-run of the finished batch (wall, report included)",
          `${round(third.wallMs / 1000, 2)} s`,
          "≤ 5 s",
        ],
        ["peak RSS processing the JSON Lines", `${peak} MB`, "≤ 300 MB"],
      ],
      notes: ["Local embedder, default settings; the input is streamed, never loaded whole."],
    },
  );
}

await main();
