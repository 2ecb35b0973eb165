import { atEndOfTurn } from "../core/end-of-turn.js";
import { chunkTextHash } from "../core/keys.js";
import type { EmbedCounts, Store } from "../store/store.js";

interface Lookup {
  hashes: string[];
  resolve: (found: Map<string, Float32Array>) => void;
  reject: (err: unknown) => void;
}

/**
 * The embedding cache as one run uses it. Every document looks its chunk texts up before any is
 * sent to the embedder, and every answer is written to the store as it arrives, by itself and not
 * with its document: a document that waits for the retry of another of its requests, or a run
 * that crashes, does not hold answered vectors in memory only. The answers of one turn of the
 * event loop share one write, at its end or before the embedding queue sends more requests
 * (`flush`), whichever comes first (a write waits for the one before it): a SIGKILL loses the
 * requests in flight, and only when a write waits for the store's lock the answers read meanwhile.
 * Answers queued or being written are found by lookups too, so two documents of one run with a
 * common text embed it once.
 *
 * Writes go one at a time; a failed write is reported and its entries dropped (they cost one
 * request again, never a wrong vector). Lookups go one at a time too, and the documents that ask
 * while one is out, or in the same turn of the event loop, share the next: a shared store sees one
 * query per round trip, and the embedded one one query per turn, not one per document.
 */
export class RunEmbedCache {
  private queued = new Map<string, Float32Array>();
  private writing = new Map<string, Float32Array>();
  private timer: NodeJS.Immediate | null = null;
  private inFlight: Promise<void> | null = null;
  private counts: EmbedCounts = { embedded: 0, hits: 0 };
  private readonly asking: Lookup[] = [];
  private looking = false;
  private readonly lookupAtEndOfTurn = atEndOfTurn(() => this.nextLookup());

  constructor(
    private readonly store: Pick<Store, "lookupVectors" | "storeVectors">,
    /** The embedding layer (see embedLayerOf): vectors of another layer are never used. */
    readonly layer: string,
    /** False with `--no-cache`: nothing is looked up, answers are still stored. */
    readonly lookups: boolean,
    private readonly onWriteError: (err: unknown) => void,
    private readonly clock: () => number = Date.now,
    /** False when texts are counted only (see `countingOnly`). */
    readonly caching = true,
  ) {}

  /**
   * For an embedder whose vector costs less to compute than to look up (the built-in one): its
   * texts are counted, never looked up or stored.
   */
  static countingOnly(store: Pick<Store, "lookupVectors" | "storeVectors">, layer: string): RunEmbedCache {
    return new RunEmbedCache(store, layer, false, () => {}, Date.now, false);
  }

  hashesOf(texts: readonly string[]): string[] {
    return texts.map(chunkTextHash);
  }

  /** Fills the missing vectors whose texts are cached; returns how many it filled. */
  async fill(hashes: readonly string[], vectors: (Float32Array | null)[]): Promise<number> {
    if (!this.lookups) return 0;
    const asked = new Set<string>();
    let hits = 0;
    hashes.forEach((hash, i) => {
      if (vectors[i] !== null) return;
      const known = this.queued.get(hash) ?? this.writing.get(hash);
      if (known) {
        vectors[i] = known;
        hits += 1;
      } else asked.add(hash);
    });
    if (asked.size > 0) {
      const found = await this.lookup([...asked]);
      hashes.forEach((hash, i) => {
        const vector = vectors[i] === null ? found.get(hash) : undefined;
        if (vector) {
          vectors[i] = vector;
          hits += 1;
        }
      });
    }
    this.counts.hits += hits;
    return hits;
  }

  /** Answers of the embedder: counted, and written to the cache at the end of this turn. */
  remember(hashes: readonly string[], vectors: readonly Float32Array[]): void {
    this.counts.embedded += hashes.length;
    hashes.forEach((hash, i) => {
      this.queued.set(hash, vectors[i]!);
    });
    this.schedule();
  }

  /**
   * Writes the answers queued so far now, not at the end of the turn: the embedding queue calls
   * it before it sends requests, so that answers read never wait for their write while more
   * requests go out. The SQLite store writes at once when its write lock is free; when it is
   * taken (a slice of the plan being written) or a write is still waiting for it, the answers
   * go with the next write, as before.
   */
  flush(): void {
    if (this.queued.size === 0 || this.inFlight) return;
    if (this.timer) clearImmediate(this.timer);
    this.write();
  }

  /** Texts embedded without the cache (see `caching`): counted only. */
  countEmbedded(texts: number): void {
    this.counts.embedded += texts;
  }

  /** Texts embedded and found since the last call (committed with the run's next commit). */
  takeCounts(): EmbedCounts {
    const counts = this.counts;
    this.counts = { embedded: 0, hits: 0 };
    return counts;
  }

  /** Writes whatever is queued; the run waits for it before it closes the store. */
  async close(): Promise<void> {
    if (this.timer) clearImmediate(this.timer);
    this.timer = null;
    await this.inFlight;
    if (this.queued.size > 0) this.write();
    await this.inFlight;
  }

  private lookup(hashes: string[]): Promise<Map<string, Float32Array>> {
    return new Promise((resolve, reject) => {
      this.asking.push({ hashes, resolve, reject });
      this.lookupAtEndOfTurn();
    });
  }

  private nextLookup(): void {
    if (this.looking || this.asking.length === 0) return;
    const waiting = this.asking.splice(0);
    const hashes = waiting.length === 1 ? waiting[0]!.hashes : [...new Set(waiting.flatMap((w) => w.hashes))];
    this.looking = true;
    this.store
      .lookupVectors(this.layer, hashes)
      .then(
        (found) => {
          for (const w of waiting) w.resolve(found);
        },
        (err: unknown) => {
          for (const w of waiting) w.reject(err);
        },
      )
      .finally(() => {
        this.looking = false;
        this.nextLookup();
      });
  }

  private schedule(): void {
    if (this.timer || this.inFlight) return;
    this.timer = setImmediate(() => this.write());
    this.timer.unref();
  }

  private write(): void {
    this.timer = null;
    if (this.queued.size === 0) return;
    this.writing = this.queued;
    this.queued = new Map();
    const entries = [...this.writing].map(([hash, embedding]) => ({ hash, embedding }));
    this.inFlight = this.store
      .storeVectors(this.layer, entries, this.clock())
      .then(
        () => {},
        (err: unknown) => this.onWriteError(err),
      )
      .finally(() => {
        this.writing = new Map();
        this.inFlight = null;
        if (this.queued.size > 0) this.schedule();
      });
  }
}
