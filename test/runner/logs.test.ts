import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { commandArgs, runArgs } from "../helpers/args.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus } from "../helpers/corpus.js";
import { killWhen, startCli, waitFor } from "../helpers/processes.js";
import { countDone } from "../helpers/store.js";

describe("structured logs", () => {
  let server: EmbeddingTestServer;
  beforeAll(() => {
    server = new EmbeddingTestServer({ latencyMs: 3, seed: 3, rates: { error500: 0.1 } });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("writes a JSON line for every state change, retry, failure, fallback, breaker change, run start/end and recovery", async () => {
    const url = await server.start();
    const dir = tempDir();
    const input = path.join(dir, "c.json");
    const docs = makeCorpus({ count: 400, seed: 6, largeShare: 0 });
    fs.writeFileSync(
      input,
      JSON.stringify([
        ...docs.map((d) => ({ id: d.id, content: d.content, format: d.format })),
        { id: "missing", path: "nope.txt" },
        { id: "broken", content: "{", format: "json" },
      ]),
    );
    const log = path.join(dir, "logs", "run.log");
    const db = path.join(dir, "s.db");
    const args = runArgs(input, {
      db,
      batchId: "l",
      json: false,
      embedUrl: url,
      logFile: log,
      logLevel: "debug",
      baseDelayMs: 10,
      concurrency: 4,
    });
    await killWhen(startCli(args), () => countDone(db, "l") >= 150, { timeoutMs: 60_000 });
    server.setRates({ error500: 1 });
    const { finished: done } = startCli(args);
    // The service stays down until the breaker has opened (and said so in the log).
    await waitFor(
      () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes('"to":"open"'),
      60_000,
      done,
    );
    server.setRates({});
    expect((await done).code).toBe(0);

    const entries = fs
      .readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = new Set(entries.map((e) => e.event));
    for (const event of [
      "run.start",
      "plan.done",
      "doc.claimed",
      "doc.committed",
      "doc.retry",
      "doc.failed",
      "doc.fallback",
      "breaker.change",
      "checkpoint.recovered",
      "run.end",
    ]) {
      expect(events, `missing ${event}`).toContain(event);
    }
    for (const e of entries) {
      expect(typeof e.time).toBe("string");
      expect(typeof e.level).toBe("number");
      expect(typeof e.msg).toBe("string");
    }
    const retry = entries.find((e) => e.event === "doc.retry")!;
    expect(retry).toMatchObject({ batchId: "l", stage: "embed", error: { code: "EMBED_UNAVAILABLE" } });
    expect(typeof retry.delayMs).toBe("number");
    expect(entries.find((e) => e.event === "doc.failed")).toMatchObject({
      doc: "missing",
      error: { code: "NOT_FOUND" },
    });
    expect(entries.find((e) => e.event === "doc.fallback" && e.doc === "broken")).toMatchObject({
      doc: "broken",
      error: { code: "MALFORMED_CONTENT" },
    });
    expect(entries.filter((e) => e.event === "breaker.change").map((e) => e.to)).toContain("open");
    expect((entries.find((e) => e.event === "checkpoint.recovered")!.recovered as number) > 0).toBe(true);
    const report = JSON.parse((await runCli(commandArgs("report", { batchId: "l", db }))).stdout);
    expect(report.breaker_openings).toBeGreaterThan(0);
  }, 90_000);
});
