import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgressDisplay } from "../../src/cli/progress-bar.js";
import { seededRandom } from "../../src/core/backoff.js";
import type { Progress } from "../../src/runner/run-batch.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { CLI, runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { testSeed } from "../helpers/seed.js";

const progress = (over: Partial<Progress> = {}): Progress => ({
  batchId: "b",
  total: 200,
  completed: 50,
  failed: 2,
  pending: 148,
  inFlight: 4,
  retriesWaiting: 3,
  breaker: "open",
  startedAt: 0,
  processedThisRun: 52,
  phase: "processing",
  planned: 200,
  ...over,
});

describe("progress display", () => {
  it("renders a bar with done/total, rate, ETA, failures, retries waiting and the breaker state", () => {
    const display = new ProgressDisplay(process.stderr, true);
    const line = display.render(progress(), 120);
    expect(line).toMatch(
      /^\[#+-+\] 52\/200 26\.0% \| \d+ docs\/min \| ETA \S+ \| failed 2 \| retrying 3 \| breaker open$/,
    );
    expect(display.render(progress({ completed: 198, failed: 2 }), 120)).toMatch(/^\[#+\] 200\/200 100\.0%/);
  });

  it("draws a sane bar for any counts: settled beyond a growing total, a zero total, nonsense", () => {
    const count = fc.oneof(
      fc.integer({ min: -5, max: 100_000 }),
      fc.constantFrom(Number.NaN, Infinity, -0.5),
    );
    fc.assert(
      fc.property(
        count,
        count,
        count,
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (total, completed, failed, planning, columns) => {
          const display = new ProgressDisplay(process.stderr, true);
          const p = progress({
            total,
            completed,
            failed,
            planning,
            retriesWaiting: failed,
            inFlight: completed,
          });
          const line = display.render(p, columns);
          const bar = /^\[(#*)(-*)\] (\d+)\/(\d+)(\+ planning| (\d+\.\d)%) \|/.exec(line);
          expect(bar, line).not.toBeNull();
          const [, filled, empty, settled, shown, , pct] = bar!;
          expect(filled!.length + empty!.length).toBeGreaterThanOrEqual(10);
          expect(Number(settled)).toBeLessThanOrEqual(Number(shown));
          if (pct !== undefined) expect(Number(pct)).toBeLessThanOrEqual(100);
          expect(line).not.toMatch(/NaN|Infinity|-\d/);
          expect(display.statusLine(p)).not.toMatch(/NaN|Infinity|-\d/);
        },
      ),
    );
  });

  it("writes a status line at most every interval when not on a terminal", () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s), columns: 80 } as unknown as NodeJS.WriteStream;
    const display = new ProgressDisplay(stream, false, 60_000);
    display.update(progress());
    display.update(progress({ completed: 60 }));
    display.update(progress({ phase: "finished", completed: 198 }));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^docbatch b: 52\/200 \(26\.0%\) processing, \d+ docs\/min, ETA \S+, failed 2, retrying 3, in flight 4, breaker open\n$/,
    );
    expect(lines[1]).toMatch(/^docbatch b: 200\/200 \(100\.0%\) finished/);
  });
});

describe("progress of a real run", () => {
  let server: EmbeddingTestServer;
  let url: string;
  let input: string;
  let dir: string;
  beforeAll(async () => {
    server = new EmbeddingTestServer({ latencyMs: 20 });
    url = await server.start();
    dir = tempDir();
    input = path.join(dir, "c.jsonl");
    writeJsonl(input, makeCorpus({ count: 150, seed: 2, largeShare: 0 }));
  });
  afterAll(async () => {
    await server.stop();
  });

  it("prints periodic status lines on stderr when it is not a terminal", async () => {
    const result = await runCli([
      "run",
      input,
      "--db",
      path.join(dir, "a.db"),
      "--embed-url",
      url,
      "--concurrency",
      "2",
      "--progress-interval-ms",
      // Short enough for a few lines while 150 documents run on a fast machine (about 0.3 s).
      "50",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const status = result.stderr.split("\n").filter((l) => l.startsWith("docbatch "));
    expect(status.length).toBeGreaterThanOrEqual(3);
    expect(status.some((l) => / processing, \d+ docs\/min, ETA /.test(l))).toBe(true);
    expect(status.at(-1)).toMatch(/150\/150 \(100\.0%\) finished/);
    expect(result.stderr).not.toContain("\r");
  }, 60_000);

  it("draws a bar on a terminal (a pseudo-terminal via script)", async () => {
    if (!fs.existsSync("/usr/bin/script")) {
      if (process.env.CI) throw new Error("/usr/bin/script (util-linux) is needed for the terminal test");
      return;
    }
    const command = [
      process.execPath,
      CLI,
      "run",
      input,
      "--db",
      path.join(dir, "b.db"),
      "--embed-url",
      url,
      "--concurrency",
      "2",
    ]
      .map((a) => `'${a}'`)
      .join(" ");
    const output = await inTerminal(command);
    const frames = output.split("\r").filter((f) => f.startsWith("["));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    // A frame drawn before the end. Its bar may be full: the total grows while the input is
    // planned, and a fast machine finishes the documents planned so far between two frames.
    const bar =
      /^\[[#-]+\] (\d+)\/(\d+) [\d.]+% \| \d+ docs\/min \| ETA \S+ \| failed 0 \| retrying 0 \| breaker closed/;
    const midRun = frames.map((f) => bar.exec(f)).filter((m) => m !== null && Number(m[1]) < 150);
    expect(midRun.length, frames.join("\n")).toBeGreaterThanOrEqual(1);
    expect(output).toContain("150/150 100.0%");
    expect(output).toContain("batch ");
  }, 60_000);

  it("draws a sane bar on a terminal over a folder of thousands of files still being planned", async () => {
    if (!fs.existsSync("/usr/bin/script")) {
      if (process.env.CI) throw new Error("/usr/bin/script (util-linux) is needed for the terminal test");
      return;
    }
    const random = seededRandom(testSeed("progress over a folder being planned"));
    const folder = path.join(dir, "folder");
    const files = 4_000 + Math.floor(random() * 3_000);
    for (let i = 0; i < files; i++) {
      const sub = path.join(folder, `part-${i % 40}`);
      fs.mkdirSync(sub, { recursive: true });
      fs.writeFileSync(
        path.join(sub, `doc-${i}.txt`),
        `document ${i} `.repeat(1 + Math.floor(random() * 60)),
      );
    }
    const db = path.join(dir, "folder.db");
    const command = [process.execPath, CLI, "run", folder, "--db", db].map((a) => `'${a}'`).join(" ");
    // A terminal of 120 columns, as the crash was seen in.
    const output = await inTerminal(`stty cols 120 rows 40; ${command}; echo "EXIT=$?"`);
    expect(output, output.slice(-2_000)).toContain("EXIT=0");
    expect(output).not.toMatch(/RangeError|Error:|\n\s+at /);
    const frames = output
      .split("\r")
      .map((f) => f.replace(/\x1b\[K/g, "").split("\n")[0]!)
      .filter((f) => f.startsWith("["));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const frame of frames) {
      const bar =
        /^\[#*-*\] (\d+)\/(\d+)(\+ planning| [\d.]+%) \| \d+ docs\/min \| ETA (\? \(planning\)|\?|\d\S*) \|/.exec(
          frame,
        );
      expect(bar, frame).not.toBeNull();
      expect(Number(bar![1]), frame).toBeLessThanOrEqual(Number(bar![2]));
      expect(frame.length, frame).toBeLessThanOrEqual(120);
    }
    expect(output).toContain(`${files}/${files} 100.0%`);
    // The run ended, and says so: it is not left marked as running.
    const store = new Database(db, { readonly: true });
    try {
      const runs = store.prepare("SELECT ended_at, exit_reason FROM runs").all();
      expect(runs).toEqual([{ ended_at: expect.any(Number), exit_reason: "finished" }]);
    } finally {
      store.close();
    }
  }, 180_000);
});

/** What a shell command writes to a pseudo-terminal (through `script`), once it ended. */
function inTerminal(command: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", () => resolve(out));
    child.stdin.end();
  });
}
