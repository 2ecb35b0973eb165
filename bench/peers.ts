/**
 * Peers on the same job: docbatch against a BullMQ pipeline (bench/peers/bullmq-pipeline.ts) and
 * LangChain.js's `index()` (bench/peers/langchain-index.ts), each turning the same JSON Lines corpus
 * into chunks with embeddings in SQLite, with embeddings from the same local endpoint.
 *
 * For each system, as child processes and from scratch:
 *   1. a clean run: documents per second (wall clock from process start to exit, the BullMQ
 *      producer included) and peak RSS (VmHWM polled from /proc, and the peers' own maxRSS);
 *   2. the same command again on the finished output: texts it embeds again;
 *   3. a run SIGKILLed once half the documents are written, then run again to completion: texts
 *      embedded beyond the clean run's (per text, so that chunk texts that legitimately repeat
 *      across documents are not counted), the time from the restart to the first new document
 *      written, and the output compared per document with the clean run's (duplicate rows, missing
 *      documents).
 *
 * Options: --quick (2,000 documents instead of 20,000), --latency-ms N (of the embeddings server,
 * default 5). Without Redis on 127.0.0.1:6379 the BullMQ pipeline is skipped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import Database from "better-sqlite3";
import { Queue } from "bullmq";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { makeCorpus, writeJsonl } from "../test/helpers/corpus.js";
import { CLI, quick, round, sleep, tempDir, writeResult } from "./lib.js";
import { buildPeers } from "./peers/build.js";

const count = quick ? 2_000 : 20_000;
const latencyArg = process.argv.indexOf("--latency-ms");
const latencyMs = latencyArg > 0 ? Number(process.argv[latencyArg + 1]) : 5;
const CONCURRENCY = 8;
const EMBED_BATCH = 32;
const CHUNK_SIZE = 1000;
const REDIS = { host: "127.0.0.1", port: 6379 };

// ---------------------------------------------------------------------------------------------
// Child processes

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size in KiB: the larger of VmHWM polled from /proc and what the child printed. */
  peakRssKb: number;
  stdout: string;
  stderr: string;
}

interface Launched {
  child: ChildProcess;
  exit: Promise<Exit>;
}

function vmHwmKb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function launch(script: string, args: string[]): Launched {
  const started = performance.now();
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) peak = Math.max(peak, vmHwmKb(child.pid));
  }, 25);
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      clearInterval(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let reported = 0;
      try {
        reported = Number((JSON.parse(last) as { maxRssKb?: number }).maxRssKb ?? 0);
      } catch {}
      resolve({
        code,
        signal,
        wallMs: performance.now() - started,
        peakRssKb: Math.max(peak, reported),
        stdout,
        stderr,
      });
    });
  });
  return { child, exit };
}

async function succeed(launched: Launched, what: string): Promise<Exit> {
  const exit = await launched.exit;
  if (exit.code !== 0) {
    throw new Error(`${what} exited ${exit.code ?? exit.signal}:\n${exit.stderr.slice(-3000)}`);
  }
  return exit;
}

/** Reads a SQLite file another process is writing (all three write in WAL mode). */
function readDb<T>(file: string, read: (db: Database.Database) => T, fallback: T): T {
  if (!fs.existsSync(file)) return fallback;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 1000");
    return read(db);
  } catch {
    return fallback;
  } finally {
    db?.close();
  }
}

/**
 * Documents with at least one output row so far, reading only the rows added since the last call
 * (by rowid), so that polling a large output stays cheap. A document counts from its first row on,
 * even if a later cleanup deletes and rewrites its rows.
 */
function documentTracker(file: string, table: string, idColumn: string): () => number {
  const seen = new Set<string>();
  let last = 0;
  return () =>
    readDb(
      file,
      (db) => {
        const rows = db
          .prepare(`SELECT rowid AS r, ${idColumn} AS id FROM ${table} WHERE rowid > ? ORDER BY rowid`)
          .all(last) as { r: number; id: string }[];
        for (const row of rows) seen.add(row.id);
        if (rows.length > 0) last = rows.at(-1)!.r;
        return seen.size;
      },
      seen.size,
    );
}

function rowsPerDoc(file: string, sql: string): Map<string, number> {
  return readDb(
    file,
    (db) => new Map((db.prepare(sql).all() as { id: string; n: number }[]).map((r) => [r.id, r.n])),
    new Map(),
  );
}

// ---------------------------------------------------------------------------------------------
// The three systems

/** One fresh output (a new SQLite file, a new queue) that runs can be started against. */
interface Instance {
  /** Work before the killable process (the BullMQ producer); its exit counts in the wall clock. */
  before?(): Promise<Exit>;
  /** The process that does the work: docbatch, the BullMQ worker, LangChain's index(). */
  start(): Launched;
  /** Documents with output so far. */
  written(): number;
  /** Output rows per document id. */
  rows(): Map<string, number>;
  /** Frees what the runs left outside the temporary folder (the BullMQ queue in Redis). */
  dispose?(): Promise<void>;
}

interface System {
  name: string;
  label: string;
  fresh(tag: string): Instance;
}

function docbatch(input: string, embedUrl: string, dir: string): System {
  return {
    name: "docbatch",
    label: "docbatch",
    fresh(tag) {
      const db = path.join(dir, `docbatch-${tag}.db`);
      return {
        start: () =>
          launch(CLI, [
            "run",
            input,
            "--db",
            db,
            "--embed-url",
            embedUrl,
            // The same 8 embedding requests in flight as the peers; documents waiting for a free
            // request cost little, so docbatch keeps more of them in flight and fills requests.
            "--concurrency",
            String(CONCURRENCY * 4),
            "--embed-concurrency",
            String(CONCURRENCY),
            "--embed-batch-size",
            String(EMBED_BATCH),
            "--chunk-size",
            String(CHUNK_SIZE),
            "--no-progress",
            "--json",
          ]),
        written: () =>
          readDb(
            db,
            (d) =>
              (
                d
                  .prepare("SELECT count(*) AS n FROM documents WHERE state IN ('done', 'degraded')")
                  .get() as {
                  n: number;
                }
              ).n,
            0,
          ),
        rows: () =>
          rowsPerDoc(
            db,
            "SELECT d.doc_id AS id, count(c.chunk_index) AS n FROM documents d LEFT JOIN chunks c ON c.row = d.row WHERE d.state IN ('done', 'degraded') GROUP BY d.row",
          ),
      };
    },
  };
}

function bullmq(script: string, input: string, embedUrl: string, dir: string): System {
  return {
    name: "bullmq",
    label: "BullMQ pipeline",
    fresh(tag) {
      const db = path.join(dir, `bullmq-${tag}.db`);
      const queue = `docbatch-peers-${process.pid}-${tag}`;
      return {
        before: () => succeed(launch(script, ["produce", input, "--queue", queue]), "BullMQ producer"),
        start: () =>
          launch(script, [
            "work",
            "--queue",
            queue,
            "--db",
            db,
            "--embed-url",
            embedUrl,
            "--concurrency",
            String(CONCURRENCY),
            "--embed-batch-size",
            String(EMBED_BATCH),
            "--chunk-size",
            String(CHUNK_SIZE),
          ]),
        written: documentTracker(db, "chunks", "doc_id"),
        rows: () => rowsPerDoc(db, "SELECT doc_id AS id, count(*) AS n FROM chunks GROUP BY doc_id"),
        dispose: async () => {
          // Completed jobs keep their documents in Redis: drop the queue.
          const q = new Queue(queue, { connection: REDIS });
          await q.obliterate({ force: true });
          await q.close();
        },
      };
    },
  };
}

function langchain(script: string, input: string, embedUrl: string, dir: string): System {
  return {
    name: "langchain",
    label: "LangChain index()",
    fresh(tag) {
      const vectors = path.join(dir, `langchain-${tag}-vectors.db`);
      const records = path.join(dir, `langchain-${tag}-records.db`);
      return {
        start: () =>
          launch(script, [
            "index",
            input,
            "--records",
            records,
            "--vectors",
            vectors,
            "--embed-url",
            embedUrl,
            "--concurrency",
            String(CONCURRENCY),
            "--embed-batch-size",
            String(EMBED_BATCH),
            "--chunk-size",
            String(CHUNK_SIZE),
          ]),
        written: documentTracker(vectors, "vectors", "source_id"),
        rows: () =>
          rowsPerDoc(vectors, "SELECT source_id AS id, count(*) AS n FROM vectors GROUP BY source_id"),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Outcome {
  system: string;
  clean: {
    seconds: number;
    docs_per_second: number;
    peak_rss_mb: number;
    peak_rss_mb_by_process: Record<string, number>;
    seconds_by_process: Record<string, number>;
    documents_written: number;
    chunks_written: number;
    texts_embedded: number;
  };
  rerun_finished: { seconds: number; texts_embedded: number };
  kill: {
    documents_written_at_kill: number;
    restart_to_first_new_document_ms: number | null;
    resumed_run_seconds: number;
    texts_embedded_both_runs: number;
    texts_embedded_beyond_clean_run: number;
    texts_re_embedded: number;
    documents_missing: number;
    documents_differing_from_clean_run: number;
    duplicate_rows: number;
  };
  summaries: Record<string, unknown>;
}

const mb = (kb: number) => round(kb / 1024, 0);

function lastJson(exit: Exit): unknown {
  try {
    return JSON.parse(exit.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    return null;
  }
}

/** The figures of docbatch's own report (`--json`) that explain its wall clock. */
function docbatchSummary(exit: Exit): unknown {
  try {
    const report = JSON.parse(exit.stdout) as {
      throughput_docs_per_min: number;
      counts: Record<string, number>;
      runs: {
        started_at: string;
        first_claim_at: string | null;
        ended_at: string | null;
        processed: number;
        recovered_in_flight: number;
      }[];
    };
    const run = report.runs.at(-1)!;
    const ms = (a: string | null, b: string | null) => (a && b ? Date.parse(b) - Date.parse(a) : null);
    return {
      throughput_docs_per_min: report.throughput_docs_per_min,
      counts: report.counts,
      run: {
        processed: run.processed,
        recovered_in_flight: run.recovered_in_flight,
        start_to_first_claim_ms: ms(run.started_at, run.first_claim_at),
        first_claim_to_end_ms: ms(run.first_claim_at, run.ended_at),
      },
    };
  } catch {
    return null;
  }
}

async function measure(system: System, server: EmbeddingTestServer, ids: string[]): Promise<Outcome> {
  const summaries: Record<string, unknown> = {};
  // 1. Clean run.
  server.reset();
  const clean = system.fresh("clean");
  const started = performance.now();
  const produced = clean.before ? await clean.before() : null;
  const main = await succeed(clean.start(), `${system.label} (clean run)`);
  const cleanSeconds = (performance.now() - started) / 1000;
  const cleanCounts = new Map(server.textCounts());
  const cleanTexts = server.stats().textsOk;
  const baseline = clean.rows();
  const missingClean = ids.filter((id) => !baseline.has(id)).length;
  if (missingClean > 0) throw new Error(`${system.label}: the clean run left ${missingClean} documents out`);
  summaries.clean = system.name === "docbatch" ? docbatchSummary(main) : lastJson(main);
  const peakByProcess: Record<string, number> = { main: mb(main.peakRssKb) };
  const secondsByProcess: Record<string, number> = { main: round(main.wallMs / 1000, 2) };
  if (produced) {
    peakByProcess.producer = mb(produced.peakRssKb);
    secondsByProcess.producer = round(produced.wallMs / 1000, 2);
  }

  // 2. The same command on the finished output.
  server.reset();
  const rerunStarted = performance.now();
  if (clean.before) await clean.before();
  const rerun = await succeed(clean.start(), `${system.label} (re-run)`);
  const rerunSeconds = (performance.now() - rerunStarted) / 1000;
  summaries.rerun = system.name === "docbatch" ? docbatchSummary(rerun) : lastJson(rerun);
  const rerunTexts = server.stats().textsOk;
  await clean.dispose?.();

  // 3. SIGKILL at half, then run again to completion.
  server.reset();
  const killed = system.fresh("kill");
  if (killed.before) await killed.before();
  const first = killed.start();
  let firstExited = false;
  void first.exit.then(() => {
    firstExited = true;
  });
  while (!firstExited && killed.written() < ids.length / 2) await sleep(20);
  if (firstExited) throw new Error(`${system.label} finished before it could be killed at 50%`);
  first.child.kill("SIGKILL");
  await first.exit;
  const atKill = killed.written();
  const resumedAt = performance.now();
  const second = killed.start();
  let secondExited = false;
  void second.exit.then(() => {
    secondExited = true;
  });
  let restartToProgress: number | null = null;
  while (!secondExited) {
    if (killed.written() > atKill) {
      restartToProgress = performance.now() - resumedAt;
      break;
    }
    await sleep(10);
  }
  const resumed = await succeed(second, `${system.label} (resumed run)`);
  summaries.resumed = system.name === "docbatch" ? docbatchSummary(resumed) : lastJson(resumed);
  const resumedSeconds = (performance.now() - resumedAt) / 1000;
  const stats = server.stats();
  let reembedded = 0;
  for (const [text, n] of server.textCounts()) reembedded += Math.max(0, n - (cleanCounts.get(text) ?? 0));
  const after = killed.rows();
  let duplicates = 0;
  let missing = 0;
  let differing = 0;
  for (const id of ids) {
    const want = baseline.get(id) ?? 0;
    const got = after.get(id) ?? 0;
    if (!after.has(id)) missing += 1;
    if (got !== want) differing += 1;
    duplicates += Math.max(0, got - want);
  }
  await killed.dispose?.();

  const chunks = [...baseline.values()].reduce((a, b) => a + b, 0);
  return {
    system: system.label,
    clean: {
      seconds: round(cleanSeconds, 2),
      docs_per_second: round(ids.length / cleanSeconds, 0),
      peak_rss_mb: Math.max(...Object.values(peakByProcess)),
      peak_rss_mb_by_process: peakByProcess,
      seconds_by_process: secondsByProcess,
      documents_written: baseline.size,
      chunks_written: chunks,
      texts_embedded: cleanTexts,
    },
    rerun_finished: { seconds: round(rerunSeconds, 2), texts_embedded: rerunTexts },
    kill: {
      documents_written_at_kill: atKill,
      restart_to_first_new_document_ms: restartToProgress === null ? null : round(restartToProgress, 0),
      resumed_run_seconds: round(resumedSeconds, 2),
      texts_embedded_both_runs: stats.textsOk,
      texts_embedded_beyond_clean_run: stats.textsOk - cleanTexts,
      texts_re_embedded: reembedded,
      documents_missing: missing,
      documents_differing_from_clean_run: differing,
      duplicate_rows: duplicates,
    },
    summaries,
  };
}

function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS.port, REDIS.host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const dir = tempDir("docbatch-peers-");
  const input = path.join(dir, "corpus.jsonl");
  const corpus = makeCorpus({ count, seed: 1, largeShare: 0.01 });
  writeJsonl(input, corpus);
  const ids = corpus.map((d) => d.id);
  const [bullmqScript, langchainScript] = buildPeers([
    "bench/peers/bullmq-pipeline.ts",
    "bench/peers/langchain-index.ts",
  ]) as [string, string];

  const server = new EmbeddingTestServer({ latencyMs, dimensions: 64 });
  const embedUrl = await server.start();
  const systems: System[] = [docbatch(input, embedUrl, dir)];
  const withRedis = await redisReachable();
  if (withRedis) systems.push(bullmq(bullmqScript, input, embedUrl, dir));
  else
    process.stdout.write(
      `Redis is not reachable on ${REDIS.host}:${REDIS.port}: skipping the BullMQ pipeline.\n`,
    );
  systems.push(langchain(langchainScript, input, embedUrl, dir));

  const outcomes: Outcome[] = [];
  try {
    for (const system of systems) {
      process.stdout.write(`${system.label}: clean run, re-run, kill at 50% and resume...\n`);
      outcomes.push(await measure(system, server, ids));
    }
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const base = outcomes[0]!.clean.docs_per_second;
  const rows = outcomes.map((o) => [
    o.system,
    o.clean.docs_per_second,
    round(base / o.clean.docs_per_second, 2),
    o.clean.peak_rss_mb_by_process.producer === undefined
      ? o.clean.peak_rss_mb
      : `${o.clean.peak_rss_mb_by_process.main} (producer ${o.clean.peak_rss_mb_by_process.producer})`,
    o.clean.chunks_written,
    o.kill.texts_re_embedded,
    o.kill.restart_to_first_new_document_ms === null
      ? "—"
      : round(o.kill.restart_to_first_new_document_ms / 1000, 2),
    o.kill.resumed_run_seconds,
    o.kill.duplicate_rows,
    o.kill.documents_missing,
    o.rerun_finished.texts_embedded,
  ]);
  if (!withRedis)
    rows.splice(1, 0, [
      "BullMQ pipeline",
      "skipped: no Redis on 127.0.0.1:6379",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
    ]);
  writeResult(
    "peers",
    {
      documents: count,
      settings: {
        concurrency: CONCURRENCY,
        embed_batch_size: EMBED_BATCH,
        chunk_size: CHUNK_SIZE,
        embed_latency_ms: latencyMs,
        dimensions: 64,
      },
      bullmq: withRedis ? "measured" : "skipped: Redis not reachable",
      results: outcomes,
    },
    {
      title: "Peers on the same job: JSON Lines → chunks + embeddings in SQLite",
      columns: [
        "system",
        "docs / s",
        "docbatch ÷ system",
        "peak RSS (MB)",
        "chunks",
        "texts re-embedded after SIGKILL at 50%",
        "restart → first new doc (s)",
        "resumed run (s)",
        "duplicate rows",
        "missing docs",
        "texts embedded by a re-run of the finished job",
      ],
      rows,
      notes: [
        `${count} documents (mixed formats, 1% of 50–200 KB), ${CONCURRENCY} embedding requests in flight for every system (BullMQ: worker concurrency ${CONCURRENCY}; LangChain: maxConcurrency ${CONCURRENCY}; docbatch: --embed-concurrency ${CONCURRENCY} with ${CONCURRENCY * 4} documents in flight), embedding requests of ≤ ${EMBED_BATCH} texts, chunks ≤ ${CHUNK_SIZE} characters, a local embeddings server with ${latencyMs} ms latency shared by all three.`,
        "docs/s: wall clock from process start to exit, the BullMQ producer included; every system from scratch (fresh SQLite files, a fresh queue).",
        "Texts re-embedded: per text, the times the server answered it over the killed and the resumed run beyond the times it did in the clean run.",
        "BullMQ: the jobs the killed worker held stay active until the stalled checker moves them back to wait. With the defaults (lockDuration and stalledInterval 30 s) and one check per interval across workers, that takes two checks, about 60 s, and the resumed worker waits for them before the queue drains.",
        "Re-run of the finished job: the same command(s) again on the complete output. LangChain's incremental cleanup deletes, after each batch, the chunks of the batch's documents not yet touched by this run, so documents straddling two batches are deleted and embedded again.",
        "LangChain: the splitter is RecursiveCharacterTextSplitter (chunk counts differ from docbatch's chunker); index() batches of 100 chunks, one after the other.",
      ],
    },
  );
}

await main();
