import { DocbatchError } from "../../core/errors.js";
import { formatReport } from "../../report/text.js";
import { DEFAULTS } from "../../runner/defaults.js";
import { type Progress, type RunResult, runBatch } from "../../runner/run-batch.js";
import type { Store } from "../../store/store.js";
import { parseCommand, pick, type Values } from "../args.js";
import { printHelp } from "../help.js";
import { commandPrefix, printJson, shellQuote } from "../output.js";
import { defined, sharedStore, storeOutageNotice, withSignals } from "../process-flags.js";
import { ProgressDisplay } from "../progress-bar.js";

export function runCommand(args: string[]): Promise<number> {
  return inputCommand("run", args, async (values, input, store) => {
    const display = progressDisplay(values);
    const { result, signal } = await withSignals((abort) =>
      runBatch({
        input,
        signal: abort,
        ...inputCommandOptions("run", values, store),
        ...defined({
          durability: values.durability,
          onProgress: display ? (p: Progress) => display.update(p) : undefined,
          onStoreOutage: storeOutageNotice(),
        }),
      }),
    );
    display?.finish();
    return finishRun(result, signal, values);
  });
}

/** What the flags of an input command give the library: the store, the batch id and its options. */
export function inputCommandOptions<C extends "run" | "submit" | "plan">(
  command: C,
  values: Values<C>,
  store: Store | null,
) {
  const flags = values as { db?: string; batchId?: string };
  return {
    ...(store ? { store } : {}),
    ...pick(command, values, ["process", "output", "input"]),
    ...defined({ db: flags.db, batchId: flags.batchId }),
  };
}

/**
 * A command that reads one INPUT into a store (`run`, `submit`, `plan`): parses its flags (or
 * prints its help), takes its input, opens the store it shares with other processes, if any, and
 * closes that store after `body`, whatever the way out.
 */
export async function inputCommand<C extends "run" | "submit" | "plan">(
  command: C,
  args: string[],
  body: (values: Values<C>, input: string, store: Store | null) => Promise<number>,
): Promise<number> {
  const { values, positionals } = parseCommand(command, args);
  const flags = values as { help?: boolean; db?: string; store?: string; storeRetryMs?: number };
  if (flags.help) return printHelp(command);
  const input = singleInput(positionals, command);
  const store = await sharedStore(flags);
  try {
    return await body(values, input, store);
  } finally {
    await store?.close();
  }
}

/**
 * The progress display of `run` and `worker`: a bar on a terminal, a status line every
 * --progress-interval-ms otherwise (CI logs), nothing with --no-progress.
 */
export function progressDisplay(
  values: { noProgress?: boolean; progress?: boolean; progressIntervalMs?: number },
  own = false,
): ProgressDisplay | null {
  const show =
    !values.noProgress &&
    (values.progress || (process.stderr.isTTY && process.stdout.isTTY) || !process.stderr.isTTY);
  if (!show) return null;
  return new ProgressDisplay(
    process.stderr,
    Boolean(process.stderr.isTTY),
    values.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
    own,
  );
}

/** Prints the outcome of a run or a worker and returns its exit code. */
export function finishRun(
  result: RunResult,
  signal: NodeJS.Signals | null,
  values: { json?: boolean; db?: string },
): number {
  const { report } = result;
  const store = values.db ? `--db ${shellQuote(values.db)}` : "";
  if (values.json) printJson(report);
  else {
    const latest = report.runs[report.runs.length - 1];
    if (latest && latest.processed === 0 && result.stopReason === "finished") {
      const complete = report.counts.done + report.counts.degraded;
      process.stdout.write(
        `Nothing to do: ${complete} of ${report.counts.total} documents were already complete ` +
          `(${report.checkpoint}); processed 0.\n`,
      );
    }
    process.stdout.write(`${formatReport(report, [], { cli: commandPrefix(), store })}\n`);
  }
  if (result.embedder === "local") {
    // On stderr with --json, so the JSON on stdout stays the report alone.
    (values.json ? process.stderr : process.stdout).write(
      "note: vectors come from the built-in hashing embedder, which is not a semantic model: use " +
        "--embed-url (or --embed-model-dir) for retrieval quality\n",
    );
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
