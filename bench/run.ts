/**
 * `npm run bench [-- --quick]`: every scenario, one after the other, then bench/results/summary.md
 * with the goals and the figures achieved. Each scenario can also run alone (`npx tsx bench/X.ts`);
 * `npx tsx bench/run.ts --summary [--quick]` then writes the summary again from the results in
 * bench/results/, running nothing.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { quick, RESULTS, ROOT } from "./lib.js";

const SCENARIOS = [
  "overhead",
  "peers",
  "resume",
  "embed-bound",
  "embed-limit",
  "threads",
  "store-claims",
  "serve-load",
  "sinks",
  "embed-cache",
  "incremental",
];

function run(file: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "bench", `${file}.ts`), ...(quick ? ["--quick"] : [])],
      {
        stdio: "inherit",
        cwd: ROOT,
      },
    );
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// biome-ignore lint/suspicious/noExplicitAny: results are JSON written by the scenarios
function read(name: string): Record<string, any> | null {
  const file = path.join(RESULTS, `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : null;
}

async function main() {
  if (process.argv.includes("--summary")) return summary();
  if (!fs.existsSync(path.join(ROOT, "dist", "cli", "main.js")))
    throw new Error("build first: npm run build");
  const failed: string[] = [];
  for (const scenario of SCENARIOS) {
    if (scenario === "store-claims" && !(await reachable(5432))) {
      console.log("\nstore-claims: skipped, no PostgreSQL on 127.0.0.1:5432");
      continue;
    }
    console.log(`\n=== ${scenario}${quick ? " (quick)" : ""}`);
    if ((await run(scenario)) !== 0) failed.push(scenario);
  }
  summary();
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

type Mark = (ok: boolean | null | undefined) => string;

/** The peers' goals per corpus: docbatch ÷ each peer (medians over the rounds), texts re-embedded. */
// biome-ignore lint/suspicious/noExplicitAny: results are JSON written by the scenarios
function peersRows(peers: Record<string, any> | null, mark: Mark): unknown[][] {
  const corpora = (peers?.corpora ?? []) as {
    corpus: string;
    systems: {
      name: string;
      docbatch_over_system: { median: number } | null;
      kill: { texts_re_embedded: number };
    }[];
  }[];
  // The goal's bound: requests in flight × texts per request.
  const bound = peers
    ? (peers.settings?.concurrency ?? 8) * (peers.settings?.embed_batch_size ?? 32)
    : undefined;
  return corpora.flatMap(({ corpus, systems }) => {
    const ratio = (name: string) => systems.find((s) => s.name === name)?.docbatch_over_system?.median;
    const reembedded = systems.find((s) => s.name === "docbatch")?.kill.texts_re_embedded;
    return [
      ...[
        ["bullmq", "BullMQ pipeline"],
        ["langchain", "LangChain.js index()"],
      ].map(([name, label]) => [
        `docbatch ÷ ${label}, ${corpus} corpus (median)`,
        "≥ 2",
        ratio(name!),
        mark(ratio(name!) !== undefined ? ratio(name!)! >= 2 : undefined),
      ]),
      [
        `texts re-embedded after a SIGKILL at 50%, ${corpus} corpus`,
        `≤ ${bound ?? "concurrency × batch"}`,
        reembedded,
        mark(reembedded !== undefined && bound !== undefined ? reembedded <= bound : undefined),
      ],
    ];
  });
}

function summary() {
  const overhead = read("overhead");
  const peers = read("peers");
  const resume = read("resume");
  const embed = read("embed-bound");
  const limit = read("embed-limit") as { results?: { corpus: string; median: number }[] } | null;
  const limitOf = (corpus: string) => limit?.results?.find((r) => r.corpus === corpus)?.median;
  const threads = read("threads");
  const sinks = read("sinks");
  const cache = read("embed-cache");
  const incremental = read("incremental");
  const mark: Mark = (ok) => (ok === undefined || ok === null ? "–" : ok ? "met" : "not met");
  const rows = [
    [
      "docbatch throughput ÷ bare pipeline",
      "≥ 0.85",
      overhead?.ratio_docbatch_over_bare,
      mark(overhead && overhead.ratio_docbatch_over_bare >= 0.85),
    ],
    ...peersRows(peers, mark),
    [
      `${resume?.documents?.toLocaleString?.("en-US") ?? "?"} documents: process start → first unfinished document`,
      "≤ 1 s",
      resume ? `${resume.resume_time_ms} ms` : undefined,
      mark(resume ? resume.resume_time_ms <= 1000 : undefined),
    ],
    [
      `${resume?.documents?.toLocaleString?.("en-US") ?? "?"} documents: re-run when finished`,
      "≤ 5 s",
      resume ? `${(resume.finished_rerun_wall_ms / 1000).toFixed(2)} s` : undefined,
      mark(resume ? resume.finished_rerun_wall_ms <= 5000 : undefined),
    ],
    [
      "peak RSS streaming the JSON Lines",
      "≤ 300 MB",
      resume ? `${Math.max(resume.peak_rss_mb.first, resume.peak_rss_mb.resumed)} MB` : undefined,
      mark(resume ? Math.max(resume.peak_rss_mb.first, resume.peak_rss_mb.resumed) <= 300 : undefined),
    ],
    [
      `requests in flight ÷ request concurrency, ${embed?.latency_ms ?? 50} ms endpoint`,
      "≥ 0.9",
      embed ? `${embed.defaults.ratio} (defaults) / ${embed.equal.ratio} (8 and 8)` : undefined,
      mark(embed ? Math.max(embed.defaults.ratio, embed.equal.ratio) >= 0.9 : undefined),
    ],
    ...["mixed", "small"].map((corpus) => [
      `docbatch ÷ bare embedding client, ${corpus} corpus (median)`,
      "≥ 0.9",
      limitOf(corpus),
      mark(limitOf(corpus) !== undefined ? limitOf(corpus)! >= 0.9 : undefined),
    ]),
    [
      "2 worker threads ÷ main thread, CPU-bound corpus",
      "≥ 1.6",
      threads?.ratio,
      mark(threads ? threads.ratio >= 1.6 : undefined),
    ],
    [
      "run with a jsonl: sink ÷ without (built-in embedder / 20 ms endpoint)",
      "≥ 0.9",
      sinks ? `${sinks.ratio_jsonl_over_none} / ${sinks.endpoint.ratio_jsonl_over_none}` : undefined,
      mark(
        sinks
          ? Math.max(sinks.ratio_jsonl_over_none, sinks.endpoint.ratio_jsonl_over_none) >= 0.9
          : undefined,
      ),
    ],
    [
      "cold run with the embedding cache ÷ with --no-cache (10 ms endpoint / built-in embedder)",
      "≥ 0.95",
      cache
        ? `${cache.cold.http.ratio_cache_over_no_cache} / ${cache.cold.local.ratio_cache_over_no_cache}`
        : undefined,
      mark(
        cache
          ? Math.min(cache.cold.http.ratio_cache_over_no_cache, cache.cold.local.ratio_cache_over_no_cache) >=
              0.95
          : undefined,
      ),
    ],
    [
      "second batch, same documents, new chunk overlap: texts embedded ÷ chunks",
      "printed",
      cache ? cache.new_overlap.ratio_embedded_over_chunks : undefined,
      "–",
    ],
    [
      `re-run of a finished ${incremental?.files?.toLocaleString?.("en-US") ?? "?"}-file folder batch`,
      "≤ 3 s",
      incremental ? `${(incremental.finished_rerun_wall_ms / 1000).toFixed(2)} s` : undefined,
      mark(incremental ? incremental.finished_rerun_wall_ms <= 3000 : undefined),
    ],
    [
      `${incremental?.documents?.toLocaleString?.("en-US") ?? "?"} documents with \`path\` ones, killed while planning: start → first unfinished document`,
      "≤ 1 s",
      incremental ? `${incremental.resume_time_ms} ms` : undefined,
      mark(incremental ? incremental.resume_time_ms <= 1000 : undefined),
    ],
    ["pgvector: delivery (PGlite), chunks / s", "measured", sinks?.pgvector_pglite?.chunksPerSecond, "–"],
    [
      "search p50 / p95 at 100,000 chunks (sqlite-vec)",
      "measured",
      sinks ? `${sinks.search.indexed.p50} / ${sinks.search.indexed.p95} ms` : undefined,
      "–",
    ],
  ];
  const md = [
    `# Benchmark summary (${quick ? "quick" : "full"} mode, ${new Date().toISOString()})`,
    "",
    "| measure | goal | achieved | |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.map((c) => (c === undefined ? "–" : String(c))).join(" | ")} |`),
    "",
    "Each figure comes from the scenario's file in this folder (`<scenario>.json` / `.md`).",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(RESULTS, "summary.md"), md);
  console.log(`\n${md}`);
}

await main();
