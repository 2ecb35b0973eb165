import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { collect, errorOf, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { testSeed } from "../helpers/seed.js";

const SEED = testSeed("large document");

const SIZE = 20 * 1024 * 1024;

/** Prose with paragraphs, CRLF line endings and some accented words: every pass has work to do. */
function writeLargeDocument(file: string): void {
  const random = seededRandom(SEED);
  const words = ["retrieval", "document", "chunk", "vector", "résumé", "naïve", "batch", "store", "café"];
  const lines: string[] = [];
  let size = 0;
  while (size < SIZE) {
    const n = 6 + Math.floor(random() * 12);
    let line = "";
    for (let i = 0; i < n; i++) line += `${words[Math.floor(random() * words.length)]} `;
    line = `${line.trim()}.\r\n${random() < 0.15 ? "\r\n" : ""}`;
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.from(lines.join("")).subarray(0, SIZE));
}

/** The peak resident memory (VmHWM) of a child, read from /proc until it exits. */
async function peakRss(child: ChildProcess): Promise<number> {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch {
      // Exited between two reads.
    }
  }, 5);
  try {
    const result = await collect(child);
    expect(result.code, result.stderr).toBe(0);
  } finally {
    clearInterval(timer);
  }
  return peak;
}

describe("a large document", () => {
  it("costs at most 8 times its size in memory, over the same run of a small document", async () => {
    const dir = tempDir("docbatch-large-");
    writeLargeDocument(path.join(dir, "big", "manual.txt"));
    fs.mkdirSync(path.join(dir, "small"));
    fs.writeFileSync(path.join(dir, "small", "note.txt"), "A small note.\n");
    const args = (folder: string) => [
      "run",
      path.join(dir, folder),
      "--db",
      path.join(dir, `${folder}.db`),
      "--max-doc-bytes",
      String(SIZE),
      "--no-progress",
      "--json",
    ];
    const baseline = await peakRss(spawnCli(args("small")));
    const large = await peakRss(spawnCli(args("big")));
    const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
    console.log(
      `peak RSS: ${mb(large)} for a ${mb(SIZE)} document (${(large / SIZE).toFixed(1)}x its size), ` +
        `${mb(baseline)} for a small one: the document cost ${mb(large - baseline)} ` +
        `(${((large - baseline) / SIZE).toFixed(1)}x)`,
    );
    expect(large - baseline).toBeLessThanOrEqual(8 * SIZE);

    const exported = await runCli(["export", "--db", path.join(dir, "big.db")]);
    let text = 0;
    let chunks = 0;
    for (const line of exported.stdout.split("\n")) {
      if (line === "") continue;
      const row = JSON.parse(line) as { text: string; embedding_dim: number | null };
      text += row.text.length;
      chunks += 1;
      expect(row.embedding_dim).toBe(256);
    }
    expect(chunks).toBeGreaterThan(SIZE / 1000);
    // Nothing lost: CRLF became LF, and paragraphs keep one blank line.
    expect(text).toBeGreaterThan(SIZE * 0.9);
  }, 180_000);

  it("fails DOC_TOO_LARGE above --max-doc-bytes, naming the flag, and the flag raises the limit", async () => {
    const dir = tempDir("docbatch-large-");
    fs.mkdirSync(path.join(dir, "docs"));
    fs.writeFileSync(path.join(dir, "docs", "a.txt"), "x".repeat(5_000));
    const db = path.join(dir, "s.db");
    const runWithLimit = (limit: string) =>
      runCli(["run", path.join(dir, "docs"), "--db", db, "--max-doc-bytes", limit, "--no-progress"]);
    const small = await runWithLimit("4096");
    expect(small.code).toBe(3);
    const status = JSON.parse((await runCli(["status", "--db", db, "--json"])).stdout);
    expect(status.failed_documents[0].last_error.code).toBe("DOC_TOO_LARGE");
    expect(status.failed_documents[0].last_error.message).toMatch(
      /more than --max-doc-bytes \(4,096\); raise --max-doc-bytes/,
    );
    const raised = await runWithLimit("8192");
    expect(raised.code).toBe(0);
    const bad = await runCli(["run", path.join(dir, "docs"), "--db", db, "--max-doc-bytes", "lots"]);
    expect(bad.code).toBe(2);
    expect(errorOf(bad).message).toContain("--max-doc-bytes expects an integer");
  });
});
