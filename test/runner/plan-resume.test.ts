import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openInput } from "../../src/input/sources.js";
import { planBatch } from "../../src/runner/planner.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { tempDir } from "../helpers/cli.js";
import { writeFile } from "../helpers/fixtures.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { peekSqlite } from "../helpers/store.js";

/**
 * A plan stopped after any slice and continued by a new planner (as after a kill while planning):
 * the continuation reads the input from the checkpoint on, so every document is planned once, in
 * input order, and nothing planned before the stop is stat'ed or read again.
 */

const LAYER = "test-layer";
let dir = "";
let db = "";
let store: SqliteStore;

beforeEach(async () => {
  dir = tempDir("docbatch-plan-resume-");
  db = path.join(dir, "store.db");
  store = new SqliteStore({ file: db });
  await store.open();
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Plans one slice at a time, each by a planner that opens the input afresh; how many it took. */
async function planInSlices(input: string, batchId: string, random: () => number): Promise<number> {
  const first = await openInput(input, { storeFiles: [db] });
  await store.beginPlan({
    batchId,
    layer: LAYER,
    settings: {},
    inputRef: input,
    fingerprint: await first.fingerprint(),
  });
  const stopped = AbortSignal.abort();
  for (let planners = 1; planners < 1_000; planners++) {
    const source = await openInput(input, { storeFiles: [db] });
    const batch = (await store.getBatch(batchId))!;
    const sliceDocs = 3 + Math.floor(random() * 40);
    const summary = await planBatch(store, source, batch, {
      maxDocBytes: 1 << 20,
      layer: LAYER,
      sliceDocs,
      signal: stopped,
    });
    if (summary.complete) return planners;
  }
  throw new Error("the plan never completed");
}

interface Row {
  seq: number;
  doc_id: string;
  load_error: string | null;
  content_hash: string;
}

function documents(batchId: string): Row[] {
  return peekSqlite(
    db,
    (d) =>
      d
        .prepare(
          "SELECT seq, doc_id, load_error, content_hash FROM documents WHERE batch_id = ? ORDER BY seq",
        )
        .all(batchId) as Row[],
  )!;
}

describe("a plan continued from its checkpoint", () => {
  it("plans every file of a folder once, in listing order, whatever slice it stopped after", async () => {
    const random = seededRandom(testSeed("plan-resume folder"));
    const folder = path.join(dir, "docs");
    const names: string[] = [];
    for (let i = 0; i < 240; i++) {
      const name = `d${i % 7}/f${String(i).padStart(3, "0")}.${i % 20 === 0 ? "png" : "txt"}`;
      writeFile(folder, name, i % 20 === 0 ? Buffer.from([0x89, 0x50, 0x4e, 0x47]) : `file ${i}\n`);
      names.push(name);
    }
    const planners = await planInSlices(folder, "f", random);
    expect(planners).toBeGreaterThan(4);
    const listed = [...names].sort();
    const rows = documents("f");
    expect(rows.map((r) => r.doc_id)).toEqual(listed.filter((n) => n.endsWith(".txt")));
    expect(rows.every((r) => r.load_error === null)).toBe(true);
    // Sequence numbers are input positions: the skipped images leave their gaps.
    expect(rows.map((r) => r.seq)).toEqual(listed.flatMap((n, i) => (n.endsWith(".txt") ? [i] : [])));
    const batch = await store.getBatch("f");
    expect(batch).toMatchObject({ planComplete: true, planRecords: 240, duplicatesSkipped: 0 });
    expect((await store.counts("f")).skipped_unsupported).toBe(12);
  });

  it("never stats or reads again the `path` documents it planned before the stop", async () => {
    const random = seededRandom(testSeed("plan-resume paths"));
    const lines: string[] = [];
    for (let i = 0; i < 150; i++) {
      if (i % 3 === 0) {
        writeFile(dir, `files/p${i}.txt`, `path document ${i}\n`);
        lines.push(JSON.stringify({ id: `p${i}`, path: `files/p${i}.txt` }));
      } else lines.push(JSON.stringify({ id: `s${i}`, content: `inline document ${i}` }));
    }
    const input = writeFile(dir, "input.jsonl", `${lines.join("\n")}\n`);
    const source = await openInput(input, { storeFiles: [db] });
    await store.beginPlan({
      batchId: "p",
      layer: LAYER,
      settings: {},
      inputRef: input,
      fingerprint: await source.fingerprint(),
      externalFiles: true,
    });
    const batch = (await store.getBatch("p"))!;
    await planBatch(store, source, batch, {
      maxDocBytes: 1 << 20,
      layer: LAYER,
      sliceDocs: 60,
      signal: AbortSignal.abort(),
    });
    const before = documents("p");
    expect(before).toHaveLength(60);
    // A file planned before the stop and one after it go away: only the second is seen missing.
    fs.rmSync(path.join(dir, "files/p30.txt"));
    fs.rmSync(path.join(dir, "files/p90.txt"));
    await planInSlices(input, "p", random);
    const rows = documents("p");
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(rows.map((r) => r.doc_id)).toEqual(lines.map((l) => (JSON.parse(l) as { id: string }).id));
    expect(rows.slice(0, 60)).toEqual(before);
    expect(rows.filter((r) => r.load_error !== null).map((r) => r.doc_id)).toEqual(["p90"]);
  });
});
