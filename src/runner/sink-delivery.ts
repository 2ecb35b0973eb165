import { randomBytes } from "node:crypto";
import os from "node:os";
import { backoffDelay } from "../core/backoff.js";
import { CircuitBreaker } from "../core/breaker.js";
import { DocbatchError, toDocbatchError } from "../core/errors.js";
import { openSink, type SinkSources } from "../sinks/open.js";
import type { Sink, SinkChunk, SinkKey } from "../sinks/sink.js";
import type { ChangePage, SinkChange, SinkCursor, SinkLease, SinkOwner } from "../store/index-store.js";
import type { Store } from "../store/store.js";
import { processExists } from "./liveness.js";

/** What delivery writes to the log (a pino Logger is one). */
export interface DeliveryLog {
  info(fields: object, text: string): void;
  warn(fields: object, text: string): void;
}

/** Delivery to a batch's sinks as a run drives it, on this thread or on a thread of its own. */
export interface Deliverer {
  start(): Promise<void>;
  /** Total lag over the batch's sinks at the last look (null when it has none). */
  readonly lag: number | null;
  /** Waits until every sink caught up or `timeoutMs` passed; true when caught up. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops delivering after the current call and hands the cursors back. */
  stop(): Promise<void>;
}

export interface DeliveryOptions {
  sources: SinkSources;
  logger: DeliveryLog;
  /** Lease of a sink cursor, in ms. */
  leaseMs: number;
  /** Time limit of one sink call, in ms. @default 30_000 */
  callTimeoutMs?: number;
  /** Outbox rows read per delivery (a page holds at most MAX_PAGE_CHANGES changes). @default 1024 */
  pageRows?: number;
  /** Wait between looks at an idle outbox, in ms. @default 100 */
  pollMs?: number;
  /**
   * Wait after a delivery that caught up, in ms: changes committed meanwhile go in one page, one
   * write and one acknowledgement instead of one per commit. A drain or a stop cuts it short.
   * @default 500
   */
  coalesceMs?: number;
}

/** Retry delays of a failing sink: 250 ms doubling to 10 s, plus jitter. */
const SINK_BACKOFF = { baseDelayMs: 250, maxDelayMs: 10_000 };
/** What one sink's loop holds between pages. */
interface SinkLoop {
  uri: string;
  /** Opened at the first delivery, again after a sink that was not configured here. */
  sink: Sink | null;
  lease: SinkLease | null;
  /** Failures in a row, for the backoff. */
  failures: number;
  /** When the lease was last renewed, in ms. */
  renewedAt: number;
  breaker: CircuitBreaker;
}

/** A sink's breaker opens after 5 consecutive failures and probes at most every 5 s. */
const SINK_BREAKER = { failureThreshold: 5, openMs: 1_000, maxOpenMs: 5_000 };

/**
 * Feeds every sink of a batch from the store's outbox, next to processing and never in its way:
 * one loop per sink, each holding the sink's cursor by a lease (so two processes never deliver to
 * one sink at once), reading committed changes after the cursor, handing them to the sink, and
 * moving the cursor only once the sink acknowledged. A failing sink is retried with backoff behind
 * a breaker of its own; its error and lag are on its cursor for `status`, `report` and `/metrics`.
 */
export class SinkDelivery implements Deliverer {
  private readonly loops = new Map<string, Promise<void>>();
  private stopped = false;
  private cursors: SinkCursor[] = [];
  private watcher: NodeJS.Timeout | null = null;
  private readonly owner: SinkOwner;
  private readonly wakers = new Set<() => void>();
  /** Sinks this process cannot open (a library sink of another process): waiting cannot help. */
  private readonly unconfigured = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly batchId: string,
    private readonly options: DeliveryOptions,
  ) {
    this.owner = sinkOwner();
  }

  /** Starts a loop for every sink the batch has, and for sinks attached later. */
  async start(): Promise<void> {
    await this.refresh();
    this.watcher = setInterval(() => void this.refresh().catch(() => {}), 1_000);
    this.watcher.unref();
  }

  /** Total lag over the batch's sinks at the last look (null when it has none). */
  get lag(): number | null {
    return this.cursors.length === 0 ? null : this.cursors.reduce((sum, c) => sum + c.lag, 0);
  }

  /** Waits until every sink caught up with the outbox or `timeoutMs` passed; true when caught up. */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await this.refresh();
      if (this.cursors.every((c) => c.lag === 0)) return true;
      if (Date.now() >= until || this.stopped) return false;
      if (this.cursors.every((c) => c.lag === 0 || this.unconfigured.has(c.uri))) return false;
      this.wake();
      await sleep(Math.min(100, Math.max(1, until - Date.now())));
    }
  }

  /** Stops every loop after its current call and hands the cursors back. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watcher) clearInterval(this.watcher);
    this.wake();
    await Promise.all(this.loops.values());
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  private async refresh(): Promise<void> {
    this.cursors = await this.store.sinkCursors(this.batchId);
    for (const cursor of this.cursors) {
      if (this.stopped || this.loops.has(cursor.uri)) continue;
      this.loops.set(cursor.uri, this.loop(cursor.uri));
    }
  }

  /** One sink's loop: hold its cursor, deliver page after page, back off while it fails. */
  private async loop(uri: string): Promise<void> {
    const state: SinkLoop = {
      uri,
      sink: null,
      lease: null,
      failures: 0,
      renewedAt: 0,
      breaker: this.sinkBreaker(uri),
    };
    try {
      while (!this.stopped) {
        if (!state.lease && !(await this.claimCursor(state))) continue;
        const permit = state.breaker.acquire(Date.now());
        if (!permit.allowed) {
          await this.idle(permit.retryAt - Date.now());
          continue;
        }
        try {
          await this.deliverNextPage(state, state.lease!, permit.probe);
        } catch (err) {
          await this.recordFailure(state, err, permit.probe);
        }
      }
    } finally {
      if (state.lease) await this.store.releaseSink(state.lease).catch(() => {});
      await state.sink?.close?.().catch(() => {});
    }
  }

  /** A breaker per sink, its transitions logged and kept as batch events. */
  private sinkBreaker(uri: string): CircuitBreaker {
    return new CircuitBreaker(SINK_BREAKER, (t) => {
      this.options.logger.warn(
        { event: "sink.breaker", batchId: this.batchId, sink: uri, ...t },
        `sink breaker ${t.from} -> ${t.to}`,
      );
      void this.store
        .addEvents(this.batchId, [
          { run: null, at: t.at, type: "sink_breaker", data: { sink: uri, owner: this.owner.owner, ...t } },
        ])
        .catch(() => {});
    });
  }

  /** Takes the sink's cursor; false (after a wait) while another live process delivers it. */
  private async claimCursor(state: SinkLoop): Promise<boolean> {
    state.lease = await this.store.claimSink(
      this.batchId,
      state.uri,
      this.owner,
      this.options.leaseMs,
      this.deadOwners(),
    );
    if (!state.lease) {
      await this.idle(Math.max(250, this.options.leaseMs / 3));
      return false;
    }
    this.options.logger.info(
      { event: "sink.claimed", batchId: this.batchId, sink: state.uri, from: state.lease.deliveredSeq },
      "sink cursor claimed",
    );
    return true;
  }

  /**
   * Hands the changes after the cursor to the sink, then moves the cursor (or only renews its
   * lease when nothing moved); a cursor taken over meanwhile ends the lease, without a pause.
   */
  private async deliverNextPage(state: SinkLoop, lease: SinkLease, probe: boolean): Promise<void> {
    state.sink ??= await openSink(state.uri, this.batchId, this.options.sources);
    const page = await this.store.readChanges(
      this.batchId,
      lease.deliveredSeq,
      this.options.pageRows ?? 1024,
    );
    if (page.throughSeq > lease.deliveredSeq) {
      await withTimeout(deliver(state.sink, page), this.options.callTimeoutMs ?? 30_000, state.uri);
    }
    state.breaker.onSuccess(Date.now(), probe);
    state.failures = 0;
    const moved = page.throughSeq > lease.deliveredSeq;
    if (moved || Date.now() - state.renewedAt > this.options.leaseMs / 3) {
      if (!(await this.store.ackSink(lease, page.throughSeq, this.options.leaseMs))) {
        this.options.logger.warn(
          { event: "sink.fenced", batchId: this.batchId, sink: state.uri },
          "sink cursor taken over",
        );
        state.lease = null;
        return;
      }
      state.renewedAt = Date.now();
      lease.deliveredSeq = Math.max(lease.deliveredSeq, page.throughSeq);
    }
    const pause = this.pause(page, moved);
    if (pause > 0) await this.idle(pause);
  }

  /** Logs a failed delivery, keeps its error on the cursor, and backs off. */
  private async recordFailure(state: SinkLoop, err: unknown, probe: boolean): Promise<void> {
    state.breaker.onFailure(Date.now(), probe);
    const error =
      err instanceof DocbatchError
        ? err
        : new DocbatchError("SINK_UNAVAILABLE", `${state.uri}: ${toDocbatchError(err).message}`, {
            cause: err,
          });
    state.failures += 1;
    this.options.logger.warn(
      {
        event: "sink.failed",
        batchId: this.batchId,
        sink: state.uri,
        error: { code: error.code, message: error.message },
      },
      "sink delivery failed",
    );
    if (state.lease)
      await this.store
        .recordSinkError(state.lease, { code: error.code, message: error.message })
        .catch(() => {});
    if (error.code === "SINK_NOT_CONFIGURED") {
      state.sink = null;
      this.unconfigured.add(state.uri);
    }
    await this.idle(backoffDelay(state.failures - 1, SINK_BACKOFF));
  }

  /** No pause while the outbox holds more; a short one when idle; a longer one after catching up. */
  private pause(page: ChangePage, moved: boolean): number {
    if (!moved) return this.options.pollMs ?? 100;
    return page.throughSeq < page.headSeq ? 0 : (this.options.coalesceMs ?? 500);
  }

  private deadOwners(): string[] {
    return deadSinkOwners(this.cursors);
  }

  /** Sleeps up to `ms`; `wake` (a drain, a stop) cuts it short. */
  private idle(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.wakers.add(done);
    });
  }
}

/** Owners of cursors whose process on this host is gone: their leases are taken over at once. */
export function deadSinkOwners(cursors: SinkCursor[]): string[] {
  const host = os.hostname();
  return cursors.flatMap((c) =>
    c.leaseOwner && c.leaseHost === host && c.leasePid !== null && !processExists(c.leasePid)
      ? [c.leaseOwner]
      : [],
  );
}

/** A deliverer's identity on a cursor: host and pid tell a dead one on this host. */
export function sinkOwner(): SinkOwner {
  const host = os.hostname();
  return { owner: `${host}:${process.pid}:${randomBytes(4).toString("hex")}`, host, pid: process.pid };
}

/** Hands a page to the sink in order, one call per run of changes of the same kind. */
export async function deliver(sink: Sink, page: ChangePage): Promise<void> {
  const changes = page.changes;
  for (let i = 0; i < changes.length; ) {
    const op = changes[i]!.op;
    let j = i;
    while (j < changes.length && changes[j]!.op === op) j++;
    const run = changes.slice(i, j);
    if (op === "upsert") await sink.upsert(run.map(sink.takesFloat32 ? toTypedSinkChunk : toSinkChunk));
    else await sink.delete(run.map(toSinkKey));
    i = j;
  }
}

function toSinkChunk(change: SinkChange): SinkChunk {
  const chunk = toTypedSinkChunk(change);
  if (chunk.embedding) chunk.embedding = toNumbers(chunk.embedding as unknown as Float32Array);
  return chunk;
}

/** The chunk with the store's Float32Array as its embedding, for a sink that `takesFloat32`. */
function toTypedSinkChunk(change: SinkChange): SinkChunk {
  if (change.op !== "upsert") throw new Error("not an upsert");
  return {
    key: change.key,
    doc_id: change.doc_id,
    source: change.source,
    chunk_index: change.chunk_index,
    text: change.text,
    metadata: change.metadata,
    embedding: change.embedding as unknown as number[] | null,
  };
}

/** A plain loop: several times faster than Array.from on a typed array, on the delivery's hot path. */
function toNumbers(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]!;
  return out;
}

function toSinkKey(change: SinkChange): SinkKey {
  return { key: change.key, doc_id: change.doc_id, source: change.source, chunk_index: change.chunk_index };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, uri: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${uri} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
