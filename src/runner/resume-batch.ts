import { DocbatchError } from "../core/errors.js";
import { openInput } from "../input/sources.js";
import { validateInput } from "../input/validate.js";
import type { BatchInfo, Store } from "../store/store.js";
import { storeError } from "../store/transient.js";
import { finishDelivery, startDelivery } from "./deliver-batch.js";
import { createLogger } from "./logger.js";
import { type PlanInput, PlanTask } from "./plan-coordinator.js";
import { ResilientStore } from "./resilient-store.js";
import { batchFingerprint, endingRun, finishRun, type RunResult, storeRetryOf } from "./run-batch.js";
import { type ProcessOptions, resolveProcessOptions } from "./run-options.js";
import { openRunAs, processAlongsidePlan, type RunSteps, startPlanning } from "./run-steps.js";
import { settingsFromJson } from "./settings.js";
import type { SinkOptions } from "./sink-options.js";

export interface ResumeBatchOptions extends ProcessOptions, SinkOptions {
  /** An open store; the caller closes it. */
  store: Store;
  batchId: string;
}

/**
 * Processes the unfinished documents of a batch that is already in the store, with the settings
 * it was planned with: what a worker, the server and a backfill do. No input is needed, unless the
 * plan is incomplete and its planner is gone: then the batch's input is read from where it was
 * planned (when this process can read it) and the plan is continued from its checkpoint.
 */
export async function resumeBatch(options: ResumeBatchOptions): Promise<RunResult> {
  const processStartedAt = Math.round(performance.timeOrigin);
  const resolved = resolveProcessOptions(options);
  const logger = options.logger ?? createLogger(options.logFile, options.logLevel);
  const retry = storeRetryOf(resolved, logger, options.onStoreOutage);
  const store = new ResilientStore(options.store, retry);
  const { batchId } = options;
  try {
    const batch = await store.getBatch(batchId);
    if (!batch) {
      throw new DocbatchError("BATCH_NOT_FOUND", `The store holds no batch \`${batchId}\`.`, {
        details: [{ path: "batch_id", problem: `no batch ${JSON.stringify(batchId)}` }],
      });
    }
    const { run, resumes } = await openRunAs(store, batchId, options, "worker", {
      leaseMs: resolved.leaseMs,
      processStartedAt,
      logger,
    });
    // In-flight documents were recovered when the run opened; now the sink cursors.
    const sinks = await startDelivery(store, batchId, options, logger, true, resolved.storeRetryMs);
    const steps: RunSteps = { store, run, options, resolved, logger, retry };
    return await endingRun(store, run, logger, async () => {
      const plan = new PlanTask();
      if (!batch.planComplete) {
        const readable = await inputOf(batch, options.store);
        startPlanning(plan, steps, {
          input: readable.input,
          ...(readable.why ? { unreadable: readable.why } : {}),
        });
      }
      const stopReason = await processAlongsidePlan(steps, plan, {
        // Documents of a new batch, or of the rest of an interrupted plan, are processed while the
        // plan is written; a new plan generation over existing documents is planned first.
        streamable: batch.planGeneration <= 1 || batch.planRecords > 0,
        resumes,
        process: true,
        settings: settingsFromJson(batch.settings),
        delivery: sinks.delivery,
      });
      await finishDelivery(sinks.delivery, stopReason, sinks.waitMs, logger, batchId);
      return finishRun(store, run, stopReason, logger, options.onProgress);
    }).finally(() => sinks.delivery?.stop());
  } catch (err) {
    throw storeError(err) ?? err;
  }
}

/**
 * The batch's input, opened as the process that planned it opened it, if this process can read it
 * and it is still the input that was planned; otherwise why not.
 */
async function inputOf(batch: BatchInfo, store: Store): Promise<{ input: PlanInput | null; why?: string }> {
  if (batch.inputRef.startsWith("http:")) {
    return { input: null, why: "it was uploaded to a docbatch service, which plans it from its own spool" };
  }
  const settings = settingsFromJson(batch.settings);
  const storeFiles = store.contentFile ? [store.contentFile] : [];
  const filter = {
    ...(settings.include ? { include: settings.include } : {}),
    ...(settings.exclude ? { exclude: settings.exclude } : {}),
  };
  const root = settings.root;
  let source: Awaited<ReturnType<typeof openInput>>;
  try {
    source = await openInput(batch.inputRef, { storeFiles, ...filter, ...(root ? { root } : {}) });
  } catch (err) {
    return { input: null, why: `${batch.inputRef} cannot be read here (${(err as Error).message})` };
  }
  if (batch.fingerprint !== null) {
    if ((await batchFingerprint(source, batch.layer, settings.maxDocBytes)) !== batch.fingerprint) {
      return { input: null, why: `${batch.inputRef} changed since the batch was planned from it` };
    }
  } else {
    // Inputs with `path` documents are validated again on every plan: their files may have changed.
    await validateInput(source);
  }
  return {
    input: {
      source,
      ref: { path: source.location, storeFiles, ...filter, ...(root ? { root } : {}) },
      maxDocBytes: settings.maxDocBytes,
      layer: batch.layer,
    },
  };
}
