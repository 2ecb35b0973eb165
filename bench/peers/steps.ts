/**
 * The measurements of `bench/peers.ts`, each a step on one system and one corpus:
 *   - cleanRun: a run from scratch, documents per second (wall clock from process start to exit,
 *     the BullMQ producer included) and peak RSS;
 *   - rerun: the same command again on the clean run's finished output, and the texts it embeds;
 *   - killAndResume: a fresh run SIGKILLed once half the documents are written, then run again to
 *     completion, compared with the clean run per text embedded and per document written.
 */
import type { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import { round, sleep } from "../lib.js";
import { type Exit, lastJson, succeed } from "./processes.js";
import type { Instance, System } from "./systems.js";

const mb = (kb: number) => round(kb / 1024, 0);

/** The figures of a clean run, as the results file holds them. */
export interface CleanFigures {
  seconds: number;
  docs_per_second: number;
  peak_rss_mb: number;
  peak_rss_mb_by_process: Record<string, number>;
  seconds_by_process: Record<string, number>;
  documents_written: number;
  chunks_written: number;
  texts_embedded: number;
}

/** A clean run: its figures, and what the re-run and the kill compare with. */
export interface CleanRun {
  figures: CleanFigures;
  /** The finished output, for the re-run; discard it when done. */
  instance: Instance;
  /** Output rows per document id. */
  rows: Map<string, number>;
  /** Times the server answered each text. */
  textCounts: Map<string, number>;
  summary: unknown;
}

export interface RerunFigures {
  seconds: number;
  texts_embedded: number;
  summary: unknown;
}

export interface KillFigures {
  documents_written_at_kill: number;
  restart_to_first_new_document_ms: number | null;
  resumed_run_seconds: number;
  texts_embedded_both_runs: number;
  texts_embedded_beyond_clean_run: number;
  texts_re_embedded: number;
  documents_missing: number;
  documents_differing_from_clean_run: number;
  duplicate_rows: number;
  summary: unknown;
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

/** What a system reports about its own run: docbatch's `--json` report, a peer's summary line. */
function summaryOf(system: System, exit: Exit): unknown {
  return system.name === "docbatch" ? docbatchSummary(exit) : lastJson(exit);
}

/** A run of `system` from scratch on a fresh output named `tag`; throws if a document is left out. */
export async function cleanRun(
  system: System,
  server: EmbeddingTestServer,
  ids: string[],
  tag: string,
): Promise<CleanRun> {
  server.reset();
  const instance = system.fresh(tag);
  const started = performance.now();
  const produced = instance.before ? await instance.before() : null;
  const main = await succeed(instance.start(), `${system.label} (clean run, ${tag})`);
  const seconds = (performance.now() - started) / 1000;
  const rows = instance.rows();
  const missing = ids.filter((id) => !rows.has(id)).length;
  if (missing > 0) throw new Error(`${system.label}: the clean run ${tag} left ${missing} documents out`);
  const peakByProcess: Record<string, number> = { main: mb(main.peakRssKb) };
  const secondsByProcess: Record<string, number> = { main: round(main.wallMs / 1000, 2) };
  if (produced) {
    peakByProcess.producer = mb(produced.peakRssKb);
    secondsByProcess.producer = round(produced.wallMs / 1000, 2);
  }
  return {
    figures: {
      seconds: round(seconds, 2),
      docs_per_second: round(ids.length / seconds, 0),
      peak_rss_mb: Math.max(...Object.values(peakByProcess)),
      peak_rss_mb_by_process: peakByProcess,
      seconds_by_process: secondsByProcess,
      documents_written: rows.size,
      chunks_written: [...rows.values()].reduce((a, b) => a + b, 0),
      texts_embedded: server.stats().textsOk,
    },
    instance,
    rows,
    textCounts: new Map(server.textCounts()),
    summary: summaryOf(system, main),
  };
}

/** The same command(s) again on the clean run's finished output: what it embeds again. */
export async function rerun(
  system: System,
  server: EmbeddingTestServer,
  clean: CleanRun,
): Promise<RerunFigures> {
  server.reset();
  const started = performance.now();
  if (clean.instance.before) await clean.instance.before();
  const exit = await succeed(clean.instance.start(), `${system.label} (re-run)`);
  return {
    seconds: round((performance.now() - started) / 1000, 2),
    texts_embedded: server.stats().textsOk,
    summary: summaryOf(system, exit),
  };
}

/** Starts a run and SIGKILLs it once half of `total` documents are written; the documents then. */
async function killAtHalf(instance: Instance, total: number, label: string): Promise<number> {
  if (instance.before) await instance.before();
  const first = instance.start();
  let exited = false;
  void first.exit.then(() => {
    exited = true;
  });
  while (!exited && instance.written() < total / 2) await sleep(20);
  if (exited) throw new Error(`${label} finished before it could be killed at 50%`);
  first.child.kill("SIGKILL");
  await first.exit;
  return instance.written();
}

/** Runs again after the kill: the time to the first new document written, and the run's end. */
async function resume(instance: Instance, atKill: number, label: string) {
  const resumedAt = performance.now();
  const second = instance.start();
  let exited = false;
  void second.exit.then(() => {
    exited = true;
  });
  let restartToProgress: number | null = null;
  while (!exited) {
    if (instance.written() > atKill) {
      restartToProgress = performance.now() - resumedAt;
      break;
    }
    await sleep(10);
  }
  const exit = await succeed(second, `${label} (resumed run)`);
  return { exit, restartToProgress, seconds: (performance.now() - resumedAt) / 1000 };
}

/** Per document, the output after the kill and resume against the clean run's. */
function compareOutput(ids: string[], baseline: Map<string, number>, after: Map<string, number>) {
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
  return { duplicates, missing, differing };
}

/**
 * Texts answered beyond the clean run's count of each: per text, so that chunk texts that
 * legitimately repeat across documents are not counted.
 */
function reembedded(counts: ReadonlyMap<string, number>, clean: Map<string, number>): number {
  let total = 0;
  for (const [text, n] of counts) total += Math.max(0, n - (clean.get(text) ?? 0));
  return total;
}

/** A fresh run SIGKILLed at 50%, run again to completion, and compared with the clean run. */
export async function killAndResume(
  system: System,
  server: EmbeddingTestServer,
  ids: string[],
  clean: CleanRun,
  tag: string,
): Promise<KillFigures> {
  server.reset();
  const instance = system.fresh(tag);
  const atKill = await killAtHalf(instance, ids.length, system.label);
  const resumed = await resume(instance, atKill, system.label);
  const texts = server.stats().textsOk;
  const compared = compareOutput(ids, clean.rows, instance.rows());
  await instance.discard();
  return {
    documents_written_at_kill: atKill,
    restart_to_first_new_document_ms:
      resumed.restartToProgress === null ? null : round(resumed.restartToProgress, 0),
    resumed_run_seconds: round(resumed.seconds, 2),
    texts_embedded_both_runs: texts,
    texts_embedded_beyond_clean_run: texts - clean.figures.texts_embedded,
    texts_re_embedded: reembedded(server.textCounts(), clean.textCounts),
    documents_missing: compared.missing,
    documents_differing_from_clean_run: compared.differing,
    duplicate_rows: compared.duplicates,
    summary: summaryOf(system, resumed.exit),
  };
}
