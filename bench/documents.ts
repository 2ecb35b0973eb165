/**
 * Documents and a local model on the CPU threads:
 * - PDF pages per second and DOCX files per second, parsed, cleaned and chunked on the CPU pool at
 *   1 and 2 threads (the same generated files as the tests: text pages, headings, tables);
 * - local-model chunks per second with a model of all-MiniLM-L6-v2's exact shape (6 layers, 384
 *   wide, 12 heads, 30,522 tokens; random weights written here, so nothing is downloaded), with
 *   ONNX Runtime on 1 and 2 cores. Each model configuration runs in a process of its own
 *   (onnxruntime-node 1.21 runs sessions on one thread per process).
 *
 * Usage: npx tsx bench/documents.ts [--quick]   (after `npm run build`: the pool runs dist/)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeDocx, makePdf } from "../test/helpers/documents.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "..", "dist");
const quick = process.argv.includes("--quick");

const words = "retrieval chunk vector index search model page report quarterly revenue growth region".split(
  " ",
);
let state = 7;
const word = (): string => {
  state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
  return words[state % words.length]!;
};
const sentence = (n: number): string => `${Array.from({ length: n }, word).join(" ")}.`;

async function cpuRun(tasks: object[], threads: number): Promise<number> {
  process.stderr.write(`cpu run: ${tasks.length} tasks on ${threads} thread(s)\n`);
  const { CpuPool } = (await import(path.join(dist, "pipeline", "cpu-pool.js"))) as {
    CpuPool: new (
      n: number,
    ) => { ready(): Promise<void>; run(t: object): Promise<unknown>; close(): Promise<void> };
  };
  const pool = new CpuPool(threads);
  await pool.ready();
  // Warm: each thread loads its parsers once.
  await Promise.all(tasks.slice(0, threads * 2).map((t) => pool.run(t)));
  const started = performance.now();
  await Promise.all(tasks.map((t) => pool.run(t)));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return seconds;
}

async function documents(): Promise<Record<string, number>> {
  const pdfs = Array.from({ length: quick ? 20 : 60 }, () =>
    makePdf(
      Array.from({ length: 10 }, () => [
        [sentence(40), sentence(30)],
        [sentence(50)],
        [sentence(35), sentence(25)],
      ]),
    ).toString("base64"),
  );
  const docxs = await Promise.all(
    Array.from({ length: quick ? 40 : 120 }, () =>
      makeDocx([
        { heading: sentence(4) },
        ...Array.from({ length: 12 }, () => ({ paragraph: sentence(45) })),
        { heading: sentence(3), level: 2 },
        { table: Array.from({ length: 8 }, () => [word(), word(), String(state % 1000)]) },
      ]).then((b) => b.toString("base64")),
    ),
  );
  const task = (content: string, format: string) => ({
    content,
    format,
    chunk: { size: 1000, overlap: 0 },
    mode: "normal",
    embedDimensions: null,
    name: "doc",
  });
  const out: Record<string, number> = {};
  for (const threads of [1, 2]) {
    const pdfSeconds = await cpuRun(
      pdfs.map((c) => task(c, "pdf")),
      threads,
    );
    out[`pdf_pages_per_s_${threads}`] = (pdfs.length * 10) / pdfSeconds;
    const docxSeconds = await cpuRun(
      docxs.map((c) => task(c, "docx")),
      threads,
    );
    out[`docx_files_per_s_${threads}`] = docxs.length / docxSeconds;
  }
  return out;
}

/** One model configuration, in this process (called as a child). */
async function modelChild(dir: string, threads: number, count: number): Promise<void> {
  const { ModelEmbedder } = (await import(path.join(dist, "pipeline", "embed", "model.js"))) as {
    ModelEmbedder: new (
      d: string,
      t: number,
    ) => {
      embed(t: string[], s: AbortSignal): Promise<Float32Array[]>;
      close(): Promise<void>;
    };
  };
  // Chunks of about 1,000 characters (the default chunk size), some 170 word pieces each.
  const chunks = Array.from({ length: count }, () =>
    Array.from({ length: 14 }, () => sentence(10)).join(" "),
  );
  const embedder = new ModelEmbedder(dir, threads);
  const signal = new AbortController().signal;
  await embedder.embed(chunks.slice(0, 8), signal);
  const started = performance.now();
  for (let i = 0; i < chunks.length; i += 64) await embedder.embed(chunks.slice(i, i + 64), signal);
  const seconds = (performance.now() - started) / 1000;
  await embedder.close();
  process.stdout.write(`${JSON.stringify({ chunks_per_s: count / seconds })}\n`);
}

async function model(): Promise<Record<string, number>> {
  process.stderr.write("local model: writing a model of all-MiniLM-L6-v2's shape, then 1 and 2 threads\n");
  const dir = path.join(os.tmpdir(), "docbatch-bench-minilm-shape");
  if (!fs.existsSync(path.join(dir, "onnx", "model.onnx"))) {
    const { writeBertModel, MINILM_L6_SHAPE } = await import("../src/testing/onnx-bert.js");
    writeBertModel(dir, MINILM_L6_SHAPE);
  }
  const out: Record<string, number> = {};
  for (const threads of [1, 2]) {
    const child = spawnSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        "--model-child",
        dir,
        String(threads),
        quick ? "64" : "256",
      ],
      { encoding: "utf8" },
    );
    const line = child.stdout.trim().split("\n").pop() ?? "";
    if (child.status !== 0 || !line.startsWith("{")) throw new Error(`model child failed: ${child.stderr}`);
    out[`model_chunks_per_s_${threads}`] = (JSON.parse(line) as { chunks_per_s: number }).chunks_per_s;
  }
  return out;
}

const childAt = process.argv.indexOf("--model-child");
if (childAt >= 0) {
  const [dir, threads, count] = process.argv.slice(childAt + 1);
  await modelChild(dir!, Number(threads), Number(count));
} else {
  const results = { ...(await documents()), ...(await model()) };
  const rows = Object.entries(results).map(([k, v]) => `| ${k} | ${v.toFixed(1)} |`);
  const table = ["| measure | value |", "| --- | --- |", ...rows].join("\n");
  process.stdout.write(
    `${table}\nload average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  );
  // Other work on a shared machine shows in the load average: read the figures against it.
  const machine = { node: process.version, cpus: os.availableParallelism(), loadavg: os.loadavg(), quick };
  fs.mkdirSync(path.join(here, "results"), { recursive: true });
  fs.writeFileSync(
    path.join(here, "results", "documents.json"),
    `${JSON.stringify({ machine, results }, null, 2)}\n`,
  );
  fs.writeFileSync(path.join(here, "results", "documents.md"), `${table}\n`);
}
