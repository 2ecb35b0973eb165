import { resumeBatch } from "../../runner/resume-batch.js";
import { runBatch } from "../../runner/run-batch.js";
import { createStore, requireBatch } from "../../store/open.js";
import type { Store } from "../../store/store.js";
import { parseFlags, requireBatchId, stringFlag } from "../args.js";
import {
  defined,
  OUTPUT_FLAGS,
  outputOptions,
  PROCESS_FLAGS,
  processOptions,
  SINK_HELP,
  sharedStore,
  sinkOptions,
  withSignals,
} from "../process-flags.js";
import { finishRun, singleInput } from "./run.js";

export const SUBMIT_HELP = `docbatch submit INPUT --store URL [--batch-id ID] [--chunk-size N] [--embed-url URL ...]

Validates and plans a batch without processing it, and prints its id: workers
(\`docbatch worker --batch-id ID\`) on any machine then share the work. Submitting the same input
again finishes an interrupted plan, or does nothing. --sink URI (repeatable) attaches sinks that
the workers deliver to.`;

export async function submitCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      db: { type: "string" },
      store: { type: "string" },
      "batch-id": { type: "string" },
      ...OUTPUT_FLAGS,
      "lease-ms": { type: "string" },
      "log-file": { type: "string" },
      "log-level": { type: "string" },
      sink: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    "submit",
  );
  if (values.help) {
    process.stdout.write(`${SUBMIT_HELP}\n`);
    return 0;
  }
  const input = singleInput(positionals, "submit");
  const store = await sharedStore(values);
  try {
    const { result, signal } = await withSignals((abort) =>
      runBatch({
        input,
        signal: abort,
        planOnly: true,
        command: "submit",
        ...(store ? { store } : {}),
        ...processOptions(values),
        ...outputOptions(values),
        ...sinkOptions(values),
        ...defined({ db: stringFlag(values.db), batchId: stringFlag(values["batch-id"]) }),
      }),
    );
    if (result.stopReason === "interrupted") return signal === "SIGTERM" ? 143 : 130;
    const c = result.report.counts;
    process.stderr.write(
      `docbatch: planned ${c.total} documents (${c.pending} to process, ${c.duplicates_skipped} duplicates skipped)\n`,
    );
    process.stdout.write(`${result.report.batch_id}\n`);
    return 0;
  } finally {
    await store?.close();
  }
}

export const WORKER_HELP = `docbatch worker --batch-id ID (--store URL | --db FILE) [options]

Processes documents of a planned batch until none is left, sharing it with every other worker of
the same store, then exits. Claims are leases renewed by heartbeats: a worker that dies has its
documents reclaimed by the others once its lease (--lease-ms, default 30000) expires, and a worker
that wakes up after its lease was taken cannot commit (its commits are fenced out and counted).

  --concurrency N, --max-attempts N, --base-delay-ms N, --embed-timeout-ms N, --embed-batch-size N,
  --doc-timeout-ms N, --max-fail-rate R, --lease-ms N, --worker-id NAME, --inject SPEC, --seed N,
  --log-file FILE, --log-level LEVEL, --json, --no-progress
${SINK_HELP}`;

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      db: { type: "string" },
      store: { type: "string" },
      "batch-id": { type: "string" },
      ...PROCESS_FLAGS,
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    "worker",
  );
  if (values.help) {
    process.stdout.write(`${WORKER_HELP}\n`);
    return 0;
  }
  const batchId = requireBatchId(values["batch-id"], "worker");
  const store = (await sharedStore(values)) ?? (await openLocal(stringFlag(values.db)));
  try {
    await requireBatch(store, batchId);
    const { result, signal } = await withSignals((abort) =>
      resumeBatch({ store, batchId, signal: abort, command: "worker", ...processOptions(values) }),
    );
    return finishRun(result, signal, Boolean(values.json));
  } finally {
    await store.close();
  }
}

async function openLocal(db: string | undefined): Promise<Store> {
  const store = await createStore(db ? { db } : {}, { mustExist: true });
  await store.open();
  return store;
}
