import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayLog } from "../../src/sinks/jsonl/index.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

/**
 * The acceptance of incremental updates, on both stores, through the CLI: a folder of 1,500
 * files, then 20 changed in one word, 15 deleted and 10 added. `plan --sync full` tells 10 / 20 /
 * 15 and writes nothing (the store's bytes and the endpoint's request count stay as they were);
 * `run --sync full` deletes the 15 from the export, search and a jsonl sink.
 */

const FILES = 1_500;

function writeCorpus(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const words = Array.from({ length: 40 }, (_, j) => `word${(i * 7 + j) % 997}`).join(" ");
    fs.writeFileSync(path.join(dir, `doc-${String(i).padStart(4, "0")}.txt`), `Document ${i}. ${words}.\n`);
  }
}

/** 20 files changed in one word, 15 deleted, 10 added; returns the deleted ids and the new passage. */
function editCorpus(dir: string): { deleted: string[]; passage: string } {
  for (let i = 0; i < 20; i++) {
    const file = path.join(dir, `doc-${String(i).padStart(4, "0")}.txt`);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("Document", "Paper"));
  }
  const deleted: string[] = [];
  for (let i = 100; i < 115; i++) {
    const id = `doc-${String(i).padStart(4, "0")}.txt`;
    fs.rmSync(path.join(dir, id));
    deleted.push(id);
  }
  const passage = "a brand new passage about lighthouses and tides";
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `new-${i}.txt`), `${passage} number ${i}\n`);
  return { deleted, passage };
}

const sha = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

const PG = pgUrl();
const schemas: string[] = [];

const STORES = [
  { kind: "sqlite", args: (dir: string) => ["--db", path.join(dir, "store.db")] },
  ...(PG
    ? [
        {
          kind: "postgres",
          args: () => {
            const fresh = freshSchemaUrl(PG, "incr");
            schemas.push(fresh.schema);
            return ["--store", fresh.url];
          },
        },
      ]
    : []),
];

describe.each(STORES)("incremental sync ($kind)", ({ kind, args }) => {
  let embeddings: EmbeddingTestServer;
  let url: string;
  beforeAll(async () => {
    embeddings = new EmbeddingTestServer();
    url = await embeddings.start();
  });
  afterAll(async () => {
    await embeddings.stop();
    if (PG && kind === "postgres") await dropSchemas(PG, schemas);
  });

  it("plans 10 new / 20 changed / 15 deleted writing nothing, then deletes them everywhere", async () => {
    const dir = tempDir("docbatch-incr-");
    const corpus = path.join(dir, "corpus");
    writeCorpus(corpus);
    const store = args(dir);
    const log = path.join(dir, "changes.jsonl");
    const common = [...store, "--batch-id", "inc", "--embed-url", url, "--no-progress", "--json"];
    const first = await runCli(["run", corpus, ...common, "--sink", `jsonl:${log}`]);
    expect(first.code, first.stderr).toBe(0);
    const { deleted, passage } = editCorpus(corpus);

    const requests = embeddings.stats().requests;
    const bytes = kind === "sqlite" ? sha(store[1]!) : null;
    const plan = await runCli([
      "plan",
      corpus,
      ...common,
      "--sync",
      "full",
      "--price-per-million-tokens",
      "0.02",
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    const preview = JSON.parse(plan.stdout);
    expect(preview).toMatchObject({
      batch_id: "inc",
      new: 10,
      changed: 20,
      deleted: 15,
      unchanged: FILES - 35,
    });
    expect(preview.chunks).toBeGreaterThanOrEqual(30);
    expect(preview.chunks_to_embed).toBe(preview.chunks);
    expect(preview.estimated_tokens).toBeGreaterThan(0);
    expect(preview.estimated_cost).toBeCloseTo((preview.estimated_tokens / 1e6) * 0.02, 6);
    expect(embeddings.stats().requests).toBe(requests);
    if (bytes !== null) expect(sha(store[1]!)).toBe(bytes);

    const run = await runCli(["run", corpus, ...common, "--sync", "full"]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.counts).toMatchObject({ deleted: 15, changed: 20, total: FILES - 5 });

    const exported = jsonLines((await runCli(["export", ...store, "--batch-id", "inc"])).stdout);
    const ids = new Set(exported.map((r) => r.doc_id as string));
    expect(ids.size).toBe(FILES - 5);
    for (const id of deleted) expect(ids.has(id)).toBe(false);

    // The change log replays to the export: the deleted files' chunks left the sink.
    const replayed = await replayLog(log);
    expect(new Set([...replayed.values()].map((l) => l.doc_id))).toEqual(ids);

    const search = await runCli([
      "search",
      deleted[0]!.replace(".txt", ""),
      ...store,
      "--batch-id",
      "inc",
      "--k",
      "50",
      "--json",
    ]);
    expect(search.code, search.stderr).toBe(0);
    const hits = JSON.parse(search.stdout).results as { doc_id: string }[];
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) expect(deleted).not.toContain(hit.doc_id);
    const found = JSON.parse(
      (await runCli(["search", `${passage} number 3`, ...store, "--batch-id", "inc", "--json"])).stdout,
    ).results as { doc_id: string }[];
    expect(found[0]?.doc_id).toBe("new-3.txt");

    // A deleted file that comes back is planned again like a new one.
    fs.writeFileSync(path.join(corpus, deleted[0]!), "back again\n");
    const back = await runCli(["run", corpus, ...common, "--sync", "full"]);
    expect(JSON.parse(back.stdout).counts).toMatchObject({ deleted: 14, total: FILES - 4 });
  }, 240_000);

  it("deletes a batch with all it owns, its sink receiving the deletes first", async () => {
    const dir = tempDir("docbatch-delete-");
    const corpus = path.join(dir, "corpus");
    fs.mkdirSync(corpus);
    for (let i = 0; i < 12; i++)
      fs.writeFileSync(path.join(corpus, `f${i}.md`), `# File ${i}\n\ntext ${i}\n`);
    const store = args(dir);
    const log = path.join(dir, "changes.jsonl");
    const run = await runCli([
      "run",
      corpus,
      ...store,
      "--batch-id",
      "gone",
      "--sink",
      `jsonl:${log}`,
      "--no-progress",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect((await replayLog(log)).size).toBe(12);
    const deleted = await runCli(["delete", ...store, "--batch-id", "gone", "--json"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ batch_id: "gone", documents: 12 });
    expect((await replayLog(log)).size).toBe(0);
    const again = await runCli(["status", ...store, "--batch-id", "gone"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("BATCH_NOT_FOUND");
    const unknown = await runCli(["delete", ...store, "--batch-id", "gone"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("BATCH_NOT_FOUND");
  }, 120_000);
});
