import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { commandArgs, runArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { corpusOnDisk } from "../helpers/corpus.js";
import { killWhen, startCli } from "../helpers/processes.js";
import { countDone } from "../helpers/store.js";

/** Documents committed more than once, tallied from the structured log alone. */
function committedTwice(logFile: string): number {
  const commits = new Map<string, number>();
  for (const line of fs.readFileSync(logFile, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { event?: string; doc?: string; source?: string };
    if (entry.event !== "doc.committed") continue;
    const key = `${entry.source}/${entry.doc}`;
    commits.set(key, (commits.get(key) ?? 0) + 1);
  }
  return [...commits.values()].filter((n) => n > 1).length;
}

describe("the report after a crash", () => {
  it("covers every run, counts each latency once, and its dup_rate matches an independent tally", async () => {
    const { dir, input, db } = corpusOnDisk({ count: 1_500, seed: 17, largeShare: 0.01 });
    const log = path.join(dir, "run.log");
    const args = runArgs(input, { db, batchId: "r", logFile: log, concurrency: 4 });

    const killed = await killWhen(startCli(args), () => countDone(db, "r") >= 600, { timeoutMs: 60_000 });
    expect(killed).toBe(true);
    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);

    const report = JSON.parse((await runCli(commandArgs("report", { batchId: "r", db }))).stdout);
    expect(report.runs).toHaveLength(2);
    expect(report.runs[0]).toMatchObject({ run: 1, resumed: false, ended_at: null, exit_reason: "crashed" });
    expect(report.runs[1]).toMatchObject({ run: 2, resumed: true, exit_reason: "finished" });
    expect(report.runs[0].processed + report.runs[1].processed).toBe(1_500);
    expect(report.runs[1].skipped_done).toBe(report.runs[0].processed);
    expect(report.latency_ms.count).toBe(1_500);
    expect(report.latency_ms.p95).toBeGreaterThanOrEqual(report.latency_ms.p50);
    expect(report.resume_time_ms).toBe(report.runs[1].resume_time_ms);
    expect(report.resume_time_ms).toBeGreaterThan(0);
    expect(report.resume_time_ms).toBeLessThan(60_000);
    for (const stage of ["parse", "clean", "chunk", "embed", "write"]) {
      expect(report.stage_latency_ms[stage].p95).toBeGreaterThanOrEqual(report.stage_latency_ms[stage].p50);
    }
    expect(committedTwice(log)).toBe(0);
    expect(report.dup_rate).toBe(0);

    // Re-execute completed work on purpose (a store edited by hand, as a bug would): the measured
    // duplicate rate must see exactly what the log sees.
    const raw = new Database(db);
    raw
      .prepare(
        "UPDATE documents SET state = 'pending' WHERE row IN (SELECT row FROM documents ORDER BY row LIMIT 7)",
      )
      .run();
    raw.close();
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    const after = JSON.parse(again.stdout);
    const tally = committedTwice(log);
    expect(tally).toBe(7);
    expect(after.duplicate_executions).toBe(tally);
    expect(after.dup_rate).toBeCloseTo(tally / 1_500, 4);
    expect(after.latency_ms.count).toBe(1_500);
    expect(after.runs).toHaveLength(3);
  }, 120_000);
});
