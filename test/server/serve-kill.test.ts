import path from "node:path";
import { describe, expect, it } from "vitest";
import { jsonLines, tempDir } from "../helpers/cli.js";
import { makeCorpus } from "../helpers/corpus.js";
import { sharedEmbeddings } from "../helpers/embeddings.js";
import { getJson, startServeProcess, waitUntilSettled } from "../helpers/serve.js";

describe("docbatch serve, killed and restarted", () => {
  const embeddings = sharedEmbeddings({ latencyMs: 8 });

  const body = (count: number, seed: number) =>
    makeCorpus({ count, seed, largeShare: 0 })
      .map((d) => JSON.stringify({ id: d.id, content: d.content, format: d.format, metadata: d.metadata }))
      .join("\n");

  it("resumes the batch after SIGKILL and completes it with no duplicate chunks", async () => {
    const dir = tempDir();
    const args = [
      "--db",
      path.join(dir, "s.db"),
      "--embed-url",
      embeddings.url,
      "--concurrency",
      "4",
      "--embed-batch-size",
      "4",
    ];
    const first = await startServeProcess(args);
    const submitted = await fetch(`${first.url}/v1/batches?batch_id=k`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: body(800, 4),
    });
    expect(submitted.status).toBe(202);
    for (;;) {
      const status = await getJson<{ counts: { done: number } }>(`${first.url}/v1/batches/k/status`);
      if (status.counts.done >= 250) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = await startServeProcess(args);
    try {
      const status = (await waitUntilSettled(second.url, "k")) as { counts: Record<string, number> };
      expect(status.counts).toMatchObject({ total: 800, done: 800, pending: 0, processing: 0 });
      const report = await getJson<{
        runs: { recovered_in_flight: number; resumed: boolean; ended_at: string | null }[];
        dup_rate: number;
      }>(`${second.url}/v1/batches/k`);
      expect(report.runs.length).toBeGreaterThanOrEqual(2);
      expect(report.runs[0]!.ended_at).toBeNull();
      expect(report.runs.some((r) => r.resumed && r.recovered_in_flight > 0)).toBe(true);
      expect(report.dup_rate).toBe(0);
      const rows = jsonLines(await (await fetch(`${second.url}/v1/batches/k/export`)).text()) as {
        doc_id: string;
        chunk_index: number;
        chunk_count: number;
      }[];
      const seen = new Set<string>();
      const perDoc = new Map<string, number>();
      for (const row of rows) {
        const key = `${row.doc_id}#${row.chunk_index}`;
        expect(seen.has(key), `duplicate chunk ${key}`).toBe(false);
        seen.add(key);
        perDoc.set(row.doc_id, (perDoc.get(row.doc_id) ?? 0) + 1);
        expect(row.chunk_index).toBeLessThan(row.chunk_count);
      }
      expect(perDoc.size).toBe(800);
      for (const row of rows) expect(perDoc.get(row.doc_id)).toBe(row.chunk_count);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  }, 180_000);

  it("on SIGTERM checkpoints the running batch and exits 0; the next start finishes it", async () => {
    const dir = tempDir();
    const args = ["--db", path.join(dir, "s.db"), "--embed-url", embeddings.url, "--concurrency", "2"];
    const first = await startServeProcess(args);
    await fetch(`${first.url}/v1/batches?batch_id=t`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: body(400, 9),
    });
    for (;;) {
      const status = await getJson<{ counts: { done: number } }>(`${first.url}/v1/batches/t/status`);
      if (status.counts.done >= 50) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    first.child.kill("SIGTERM");
    const exit = await first.exited;
    expect(exit.code, first.stderr()).toBe(0);
    expect(first.stderr()).toContain("checkpointing");

    const second = await startServeProcess(args);
    try {
      const mid = await getJson<{ runs: { exit_reason: string; ended_at: string | null }[] }>(
        `${second.url}/v1/batches/t`,
      );
      expect(mid.runs[0]).toMatchObject({ exit_reason: "interrupted" });
      expect(mid.runs[0]!.ended_at).not.toBeNull();
      const status = (await waitUntilSettled(second.url, "t")) as { counts: Record<string, number> };
      expect(status.counts).toMatchObject({ total: 400, done: 400 });
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  }, 120_000);
});
