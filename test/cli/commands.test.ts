import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, errorOf, jsonLines, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";

describe("docbatch commands", () => {
  let dir: string;
  let db: string;
  let input: string;
  beforeAll(() => {
    dir = tempDir();
    db = path.join(dir, "s.db");
    input = path.join(dir, "small.json");
    fs.writeFileSync(
      input,
      JSON.stringify({
        batch_id: "small",
        documents: [
          { id: "a", content: "Alpha paragraph one.\n\nAlpha paragraph two." },
          { id: "b", content: "# Title\n\nBeta body.", format: "markdown" },
          { id: "c", content: "<p>Gamma</p><script>nope()</script>", format: "html", metadata: { k: 1 } },
        ],
      }),
    );
  });

  it("runs a batch, then a second run processes nothing and says so", async () => {
    const first = await runCli(["run", input, "--db", db, "--no-progress", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.counts).toMatchObject({ total: 3, done: 3 });
    expect(report.runs[0]).toMatchObject({ run: 1, processed: 3, resumed: false });

    const second = await runCli(["run", input, "--db", db, "--no-progress"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(
      /Nothing to do: 3 of 3 documents were already complete \(checkpoint:small\); processed 0/,
    );
    const again = await runCli(["report", "--batch-id", "small", "--db", db, "--json"]);
    const rerun = JSON.parse(again.stdout);
    expect(rerun.runs).toHaveLength(2);
    expect(rerun.runs[1]).toMatchObject({ run: 2, processed: 0, skipped_done: 3, resumed: true });
    expect(rerun.counts.unchanged_skipped).toBe(3);

    const exported = jsonLines((await runCli(["export", "--batch-id", "small", "--db", db])).stdout);
    expect(exported.map((r) => r.doc_id)).toEqual(["a", "b", "c"]);
    expect(exported.find((r) => r.doc_id === "c")).toMatchObject({
      text: expect.not.stringContaining("nope"),
      metadata: { k: 1 },
    });
  });

  it.each(["status", "report", "export", "retry"])(
    "%s of an unknown batch exits 2 with BATCH_NOT_FOUND",
    async (command) => {
      const result = await runCli([command, "--batch-id", "nope", "--db", db]);
      expect(result.code).toBe(2);
      expect(errorOf(result)).toMatchObject({ code: "BATCH_NOT_FOUND", hints: [expect.any(String)] });
      const noStore = await runCli([
        command,
        "--batch-id",
        "nope",
        "--db",
        path.join(dir, "missing", "x.db"),
      ]);
      expect(noStore.code).toBe(2);
      expect(errorOf(noStore).code).toBe("BATCH_NOT_FOUND");
      expect(fs.existsSync(path.join(dir, "missing"))).toBe(false);
    },
  );

  it("rejects unknown commands and flags as usage errors", async () => {
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(errorOf(unknown).code).toBe("USAGE");
    const flag = await runCli(["run", input, "--db", db, "--concurency", "4"]);
    expect(flag.code).toBe(2);
    expect(errorOf(flag)).toMatchObject({
      code: "USAGE",
      details: [expect.objectContaining({ path: "run" })],
    });
    const bad = await runCli(["run", input, "--db", db, "--concurrency", "0"]);
    expect(bad.code).toBe(2);
    expect(errorOf(bad).message).toContain("got `0`");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it("prints help", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("docbatch <command>");
    const runHelp = await runCli(["run", "--help"]);
    expect(runHelp.stdout).toContain("--concurrency N");
  });

  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const)(
    "stops on %s with exit %i after checkpointing, and the next run resumes",
    async (signal, code) => {
      const big = path.join(dir, `big-${signal}.jsonl`);
      const store = path.join(dir, `sig-${signal}.db`);
      writeJsonl(big, makeCorpus({ count: 3_000, seed: 3, largeShare: 0.02 }));
      const args = [
        "run",
        big,
        "--db",
        store,
        "--batch-id",
        "sig",
        "--no-progress",
        "--json",
        "--concurrency",
        "4",
      ];
      const child = spawnCli(args);
      const finished = collect(child);
      await waitFor(() => settled(store) > 200);
      child.kill(signal);
      const stopped = await finished;
      expect(stopped.code, stopped.stderr).toBe(code);
      const mid = JSON.parse(stopped.stdout);
      expect(mid.counts.processing).toBe(0);
      expect(mid.counts.done).toBeLessThan(3_000);
      expect(mid.runs[0].ended_at).not.toBeNull();
      const resumed = await runCli(args);
      expect(resumed.code).toBe(0);
      const report = JSON.parse(resumed.stdout);
      expect(report.counts.done).toBe(3_000);
      expect(report.runs[1].skipped_done).toBe(mid.counts.done);
      expect(report.runs[1].processed).toBe(3_000 - mid.counts.done);
      expect(report.runs[1].recovered_in_flight).toBe(0);
    },
  );
});

function settled(file: string): number {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT COUNT(*) AS n FROM documents WHERE state = 'done'").get() as {
        n: number;
      };
      return row.n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
