import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runArgs } from "../helpers/args.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { corpusOnDisk, FORBIDDEN } from "../helpers/corpus.js";
import { killWhen, rerunWhile, sleep, startCli } from "../helpers/processes.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { peekSqlite } from "../helpers/store.js";

/**
 * The core promise: kill the process at any instant, run the same command again, and the batch
 * ends with every document complete exactly once and no text lost.
 */
describe("kill -9 and resume", () => {
  it("finishes a 2,000-document batch after repeated SIGKILLs, with nothing lost or duplicated", async () => {
    const { input, db, docs } = corpusOnDisk({ count: 2_000, seed: 11, largeShare: 0.01 });
    const args = runArgs(input, { db, batchId: "k", concurrency: 8, chunkSize: 400 });
    const random = seededRandom(testSeed("kill -9 and resume"));

    // Kill points as shares of the batch completed; the first one lands during planning.
    const thresholds = [-1, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85].map((t) =>
      t < 0 ? t : t + (random() - 0.5) * 0.08,
    );
    let kills = 0;
    let invocations = 0;
    for (const threshold of thresholds) {
      const run = startCli(args);
      invocations += 1;
      const killed = await killWhen(run, () => reached(db, threshold), {
        timeoutMs: 300_000,
        jitterMs: 15,
        random,
      });
      const result = await run.finished;
      if (killed) {
        expect(result.signal).toBe("SIGKILL");
        kills += 1;
      } else {
        expect(result.code).toBe(0);
        break;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    const { result: final, runs } = await rerunWhile(args, (r) => r.code !== 0, 20 - invocations);
    invocations += runs;
    expect(final.code, final.stderr).toBe(0);
    const report = JSON.parse(final.stdout);
    expect(report.counts.total).toBe(docs.length);
    expect(report.counts.done).toBe(docs.length);
    expect(report.completion_rate).toBe(1);
    expect(report.runs).toHaveLength(invocations);
    expect(report.runs.filter((r: { resumed: boolean }) => r.resumed).length).toBe(invocations - 1);
    const recovered = report.runs.reduce(
      (sum: number, r: { recovered_in_flight: number }) => sum + r.recovered_in_flight,
      0,
    );
    expect(recovered).toBeGreaterThan(0);
    expect(report.dup_rate).toBe(0);

    const exported = await runCli(["export", "--batch-id", "k", "--db", db]);
    expect(exported.code).toBe(0);
    const byDoc = new Map<string, { chunk_index: number; chunk_count: number; text: string }[]>();
    for (const row of jsonLines(exported.stdout) as {
      doc_id: string;
      chunk_index: number;
      chunk_count: number;
      text: string;
    }[]) {
      const list = byDoc.get(row.doc_id) ?? [];
      list.push(row);
      byDoc.set(row.doc_id, list);
    }
    expect(byDoc.size).toBe(docs.length);
    for (const doc of docs) {
      const chunks = byDoc.get(doc.id)!;
      expect(chunks, doc.id).toBeDefined();
      expect(chunks.map((c) => c.chunk_index)).toEqual(chunks.map((_, i) => i));
      expect(new Set(chunks.map((c) => c.chunk_count))).toEqual(new Set([chunks.length]));
      const text = chunks.map((c) => c.text).join("\n");
      for (const marker of doc.markers) expect(text.includes(marker), `${doc.id} lost ${marker}`).toBe(true);
      for (const word of FORBIDDEN) expect(text.includes(word), `${doc.id} leaked ${word}`).toBe(false);
    }
  }, 300_000);
});

describe("kill -9 during planning", () => {
  it("resumes planning at its checkpoint: nothing planned twice, nothing skipped", async () => {
    const dir = tempDir();
    const input = path.join(dir, "many.jsonl");
    const db = path.join(dir, "plan.db");
    const count = 40_000;
    const lines: string[] = [];
    for (let i = 0; i < count; i++)
      lines.push(JSON.stringify({ id: `p${i}`, content: `document number ${i} body` }));

    fs.writeFileSync(input, `${lines.join("\n")}\n`);
    const args = runArgs(input, { db, batchId: "k" });
    const { child, finished } = startCli(args);
    let planned = 0;
    for (;;) {
      const state = planState(db);
      if (state && state.records > 0 && !state.complete) {
        child.kill("SIGKILL");
        planned = state.records;
        break;
      }
      if (state?.complete) throw new Error("planning finished before it could be killed; use a larger input");
      await sleep(2);
    }
    expect((await finished).signal).toBe("SIGKILL");
    const after = planState(db)!;
    expect(after.complete).toBe(false);
    expect(after.records).toBeGreaterThanOrEqual(planned);
    expect(after.records).toBeLessThan(count);

    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout);
    expect(report.counts).toMatchObject({ total: count, done: count, duplicates_skipped: 0 });
    expect(report.plan).toMatchObject({ records: count, complete: true, generation: 1 });
  }, 120_000);
});

function planState(file: string): { records: number; complete: boolean } | null {
  return peekSqlite(file, (db) => {
    const row = db.prepare("SELECT plan_records, plan_complete FROM batches WHERE batch_id = 'k'").get() as
      | { plan_records: number; plan_complete: number }
      | undefined;
    return row ? { records: row.plan_records, complete: row.plan_complete === 1 } : null;
  });
}

/**
 * Whether the store shows `threshold` of the batch completed (a negative threshold: whether
 * planning has written something).
 */
function reached(file: string, threshold: number): boolean {
  const share = progress(file, threshold < 0);
  return share !== null && share >= threshold;
}

function progress(file: string, planning: boolean): number | null {
  return peekSqlite(file, (db) => {
    if (planning) {
      const row = db.prepare("SELECT plan_records FROM batches WHERE batch_id = 'k'").get() as
        | { plan_records: number }
        | undefined;
      return row && row.plan_records > 0 ? 0 : null;
    }
    const row = db
      .prepare(
        "SELECT SUM(state IN ('done', 'degraded', 'failed')) AS settled, COUNT(*) AS total FROM documents WHERE batch_id = 'k'",
      )
      .get() as { settled: number | null; total: number };
    return row.total > 0 ? (row.settled ?? 0) / 2_000 : null;
  });
}
