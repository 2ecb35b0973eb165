import { addSinkSources, type SinkSources } from "../sinks/open.js";
import type { SinkCursor } from "../store/index-store.js";
import type { Store } from "../store/store.js";
import { DEFAULTS } from "./defaults.js";
import { DeliveryThread } from "./delivery-runner.js";
import type { StopReason } from "./engine.js";
import { createLogger, type Logger } from "./logger.js";
import { type Deliverer, SinkDelivery } from "./sink-delivery.js";
import { resolveSinkOptions, type SinkOptions } from "./sink-options.js";

/**
 * Attaches the sinks given to a run and starts delivering every sink the batch has. Called after
 * the run's crash recovery put the dead runs' in-flight documents back: documents first, then
 * sink cursors (a dead deliverer's cursor is taken over by the first loop that looks at it).
 */
export async function startDelivery(
  store: Store,
  batchId: string,
  options: SinkOptions,
  logger: Logger,
  deliver = true,
  storeRetryMs: number = DEFAULTS.storeRetryMs,
): Promise<{ delivery: Deliverer | null; waitMs: number }> {
  const resolved = resolveSinkOptions(options);
  const sources: SinkSources = new Map();
  const uris = addSinkSources(sources, resolved.sinks);
  if (uris.length > 0) await store.attachSinks(batchId, uris, Date.now());
  if (!deliver || (await store.sinkCursors(batchId)).length === 0) return { delivery: null, waitMs: 0 };
  const spec = store.connectionSpec();
  const given = [...sources].flatMap(([uri, sink]) =>
    typeof sink === "string" ? [[uri, sink] as [string, string]] : [],
  );
  const delivery: Deliverer =
    spec && given.length === sources.size && DeliveryThread.available()
      ? new DeliveryThread(
          { store: spec, batchId, sources: given, leaseMs: resolved.sinkLeaseMs, storeRetryMs },
          logger,
        )
      : new SinkDelivery(store, batchId, { sources, logger, leaseMs: resolved.sinkLeaseMs });
  await delivery.start();
  return { delivery, waitMs: resolved.sinkWaitMs };
}

/**
 * Ends delivery at the end of a run: waits up to `waitMs` for the sinks to catch up (not when the
 * run was interrupted: a signal means stop now), then hands the cursors back.
 */
export async function finishDelivery(
  delivery: Deliverer | null,
  reason: StopReason,
  waitMs: number,
  logger: Logger,
  batchId: string,
): Promise<void> {
  if (!delivery) return;
  const caughtUp = reason === "interrupted" ? false : await delivery.drain(waitMs);
  await delivery.stop();
  if (!caughtUp)
    logger.warn({ event: "sink.behind", batchId, lag: delivery.lag }, "sinks behind at the end of the run");
}

export interface SyncBatchOptions extends SinkOptions {
  store: Store;
  batchId: string;
  /** Longest time to deliver, in ms. @default 600_000 */
  timeoutMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

/**
 * Delivers what the batch's sinks have not received yet (`docbatch sync`), and returns the cursors
 * afterwards: a sink with `lag` 0 holds exactly the batch's output.
 */
export async function syncBatch(options: SyncBatchOptions): Promise<SinkCursor[]> {
  const logger = options.logger ?? createLogger(undefined);
  const { delivery } = await startDelivery(options.store, options.batchId, options, logger);
  if (delivery) {
    const stop = () => void delivery.stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      await delivery.drain(options.timeoutMs ?? 600_000);
    } finally {
      options.signal?.removeEventListener("abort", stop);
      await delivery.stop();
    }
  }
  return options.store.sinkCursors(options.batchId);
}
