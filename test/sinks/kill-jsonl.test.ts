import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { killCorpus } from "../helpers/corpus.js";
import {
  exportedTexts,
  killAtRandom,
  pickKeys,
  removeFromLog,
  replayedTexts,
  sortedEntries,
  verifySink,
} from "../helpers/sink-checks.js";

/**
 * The acceptance run of the change-log sink: a 2,000-document run with a `jsonl:` sink, killed with
 * SIGKILL at random moments (mid-commit, mid-delivery, mid-fsync of the log), then finished.
 * Replaying the log gives exactly the export; verify finds nothing; seven chunks removed from the
 * log behind docbatch's back are found by verify and restored by --repair.
 */
describe("jsonl sink under SIGKILL", () => {
  it("replays to the export after random kills, and verify --repair restores removed chunks", async () => {
    const { dir, input, db, docs, random } = killCorpus("jsonl sink kills", "docbatch-kill-jsonl-");
    const log = path.join(dir, "index", "changes.jsonl");
    const store = ["--db", db];
    const args = runArgs(input, { db, batchId: "k", chunkSize: 400, concurrency: 8, sink: `jsonl:${log}` });

    const kills = await killAtRandom(args, db, "k", docs.length, random, 6);
    expect(kills).toBeGreaterThanOrEqual(3);
    const logFile = path.join(dir, "final.log");
    const final = await runCli([...args, "--log-file", logFile]);
    expect(final.code, final.stderr).toBe(0);
    // Recovery order: the dead run's in-flight documents go back first, then the sink cursor.
    const events = fs
      .readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toContain("sink.claimed");
    if (events.includes("checkpoint.recovered")) {
      expect(events.indexOf("checkpoint.recovered")).toBeLessThan(events.indexOf("sink.claimed"));
    }
    const report = JSON.parse(final.stdout);
    expect(report.counts.done).toBe(docs.length);
    expect(report.sinks).toEqual([
      expect.objectContaining({ uri: `jsonl:${log}`, lag: 0, last_error: null }),
    ]);

    const exported = await exportedTexts(store, "k");
    expect(exported.size).toBeGreaterThan(docs.length);
    expect(sortedEntries(await replayedTexts(log))).toEqual(sortedEntries(exported));
    const verify = (...extra: string[]) => verifySink(store, "k", `jsonl:${log}`, ...extra);
    expect(await verify()).toEqual({
      code: 0,
      body: expect.objectContaining({
        expected: exported.size,
        found: exported.size,
        missing: 0,
        extra: 0,
        mismatched: 0,
      }),
    });

    removeFromLog(log, pickKeys(exported, 7, random));
    expect(await verify()).toEqual({
      code: 3,
      body: expect.objectContaining({ missing: 7, extra: 0, mismatched: 0 }),
    });
    expect(await verify("--repair")).toEqual({
      code: 0,
      body: expect.objectContaining({ missing: 0, extra: 0, mismatched: 0, repaired: 7 }),
    });
    expect(sortedEntries(await replayedTexts(log))).toEqual(sortedEntries(exported));
  }, 900_000);
});
