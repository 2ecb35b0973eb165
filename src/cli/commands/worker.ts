import { resumeBatch } from "../../runner/resume-batch.js";
import { type Progress, runBatch } from "../../runner/run-batch.js";
import { createStore, requireBatch } from "../../store/open.js";
import type { Store } from "../../store/store.js";
import { parseCommand, pick, requireBatchId } from "../args.js";
import { printHelp } from "../help.js";
import { sharedStore, storeOutageNotice, withSignals } from "../process-flags.js";
import { finishRun, inputCommand, inputCommandOptions, progressDisplay } from "./run.js";

export function submitCommand(args: string[]): Promise<number> {
  return inputCommand("submit", args, async (values, input, store) => {
    const { result, signal } = await withSignals((abort) =>
      runBatch({
        input,
        signal: abort,
        planOnly: true,
        command: "submit",
        onStoreOutage: storeOutageNotice(),
        ...inputCommandOptions("submit", values, store),
      }),
    );
    if (result.stopReason === "interrupted") return signal === "SIGTERM" ? 143 : 130;
    const c = result.report.counts;
    process.stderr.write(
      `docbatch: planned ${c.total} documents (${c.pending} to process, ${c.duplicates_skipped} duplicates skipped)\n`,
    );
    process.stdout.write(`${result.report.batch_id}\n`);
    return 0;
  });
}

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("worker", args);
  if (values.help) return printHelp("worker");
  const batchId = requireBatchId(values.batchId, "worker");
  const store = (await sharedStore(values)) ?? (await openLocal(values.db));
  const display = progressDisplay(values, true);
  try {
    await requireBatch(store, batchId);
    const { result, signal } = await withSignals((abort) =>
      resumeBatch({
        store,
        batchId,
        signal: abort,
        command: "worker",
        onStoreOutage: storeOutageNotice(),
        ...pick("worker", values, ["process"]),
        ...(display ? { onProgress: (p: Progress) => display.update(p) } : {}),
      }),
    );
    display?.finish();
    return finishRun(result, signal, values);
  } finally {
    await store.close();
  }
}

async function openLocal(db: string | undefined): Promise<Store> {
  const store = await createStore(db ? { db } : {}, { mustExist: true });
  await store.open();
  return store;
}
