import { DocbatchError } from "../../core/errors.js";
import { formatReport } from "../../report/text.js";
import { type Progress, type RunResult, runBatch } from "../../runner/run-batch.js";
import { intFlag, parseFlags, stringFlag } from "../args.js";
import { printJson } from "../output.js";
import {
  defined,
  OUTPUT_FLAGS,
  outputOptions,
  PROCESS_FLAGS,
  processOptions,
  sharedStore,
  withSignals,
} from "../process-flags.js";
import { ProgressDisplay } from "../progress-bar.js";

export const RUN_HELP = `docbatch run INPUT [options]

Plans the batch (or resumes it) and processes every unfinished document.
INPUT is a .json file, a .jsonl/.ndjson file, or a directory.

  --db FILE               SQLite store (default .docbatch/docbatch.db)
  --store URL             a shared Postgres store instead (postgres://user@host/db[?schema=name];
                          or DOCBATCH_STORE): any number of workers may run the same batch
  --batch-id ID           default: the input's batch_id, else derived from the input path
  --concurrency N         documents in flight at once (default 8)
  --max-attempts N        attempts per document and stage before the fallback path (default 3)
  --base-delay-ms N       first retry delay (default 200); delays double up to --max-delay-ms
  --max-delay-ms N        cap of the exponential backoff (default 30000)
  --chunk-size N          largest chunk in --chunk-unit units (default 1000)
  --chunk-overlap N       units repeated between neighbouring chunks (default 0)
  --chunk-unit UNIT       chars (default) or tokens (of --tokenizer): what chunk sizes count
  --tokenizer NAME        o200k_base (default) or cl100k_base, shipped with docbatch
  --embed-url URL         OpenAI-compatible embeddings endpoint (default: built-in hashing embedder,
                          not a semantic model)
  --embed-model NAME      model name sent to the endpoint (default text-embedding-3-small)
  --embed-model-dir DIR   a local ONNX sentence-embedding model (config.json, tokenizer.json,
                          onnx/model.onnx), run offline on the CPU threads; needs the optional
                          packages @huggingface/transformers and onnxruntime-node
  --embed-max-tokens N    the model's input limit in tokens of --tokenizer: longer chunks are
                          split before embedding, never truncated
  --embed-timeout-ms N    per-request time limit (default 30000)
  --embed-batch-size N    chunk texts per embedding request (default 64)
  --doc-timeout-ms N      per-document time limit, 0 for none (default 0)
  --breaker-max-wait-ms N longest wait for an open circuit breaker before chunks are kept
                          without vectors (default 120000)
  --max-fail-rate R       stop early (exit 3, resumable) when more than R of documents fail
  --lease-ms N            how long a claimed document is held without a heartbeat (default 30000);
                          a dead worker's documents are reclaimed after it
  --inject SPEC           fault injection, e.g. parse=0.03,embed=0.02,timeout=0.01,crash=0.001
  --seed N                seed of the fault injection (default 1)
  --log-file FILE         JSON-lines log of every state change, retry, failure and fallback
  --log-level LEVEL       trace, debug, info (default), warn, error
  --json                  print the final report as JSON on stdout
  --no-progress           no progress display (a bar on a terminal; otherwise a status line
                          on stderr every --progress-interval-ms, default 5000)
  --durability MODE       full (default) or normal

The API key of --embed-url is read from DOCBATCH_EMBED_API_KEY.
Exit codes: 0 done (completion >= 99%), 3 finished below that, 2 invalid input or usage,
1 internal error, 130/143 interrupted by SIGINT/SIGTERM (run the same command to resume).`;

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      db: { type: "string" },
      store: { type: "string" },
      "batch-id": { type: "string" },
      ...PROCESS_FLAGS,
      ...OUTPUT_FLAGS,
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
      progress: { type: "boolean" },
      "progress-interval-ms": { type: "string" },
      durability: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "run",
  );
  if (values.help) {
    process.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  const input = singleInput(positionals, "run");
  const durability = stringFlag(values.durability);
  if (durability !== undefined && durability !== "full" && durability !== "normal") {
    throw new DocbatchError("USAGE", `--durability expects full or normal, got \`${durability}\``, {
      details: [{ path: "--durability", problem: "full or normal" }],
    });
  }
  const showProgress =
    !values["no-progress"] &&
    (values.progress || (process.stderr.isTTY && process.stdout.isTTY) || !process.stderr.isTTY);
  const interval = intFlag(values["progress-interval-ms"], "progress-interval-ms") ?? 5_000;
  const display = showProgress
    ? new ProgressDisplay(process.stderr, Boolean(process.stderr.isTTY), interval)
    : null;
  if (values["embed-url"] === undefined && values["embed-model-dir"] === undefined) {
    process.stderr.write(
      "docbatch: vectors from the built-in hashing embedder (word features, not a semantic model); " +
        "use --embed-url or --embed-model-dir for a real one\n",
    );
  }
  const store = await sharedStore(values);
  try {
    const { result, signal } = await withSignals((abort) =>
      runBatch({
        input,
        signal: abort,
        ...(store ? { store } : {}),
        ...processOptions(values),
        ...outputOptions(values),
        ...defined({
          db: stringFlag(values.db),
          batchId: stringFlag(values["batch-id"]),
          durability: durability as "full" | "normal" | undefined,
          onProgress: display ? (p: Progress) => display.update(p) : undefined,
        }),
      }),
    );
    display?.finish();
    return finishRun(result, signal, Boolean(values.json));
  } finally {
    await store?.close();
  }
}

/** Prints the outcome of a run or a worker and returns its exit code. */
export function finishRun(result: RunResult, signal: NodeJS.Signals | null, json: boolean): number {
  const { report } = result;
  if (json) printJson(report);
  else {
    const latest = report.runs[report.runs.length - 1];
    if (latest && latest.processed === 0 && result.stopReason === "finished") {
      const complete = report.counts.done + report.counts.degraded;
      process.stdout.write(
        `Nothing to do: ${complete} of ${report.counts.total} documents were already complete ` +
          `(${report.checkpoint}); processed 0.\n`,
      );
    }
    process.stdout.write(`${formatReport(report)}\n`);
  }
  if (result.stopReason === "interrupted") return signal === "SIGTERM" ? 143 : 130;
  if (result.stopReason === "fail-budget") {
    process.stderr.write(
      "docbatch: stopped early: the failure rate exceeded --max-fail-rate; run again to resume.\n",
    );
  }
  return result.exitCode;
}

export function singleInput(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new DocbatchError(
      "USAGE",
      `docbatch ${command} needs exactly one INPUT (a .json, .jsonl file or a directory).`,
      {
        details: [
          { path: "INPUT", problem: positionals.length === 0 ? "required" : "only one input is accepted" },
        ],
      },
    );
  }
  return positionals[0]!;
}
