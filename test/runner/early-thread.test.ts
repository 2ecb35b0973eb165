import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";

// The compiled modules: their input thread exists in dist/ (built first when stale, see
// test/global-setup.ts), and both share one copy of the hand-over.
const { InputThread } = await import("../../dist/runner/input-runner.js");
const { startEarlyInputThread, takeEarlyInputThread } = await import("../../dist/runner/early-thread.js");

const THREAD = pathToFileURL(path.resolve("dist/runner/input-thread.js"));

const exited = (worker: Worker) => new Promise<number>((resolve) => worker.once("exit", resolve));

function jsonl(lines: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docbatch-early-"));
  const file = path.join(dir, "in.jsonl");
  const docs = Array.from({ length: lines }, (_, i) =>
    JSON.stringify({ id: `d${i % 40}`, content: `text ${i % 40}` }),
  );
  fs.writeFileSync(file, `${docs.join("\n")}\n`);
  return file;
}

afterEach(() => InputThread.discard());

describe("the input thread the CLI's entry file starts", () => {
  it("is handed over once", () => {
    expect(takeEarlyInputThread()).toBeNull();
    const worker = startEarlyInputThread(THREAD);
    expect(takeEarlyInputThread()).toBe(worker);
    expect(takeEarlyInputThread()).toBeNull();
    void worker.terminate();
  });

  it("is the thread a run's first job runs on", async () => {
    const worker = startEarlyInputThread(THREAD);
    const gone = exited(worker);
    InputThread.prewarm();
    // The run took it: nothing is left to hand over.
    expect(takeEarlyInputThread()).toBeNull();
    const summary = await InputThread.validate({ path: jsonl(100), storeFiles: [] });
    expect(summary).toMatchObject({ records: 100, distinct: 40 });
    // A job's thread ends with it: the early thread did the job.
    await expect(gone).resolves.toBeTypeOf("number");
  });

  it("ends unused when the run does not plan", async () => {
    const worker = startEarlyInputThread(THREAD);
    const gone = exited(worker);
    InputThread.discard();
    await expect(gone).resolves.toBeTypeOf("number");
    expect(takeEarlyInputThread()).toBeNull();
  });
});
