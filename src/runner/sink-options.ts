import type { Sink } from "../sinks/sink.js";
import { expectInteger } from "./options.js";

/** Options of delivery to sinks, shared by `runBatch`, `resumeBatch` and `syncBatch`. */
export interface SinkOptions {
  /**
   * Sinks to attach to the batch: URIs (`jsonl:PATH`, `pgvector:postgres://…?table=T`) or `Sink`
   * objects. The batch remembers them (without passwords): later runs, workers and `sync` deliver
   * to every sink the batch has, given here or not. @default none
   */
  sinks?: (string | Sink)[];
  /**
   * At the end of a run, how long to wait for the sinks to catch up, in ms, 0 and up. A run whose
   * sinks are still behind then exits 3 (`docbatch sync` delivers the rest). @default 30_000
   */
  sinkWaitMs?: number;
  /** How long a deliverer holds a sink's cursor without renewing it, in ms, 1000 and up. @default 15_000 */
  sinkLeaseMs?: number;
}

export interface ResolvedSinkOptions {
  sinks: (string | Sink)[];
  sinkWaitMs: number;
  sinkLeaseMs: number;
}

export function resolveSinkOptions(options: SinkOptions): ResolvedSinkOptions {
  return {
    sinks: options.sinks ?? [],
    sinkWaitMs: expectInteger("sinkWaitMs", options.sinkWaitMs ?? 30_000, 0),
    sinkLeaseMs: expectInteger("sinkLeaseMs", options.sinkLeaseMs ?? 15_000, 1_000),
  };
}
