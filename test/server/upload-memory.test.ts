/**
 * A large JSON body is read as a stream, once per pass, never whole: the service's peak memory
 * (VmHWM of the child process, from /proc) grows by far less than a few copies of the body.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/cli.js";
import { startServeProcess, waitUntilSettled } from "../helpers/serve.js";

const MB = 1024 * 1024;

/** Peak resident set size of a process so far, in bytes (Linux). */
function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

function documents(prefix: string, count: number, bytes: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    content: `Paragraph ${i} of a long report about batches. `.repeat(Math.ceil(bytes / 48)).slice(0, bytes),
    metadata: { i, tags: ["a", "b"] },
  }));
}

describe("a 50 MB JSON upload", () => {
  it("grows the service's peak RSS by less than 200 MB, and every document is stored", async () => {
    const dir = tempDir("docbatch-upload-");
    const serve = await startServeProcess(["--db", path.join(dir, "up.db")]);
    try {
      const pid = serve.child.pid!;
      // A small batch first: threads, pools and code paths are warm when the baseline is taken.
      const warm = await fetch(`${serve.url}/v1/batches?batch_id=warm`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ documents: documents("warm", 200, 2_500) }),
      });
      expect(warm.status).toBe(202);
      await waitUntilSettled(serve.url, "warm", 60_000);
      const before = peakRss(pid);

      const body = JSON.stringify({ batch_id: "big", documents: documents("big", 20_500, 2_500) });
      expect(body.length).toBeGreaterThan(50 * MB);
      const submitted = await fetch(`${serve.url}/v1/batches`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(submitted.status, await submitted.clone().text()).toBe(202);
      const status = (await waitUntilSettled(serve.url, "big", 110_000)) as {
        counts: Record<string, number>;
      };
      expect(status.counts).toMatchObject({ total: 20_500, done: 20_500 });
      const growth = peakRss(pid) - before;
      console.log(`peak RSS ${Math.round(before / MB)} MB before, grew by ${Math.round(growth / MB)} MB`);
      expect(growth).toBeLessThan(200 * MB);
    } finally {
      serve.child.kill("SIGKILL");
    }
  }, 180_000);
});
