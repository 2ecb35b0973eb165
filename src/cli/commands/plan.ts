import { DocbatchError } from "../../core/errors.js";
import { deleteBatch } from "../../runner/delete-batch.js";
import { createLogger } from "../../runner/logger.js";
import { type PlanPreview, previewPlan } from "../../runner/plan-preview.js";
import { createStore } from "../../store/open.js";
import { parseCommand } from "../args.js";
import { printHelp } from "../help.js";
import { formatInt, printJson } from "../output.js";
import { defined, withSignals } from "../process-flags.js";
import { inputCommand, inputCommandOptions } from "./run.js";

export function planCommand(args: string[]): Promise<number> {
  return inputCommand("plan", args, async (values, input, store) => {
    const preview = await previewPlan({
      input,
      ...inputCommandOptions("plan", values, store),
      ...defined({ pricePerMillionTokens: values.pricePerMillionTokens }),
    });
    if (values.json) printJson(preview);
    else process.stdout.write(`${formatPreview(preview)}\n`);
    return 0;
  });
}

function formatPreview(p: PlanPreview): string {
  const lines = [
    `batch ${p.batch_id}: ${formatInt(p.new)} new, ${formatInt(p.changed)} changed, ` +
      `${formatInt(p.unchanged)} unchanged, ${formatInt(p.deleted)} deleted, ${formatInt(p.duplicates)} duplicates`,
    `  chunks ${formatInt(p.chunks)} (${formatInt(p.cache_hits)} in the cache, ${formatInt(p.chunks_to_embed)} to embed)`,
    `  estimated tokens ${formatInt(p.estimated_tokens)}` +
      (p.estimated_cost !== undefined ? `, estimated cost ${p.estimated_cost}` : ""),
    "Nothing was written; `docbatch run` with the same options does this.",
  ];
  return lines.join("\n");
}

export async function deleteCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("delete", args);
  if (values.help) return printHelp("delete");
  const batchId = values.batchId?.trim();
  if (!batchId) {
    throw new DocbatchError("USAGE", "docbatch delete needs --batch-id ID.", {
      details: [{ path: "--batch-id", problem: "required" }],
      hints: ["`docbatch batches` lists the batches of the store."],
    });
  }
  const store = await createStore({ db: values.db, url: values.store }, { mustExist: true });
  await store.open();
  try {
    const logger = createLogger(undefined);
    const { result } = await withSignals((signal) =>
      deleteBatch({
        store,
        batchId,
        logger,
        signal,
        dropSinks: Boolean(values.dropSinks),
        ...defined({ timeoutMs: values.timeoutMs }),
      }),
    );
    if (values.json) printJson(result);
    else {
      const sinks = result.sinks.map(
        (s) => `${s.uri} (${s.delivered ? "deletes delivered" : "left as it was"})`,
      );
      process.stdout.write(
        `batch ${batchId} deleted: ${formatInt(result.documents)} documents` +
          (sinks.length > 0 ? `; sinks: ${sinks.join(", ")}` : "") +
          "\n",
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
