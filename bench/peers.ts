/**
 * Peers on the same job: docbatch against a BullMQ pipeline (bench/peers/bullmq-pipeline.ts) and
 * LangChain.js's `index()` (bench/peers/langchain-index.ts), each turning the same JSON Lines corpus
 * into chunks with embeddings in SQLite, with embeddings from the same local endpoint and the same
 * concurrency budget (bench/peers/systems.ts's SETTINGS).
 *
 * On each corpus (mixed, small), in rounds: every round runs each system once from scratch (fresh
 * SQLite files, a fresh queue), in an order rotated from round to round so that no system always
 * goes first; documents per second is the wall clock from process start to exit, the BullMQ
 * producer included. Reported per system: the median and the spread over the rounds, and per round
 * docbatch's rate over the best peer's in the same round. Once per corpus, in the first round, each
 * system's finished output is run again, and a fresh run is SIGKILLed at 50% and resumed
 * (bench/peers/steps.ts says what those measure).
 *
 * Options: --quick (fewer documents: 2,000 mixed and 10,000 small instead of 20,000 and 100,000),
 * --corpus mixed|small|both (default both), --rounds N (default 5), --kills N (kill-and-resume
 * cycles per system and corpus, default 1: what a kill costs moves with the moment it falls),
 * --count N (documents per corpus, for smoke runs), --latency-ms N (of the embeddings server,
 * default 5). Without Redis on 127.0.0.1:6379 the BullMQ pipeline is skipped.
 */
import fs from "node:fs";
import path from "node:path";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { writeMixed, writeSmall } from "./corpus.js";
import { CLI, quick, round, tempDir, writeResult } from "./lib.js";
import { buildPeers } from "./peers/build.js";
import {
  type CleanFigures,
  type CleanRun,
  cleanRun,
  type KillFigures,
  killAndResume,
  type RerunFigures,
  rerun,
} from "./peers/steps.js";
import {
  bullmq,
  docbatch,
  langchain,
  REDIS,
  redisReachable,
  SETTINGS,
  type System,
  type Target,
} from "./peers/systems.js";

// ---------------------------------------------------------------------------------------------
// Options

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

function wholeOption(name: string, fallback: number, min: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`Expected ${name} to be a whole number from ${min} up, got \`${raw}\``);
  return value;
}

interface CorpusSpec {
  name: "mixed" | "small";
  /** Documents in quick and in full mode. */
  documents: { quick: number; full: number };
  /** For the notes: what the documents are like. */
  description: string;
  write(file: string, count: number): void;
}

// Small documents at 10,000 in quick mode: a docbatch run of 20,000 takes over 10 s on 2 cores.
const CORPORA: CorpusSpec[] = [
  {
    name: "mixed",
    documents: { quick: 2_000, full: 20_000 },
    description: "mixed formats, 1% of 50–200 KB",
    write: (file, count) => void writeMixed(file, count),
  },
  {
    name: "small",
    documents: { quick: 10_000, full: 100_000 },
    description: "one or two sentences each",
    write: writeSmall,
  },
];

function chosenCorpora(): CorpusSpec[] {
  const chosen = option("--corpus") ?? "both";
  if (chosen === "both") return CORPORA;
  const spec = CORPORA.find((c) => c.name === chosen);
  if (!spec) throw new Error(`Expected --corpus to be mixed, small or both, got \`${chosen}\``);
  return [spec];
}

const latencyMs = wholeOption("--latency-ms", 5, 0);
const rounds = wholeOption("--rounds", 5, 1);
const kills = wholeOption("--kills", 1, 1);
const countOverride = option("--count") === undefined ? undefined : wholeOption("--count", 0, 2);

// ---------------------------------------------------------------------------------------------
// Rounds

/** The median and the extremes of a set of figures. */
interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[], digits: number): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return {
    median: round(median, digits),
    min: round(sorted[0]!, digits),
    max: round(sorted.at(-1)!, digits),
  };
}

interface RoundResult {
  round: number;
  /** System names in the order they ran. */
  order: string[];
  docs_per_second: Record<string, number>;
  /** docbatch's docs/s over the best peer's in this round. */
  docbatch_over_best_peer: number;
  best_peer: string;
  clean: Record<string, CleanFigures>;
}

/** The once-per-corpus steps on a system's first clean run. */
interface Once {
  clean: CleanFigures;
  clean_summary: unknown;
  rerun_finished: RerunFigures;
  /** The first kill-and-resume cycle. */
  kill: KillFigures;
  /** Every cycle (--kills), the first one included. */
  kills: KillFigures[];
}

/** `systems` starting at the round's index, so that each takes its turn going first. */
function rotated<T>(items: T[], index: number): T[] {
  const k = index % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function roundResult(index: number, order: System[], runs: Map<string, CleanRun>): RoundResult {
  const rate = (s: System) => runs.get(s.name)!.figures.docs_per_second;
  const peers = order.filter((s) => s.name !== "docbatch");
  const best = peers.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const own = order.find((s) => s.name === "docbatch")!;
  return {
    round: index + 1,
    order: order.map((s) => s.name),
    docs_per_second: Object.fromEntries(order.map((s) => [s.name, rate(s)])),
    docbatch_over_best_peer: round(rate(own) / rate(best), 3),
    best_peer: best.label,
    clean: Object.fromEntries(order.map((s) => [s.name, runs.get(s.name)!.figures])),
  };
}

/** Re-run and kill-and-resume of one system, on its clean run of the first round. */
async function onceSteps(
  system: System,
  server: EmbeddingTestServer,
  ids: string[],
  clean: CleanRun,
  corpus: string,
): Promise<Once> {
  process.stdout.write(`${corpus}: ${system.label}: re-run, kill at 50% and resume...\n`);
  const rerunFigures = await rerun(system, server, clean);
  await clean.instance.discard();
  const cycles: KillFigures[] = [];
  for (let k = 1; k <= kills; k++)
    cycles.push(await killAndResume(system, server, ids, clean, `${corpus}-kill${k}`));
  return {
    clean: clean.figures,
    clean_summary: clean.summary,
    rerun_finished: rerunFigures,
    kill: cycles[0]!,
    kills: cycles,
  };
}

/** One round on a corpus: a clean run of each system; in the first round, the once-per-corpus steps. */
async function runRound(
  index: number,
  systems: System[],
  server: EmbeddingTestServer,
  ids: string[],
  corpus: string,
  once: Map<string, Once>,
): Promise<RoundResult> {
  const order = rotated(systems, index);
  const runs = new Map<string, CleanRun>();
  for (const system of order) {
    process.stdout.write(`${corpus}, round ${index + 1}/${rounds}: ${system.label}, clean run...\n`);
    const run = await cleanRun(system, server, ids, `${corpus}-r${index + 1}`);
    runs.set(system.name, run);
    // Only the first round's outputs are needed again (re-run, and the baseline of the kill).
    if (index > 0) await run.instance.discard();
  }
  if (index === 0) {
    for (const system of systems)
      once.set(system.name, await onceSteps(system, server, ids, runs.get(system.name)!, corpus));
  }
  return roundResult(index, order, runs);
}

// ---------------------------------------------------------------------------------------------
// Corpora

interface SystemResult extends Once {
  system: string;
  name: string;
  docs_per_second: Spread;
  /** docbatch's docs/s over this system's, per round; null for docbatch. */
  docbatch_over_system: Spread | null;
  /** The largest peak RSS over the rounds, of the main process and of the BullMQ producer. */
  peak_rss_mb: { main: number; producer?: number };
}

interface CorpusResult {
  corpus: string;
  documents: number;
  docbatch_over_best_peer: Spread;
  systems: SystemResult[];
  rounds: RoundResult[];
}

/** Every id of a corpus file, in order (both writers put one document on a line). */
function readIds(file: string): string[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => (JSON.parse(line) as { id: string }).id);
}

function systemResult(system: System, results: RoundResult[], once: Once): SystemResult {
  const rates = results.map((r) => r.docs_per_second[system.name]!);
  const peak = (p: string) =>
    Math.max(...results.map((r) => r.clean[system.name]!.peak_rss_mb_by_process[p] ?? 0));
  return {
    system: system.label,
    name: system.name,
    docs_per_second: spread(rates, 0),
    docbatch_over_system:
      system.name === "docbatch"
        ? null
        : spread(
            results.map((r) => r.docs_per_second.docbatch! / r.docs_per_second[system.name]!),
            2,
          ),
    peak_rss_mb:
      once.clean.peak_rss_mb_by_process.producer === undefined
        ? { main: peak("main") }
        : { main: peak("main"), producer: peak("producer") },
    ...once,
  };
}

async function measureCorpus(
  spec: CorpusSpec,
  makeSystems: (target: Target) => System[],
  server: EmbeddingTestServer,
  target: Omit<Target, "input">,
): Promise<CorpusResult> {
  const documents = countOverride ?? (quick ? spec.documents.quick : spec.documents.full);
  const dir = path.join(target.dir, spec.name);
  fs.mkdirSync(dir, { recursive: true });
  const input = path.join(dir, "corpus.jsonl");
  spec.write(input, documents);
  const ids = readIds(input);
  const systems = makeSystems({ ...target, input, dir });
  const once = new Map<string, Once>();
  const results: RoundResult[] = [];
  for (let i = 0; i < rounds; i++) results.push(await runRound(i, systems, server, ids, spec.name, once));
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    corpus: spec.name,
    documents,
    docbatch_over_best_peer: spread(
      results.map((r) => r.docbatch_over_best_peer),
      2,
    ),
    systems: systems.map((s) => systemResult(s, results, once.get(s.name)!)),
    rounds: results,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const range = (s: Spread) => `${s.min}–${s.max}`;

function tableRow(corpus: string, s: SystemResult): (string | number)[] {
  return [
    corpus,
    s.system,
    s.docs_per_second.median,
    range(s.docs_per_second),
    s.docbatch_over_system === null ? 1 : s.docbatch_over_system.median,
    s.peak_rss_mb.producer === undefined
      ? s.peak_rss_mb.main
      : `${s.peak_rss_mb.main} (producer ${s.peak_rss_mb.producer})`,
    s.clean.chunks_written,
    reEmbedded(s.kills),
    s.kill.restart_to_first_new_document_ms === null
      ? "—"
      : round(s.kill.restart_to_first_new_document_ms / 1000, 2),
    s.kill.resumed_run_seconds,
    sum(s.kills.map((k) => k.duplicate_rows)),
    sum(s.kills.map((k) => k.documents_missing)),
    s.rerun_finished.texts_embedded,
  ];
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Texts re-embedded by the kill, or with several, their median and spread. */
function reEmbedded(cycles: KillFigures[]): string | number {
  if (cycles.length === 1) return cycles[0]!.texts_re_embedded;
  const s = spread(
    cycles.map((k) => k.texts_re_embedded),
    0,
  );
  return `${s.median} (${range(s)})`;
}

function tableRows(results: CorpusResult[], withRedis: boolean, columns: number): (string | number)[][] {
  return results.flatMap((c) => {
    const rows = c.systems.map((s) => tableRow(c.corpus, s));
    if (!withRedis) {
      const skipped = [c.corpus, "BullMQ pipeline", `skipped: no Redis on ${REDIS.host}:${REDIS.port}`];
      rows.splice(1, 0, [...skipped, ...Array<string>(columns - skipped.length).fill("")]);
    }
    return rows;
  });
}

function notes(results: CorpusResult[]): string[] {
  const { concurrency, embedBatch, chunkSize } = SETTINGS;
  return [
    ...results.map(
      (c) =>
        `${c.corpus} (${c.documents} documents, ${CORPORA.find((s) => s.name === c.corpus)!.description}): docbatch ÷ best peer: median ${c.docbatch_over_best_peer.median} (spread ${range(c.docbatch_over_best_peer)}) over ${rounds} rounds.`,
    ),
    `The same concurrency budget for every system: ${concurrency} embedding requests in flight (BullMQ: worker concurrency ${concurrency}; LangChain: maxConcurrency ${concurrency}; docbatch: --embed-concurrency ${concurrency} with ${concurrency * 4} documents in flight), embedding requests of ≤ ${embedBatch} texts, chunks ≤ ${chunkSize} characters, a local embeddings server with ${latencyMs} ms latency shared by all three.`,
    `docs/s: wall clock from process start to exit, the BullMQ producer included; median and spread (min–max) over ${rounds} rounds. Each round runs every system once from scratch (fresh SQLite files, a fresh queue), in an order rotated from round to round. docbatch ÷ system: the median of the per-round ratios; docbatch ÷ best peer: per round, docbatch's docs/s over the faster peer's in the same round. Peak RSS: the largest over the rounds.`,
    kills === 1
      ? "Once per corpus, in the first round: the columns from chunks on (chunks of the first clean run; kill at 50% and resume; re-run)."
      : `Once per corpus, in the first round: the columns from chunks on (chunks of the first clean run; ${kills} cycles of a kill at 50% and a resume, each from scratch: texts re-embedded as median (spread), duplicate rows and missing documents summed over the cycles, restart and resumed run of the first; re-run).`,
    "Texts re-embedded: per text, the times the server answered it over the killed and the resumed run beyond the times it did in the clean run.",
    "BullMQ: the jobs the killed worker held stay active until the stalled checker moves them back to wait. With the defaults (lockDuration and stalledInterval 30 s) and one check per interval across workers, that takes two checks, about 60 s, and the resumed worker waits for them before the queue drains.",
    "Re-run of the finished job: the same command(s) again on the complete output. LangChain's incremental cleanup deletes, after each batch, the chunks of the batch's documents not yet touched by this run, so documents straddling two batches are deleted and embedded again.",
    "LangChain: the splitter is RecursiveCharacterTextSplitter (chunk counts differ from docbatch's chunker); index() batches of 100 chunks, one after the other.",
  ];
}

const COLUMNS = [
  "corpus",
  "system",
  "docs / s (median)",
  "spread",
  "docbatch ÷ system (median)",
  "peak RSS (MB)",
  "chunks",
  "texts re-embedded after SIGKILL at 50%",
  "restart → first new doc (s)",
  "resumed run (s)",
  "duplicate rows",
  "missing docs",
  "texts embedded by a re-run of the finished job",
];

function report(results: CorpusResult[], withRedis: boolean): void {
  writeResult(
    "peers",
    {
      rounds,
      settings: {
        concurrency: SETTINGS.concurrency,
        embed_batch_size: SETTINGS.embedBatch,
        chunk_size: SETTINGS.chunkSize,
        embed_latency_ms: latencyMs,
        dimensions: 64,
      },
      bullmq: withRedis ? "measured" : "skipped: Redis not reachable",
      corpora: results,
    },
    {
      title: "Peers on the same job: JSON Lines → chunks + embeddings in SQLite",
      columns: COLUMNS,
      rows: tableRows(results, withRedis, COLUMNS.length),
      notes: notes(results),
    },
  );
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
  const corpora = chosenCorpora();
  const dir = tempDir("docbatch-peers-");
  const [bullmqScript, langchainScript] = buildPeers([
    "bench/peers/bullmq-pipeline.ts",
    "bench/peers/langchain-index.ts",
  ]) as [string, string];
  const withRedis = await redisReachable();
  if (!withRedis)
    process.stdout.write(
      `Redis is not reachable on ${REDIS.host}:${REDIS.port}: skipping the BullMQ pipeline.\n`,
    );
  const makeSystems = (target: Target): System[] => [
    docbatch(target),
    ...(withRedis ? [bullmq(bullmqScript, target)] : []),
    langchain(langchainScript, target),
  ];

  const server = new EmbeddingTestServer({ latencyMs, dimensions: 64 });
  const embedUrl = await server.start();
  const results: CorpusResult[] = [];
  try {
    for (const spec of corpora)
      results.push(await measureCorpus(spec, makeSystems, server, { embedUrl, dir }));
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report(results, withRedis);
}

await main();
