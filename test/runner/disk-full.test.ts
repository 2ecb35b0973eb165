import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus, writeJsonl } from "../helpers/corpus.js";
import { testSeed } from "../helpers/seed.js";
import { expectCompleteExport, exportRows } from "../helpers/store.js";

const exec = promisify(execFile);
const root = process.getuid?.() === 0;
if (!root && process.env.CI)
  throw new Error("the full-disk test must run under CI (as root, to mount a tmpfs)");

/**
 * The SQLite store on a small tmpfs that fills up in the middle of a run: the run stops with the
 * unified error body (a stable code, no stack trace) and exit 1, having written nothing partial;
 * once space is freed, the same command completes with nothing lost or doubled.
 */
describe.skipIf(!root)("a full disk under the SQLite store", () => {
  let mount: string;
  beforeAll(async () => {
    mount = tempDir("docbatch-tmpfs-");
  });
  afterAll(async () => {
    // Lazily: a run still holding the store (a test that timed out) must not keep the mount.
    await exec("umount", ["-l", mount]).catch(() => {});
    fs.rmSync(mount, { recursive: true, force: true });
  });

  it("stops with STORE_FULL, exit 1, then the same command completes once space is freed", async () => {
    const random = seededRandom(testSeed("full disk"));
    // Small enough that the store fills while documents are being processed, not at its creation.
    const size = 3 + Math.floor(random() * 4);
    await exec("mount", ["-t", "tmpfs", "-o", `size=${size}m`, "tmpfs", mount]);
    const dir = tempDir();
    const input = path.join(dir, "c.jsonl");
    const docs = makeCorpus({ count: 3_000, seed: 17, largeShare: 0.01 });
    writeJsonl(input, docs);
    const db = path.join(mount, "store.db");
    const command = ["run", input, "--db", db, "--batch-id", "full", "--no-progress", "--json"];

    const full = await runCli(command);
    expect(full.code, full.stderr.slice(-2_000)).toBe(1);
    const lines = full.stderr.trim().split("\n");
    // The unified body only: one JSON line, no stack trace, no driver's error dump.
    expect(lines, full.stderr).toHaveLength(1);
    const body = JSON.parse(lines[0]!) as { error: { code: string; message: string; hints: string[] } };
    expect(body.error.code).toBe("STORE_FULL");
    expect(body.error.hints.join(" ")).toMatch(/Free disk space.*run the same command again/);
    expect(full.stdout).toBe("");

    await exec("mount", ["-o", "remount,size=256m", mount]);
    const again = await runCli(command);
    expect(again.code, again.stderr.slice(-2_000)).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.counts).toMatchObject({ total: docs.length, pending: 0, processing: 0, failed: 0 });
    expect(report.dup_rate).toBe(0);
    expect(report.runs.length).toBeGreaterThanOrEqual(2);
    expectCompleteExport(
      await exportRows(db, "full"),
      docs.map((d) => d.id),
    );
  }, 300_000);
});
