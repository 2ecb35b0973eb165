import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { ModelEmbedder } from "../../src/pipeline/embed/model.js";
import { writeBertModel } from "../../src/testing/onnx-bert.js";
import { errorOf, jsonLines, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { testSeed } from "../helpers/seed.js";

/**
 * A local model (--embed-model-dir) with a BERT-shaped ONNX model and WordPiece tokenizer the test
 * writes itself: vectors of the model's dimension, equal to those @huggingface/transformers computes
 * directly for the same texts, and a batch killed with SIGKILL resumes like any other.
 */
const seed = testSeed("documents/local-model.test");
let modelDir: string;

/** The reference: the library itself, called directly on one text at a time. */
async function reference(texts: string[]): Promise<number[][]> {
  const transformers = (await import("@huggingface/transformers")) as unknown as {
    env: { allowRemoteModels: boolean; localModelPath: string };
    pipeline(
      task: string,
      model: string,
      options: object,
    ): Promise<(t: string, o: object) => Promise<{ data: Float32Array }>>;
  };
  transformers.env.allowRemoteModels = false;
  transformers.env.localModelPath = `${path.dirname(modelDir)}/`;
  const extract = await transformers.pipeline("feature-extraction", path.basename(modelDir), {
    dtype: "fp32",
  });
  const out: number[][] = [];
  for (const text of texts)
    out.push(Array.from((await extract(text, { pooling: "mean", normalize: true })).data));
  return out;
}

const words =
  "the document chunk model vector search index page report memo guide alpha beta gamma delta".split(" ");
function corpus(count: number): { id: string; content: string }[] {
  let state = seed;
  const next = (): number => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: count }, (_, i) => ({
    id: `doc-${i}`,
    content: Array.from({ length: 3 }, () =>
      Array.from(
        { length: 8 + Math.floor(next() * 30) },
        () => words[Math.floor(next() * words.length)],
      ).join(" "),
    ).join(".\n\n"),
  }));
}

beforeAll(() => {
  modelDir = writeBertModel(path.join(tempDir("docbatch-model-"), "tiny-bert"), { ...tinyShape(), seed });
});

function tinyShape() {
  return { layers: 2, hidden: 32, heads: 4, intermediate: 64, vocab: 600, maxPositions: 128 };
}

describe("--embed-model-dir", () => {
  it("gives vectors equal to the library's own", async () => {
    const texts = ["the quick report", "a memo about vectors and search", "Alpha, beta; gamma!", "x"];
    const expected = await reference(texts);
    const embedder = new ModelEmbedder(modelDir);
    const vectors = await embedder.embed(texts, new AbortController().signal);
    expect(vectors.map((v) => v.length)).toEqual([32, 32, 32, 32]);
    expect(vectors.map((v) => Array.from(v))).toEqual(expected);
    expect(embedder.id).toMatch(/^onnx:tiny-bert:[0-9a-f]{12}$/);
    // The model thread of a run (two cores) is covered by the batch below: onnxruntime-node 1.21
    // cannot run sessions on two threads of one process, and this one already ran one here.
  });

  it("runs a batch whose exported vectors equal the reference, and resumes after SIGKILL", async () => {
    const dir = tempDir();
    const input = path.join(dir, "docs.jsonl");
    const db = path.join(dir, "store.db");
    const docs = corpus(120);
    fs.writeFileSync(input, docs.map((d) => JSON.stringify(d)).join("\n"));
    const args = [
      "run",
      input,
      "--db",
      db,
      "--batch-id",
      "m",
      "--embed-model-dir",
      modelDir,
      "--chunk-size",
      "120",
    ];
    const child = spawnCli([...args, "--no-progress", "--concurrency", "4", "--threads", "2"]);
    // Killed once some documents are done, wherever the others are.
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        try {
          const store = new Database(db, { readonly: true, fileMustExist: true });
          const done = store.prepare("SELECT COUNT(*) AS n FROM documents WHERE state = 'done'").get() as {
            n: number;
          };
          store.close();
          if (done.n >= 10) {
            child.kill("SIGKILL");
            clearInterval(timer);
            resolve();
          }
        } catch {
          // Not created yet.
        }
      }, 20);
      child.on("exit", () => {
        clearInterval(timer);
        resolve();
      });
    });
    expect(await exited, "the first run was killed midway").toBe("SIGKILL");
    const resumed = await runCli([...args, "--json", "--no-progress"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain("hashing embedder");
    const report = JSON.parse(resumed.stdout) as { counts: { done: number; total: number } };
    expect(report.counts).toMatchObject({ total: 120, done: 120 });
    const rows = jsonLines(
      (await runCli(["export", "--batch-id", "m", "--db", db, "--with-embeddings"])).stdout,
    ) as {
      text: string;
      embedding: number[];
      embedding_dim: number;
    }[];
    expect(rows.length).toBeGreaterThan(120);
    const expected = await reference(rows.map((r) => r.text));
    rows.forEach((row, i) => {
      expect(row.embedding_dim).toBe(32);
      // The export writes each float32 in nine significant digits, which read back exactly.
      expect(row.embedding.map(Math.fround)).toEqual(expected[i]);
    });
  }, 180_000);

  it("refuses a missing model folder as a usage error that says how to get a model", async () => {
    const input = path.join(tempDir(), "one.json");
    fs.writeFileSync(input, JSON.stringify([{ id: "a", content: "x" }]));
    const result = await runCli([
      "run",
      input,
      "--db",
      path.join(tempDir(), "s.db"),
      "--embed-model-dir",
      "/nonexistent/model",
    ]);
    expect(result.code).toBe(2);
    const error = errorOf(result);
    expect(error.code).toBe("MODEL_NOT_FOUND");
    expect(error.hints.join(" ")).toMatch(/all-MiniLM-L6-v2/);
  });
});
