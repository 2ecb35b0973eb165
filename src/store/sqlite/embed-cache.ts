import type Database from "better-sqlite3";
import { chunkTextHash } from "../../core/keys.js";
import { decodeObject, decodeVector, encodeVector } from "../codec.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../embed-cache.js";

/**
 * How long answered vectors wait for a group commit of documents to write them before they are
 * written on their own. Under load commits come every few tens of milliseconds and carry them.
 */
export const CACHE_COMMIT_WAIT_MS = 50;

/** Entries handed to `storeVectors`, not written yet. */
interface PendingWrite {
  layer: string;
  entries: CachedVector[];
  now: number;
  resolve: (added: number) => void;
  reject: (err: unknown) => void;
}

/**
 * The embedding cache of the SQLite store. Entries handed to it wait (at most
 * CACHE_COMMIT_WAIT_MS) for the next group commit of documents, whose transaction writes them
 * too: each transaction rewrites the pages of the cache's index it touches, and a few large
 * writes touch far fewer pages than many small ones. Entries no commit came for are written in a
 * transaction of their own that skips the WAL sync: a crash of the process keeps what it wrote
 * (the WAL is in the operating system's hands), a power loss may lose the last of them, which
 * costs their texts one embedding request again. Waiting entries are found by lookups.
 */
export class SqliteEmbedCache {
  private readonly insert: Database.Statement;
  private readonly lookup: Database.Statement;
  private pending: PendingWrite[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database.Database,
    /** The connection's own sync level, restored after each cache write. */
    private readonly synchronous: "FULL" | "NORMAL",
  ) {
    this.insert = db.prepare(
      "INSERT OR IGNORE INTO embed_cache (layer, text_hash, embedding, created_at) VALUES (?, ?, ?, ?)",
    );
    this.lookup = db.prepare(
      `SELECT text_hash, embedding FROM embed_cache
       WHERE layer = ? AND text_hash IN (SELECT value FROM json_each(?))`,
    );
  }

  lookupVectors(layer: string, hashes: string[]): Map<string, Float32Array> {
    const found = new Map<string, Float32Array>();
    if (hashes.length === 0) return found;
    const rows = this.lookup.all(layer, JSON.stringify(hashes)) as { text_hash: string; embedding: Buffer }[];
    for (const r of rows) found.set(r.text_hash, decodeVector(r.embedding)!);
    if (this.pending.length > 0 && found.size < hashes.length) {
      const wanted = new Set(hashes);
      for (const w of this.pending) {
        if (w.layer !== layer) continue;
        for (const e of w.entries)
          if (wanted.has(e.hash) && !found.has(e.hash)) found.set(e.hash, e.embedding);
      }
    }
    return found;
  }

  /** Resolves with the number of entries added once they are written (see the class). */
  storeVectors(layer: string, entries: CachedVector[], now: number): Promise<number> {
    if (entries.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.pending.push({ layer, entries, now, resolve, reject });
      if (this.timer) return;
      // Not unref'd: a caller awaiting the write keeps the process alive until it is done.
      this.timer = setTimeout(() => this.flush(), CACHE_COMMIT_WAIT_MS);
    });
  }

  /**
   * Runs `transaction` with a function that writes the waiting entries inside it: they are
   * written when it commits, and wait for the next transaction or their own write when it throws.
   */
  carryPending<T>(transaction: (writeInside: () => void) => T): T {
    const writes = this.pending;
    if (writes.length === 0) return transaction(() => {});
    this.pending = [];
    let added: number[] = [];
    try {
      const result = transaction(() => {
        added = writes.map((w) => this.insertAll(w));
      });
      writes.forEach((w, i) => {
        w.resolve(added[i] ?? 0);
      });
      if (this.pending.length === 0) this.cancelTimer();
      return result;
    } catch (err) {
      this.pending.unshift(...writes);
      throw err;
    }
  }

  /** Writes the waiting entries in a transaction of their own (their wait is over, or the store closes). */
  flush(): void {
    this.cancelTimer();
    const writes = this.pending;
    if (writes.length === 0) return;
    this.pending = [];
    let added: number[];
    try {
      this.db.pragma("synchronous = NORMAL");
      try {
        added = this.db.transaction(() => writes.map((w) => this.insertAll(w)))();
      } finally {
        this.db.pragma(`synchronous = ${this.synchronous}`);
      }
    } catch (err) {
      for (const w of writes) w.reject(err);
      return;
    }
    writes.forEach((w, i) => {
      w.resolve(added[i]!);
    });
  }

  private insertAll(write: PendingWrite): number {
    let added = 0;
    for (const e of write.entries)
      added += this.insert.run(write.layer, e.hash, encodeVector(e.embedding), write.now).changes;
    return added;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  loadOutputChunks(row: number): OutputChunks | null {
    const rows = this.db
      .prepare("SELECT chunk_index, text, metadata FROM chunks WHERE row = ? ORDER BY chunk_index")
      .all(row) as { chunk_index: number; text: string; metadata: string | null }[];
    const count = this.db.prepare("SELECT out_chunk_count FROM documents WHERE row = ?").pluck().get(row);
    if (rows.length === 0 || rows.length !== count || rows.some((r, i) => r.chunk_index !== i)) return null;
    return { texts: rows.map((r) => r.text), metadata: rows.map((r) => decodeObject(r.metadata)) };
  }

  /**
   * The hashes of the texts in use are computed by SQLite itself (a function registered on this
   * connection), batch by batch into a temporary table; the entries not in it go. One write
   * transaction: a run committing meanwhile waits for it.
   */
  collectGarbage(request: GarbageRequest): GarbageResult {
    this.db.function("docbatch_text_hash", { deterministic: true }, (text) => chunkTextHash(String(text)));
    return this.db
      .transaction((): GarbageResult => {
        this.db.exec(
          "CREATE TEMP TABLE IF NOT EXISTS used_cache (layer TEXT, text_hash TEXT, PRIMARY KEY (layer, text_hash)) WITHOUT ROWID",
        );
        this.db.exec("DELETE FROM used_cache");
        const use = this.db.prepare(
          `INSERT OR IGNORE INTO used_cache (layer, text_hash)
           SELECT ?, docbatch_text_hash(c.text) FROM chunks c JOIN documents d ON d.row = c.row
           WHERE d.batch_id = ? AND c.embedding IS NOT NULL`,
        );
        for (const b of request.batches) use.run(b.embedLayer, b.batchId);
        const cacheRemoved = this.db
          .prepare(
            `DELETE FROM embed_cache WHERE NOT EXISTS (
               SELECT 1 FROM used_cache u WHERE u.layer = embed_cache.layer AND u.text_hash = embed_cache.text_hash)`,
          )
          .run().changes;
        const cacheKept = this.db.prepare("SELECT COUNT(*) FROM embed_cache").pluck().get() as number;
        this.db.exec("DROP TABLE used_cache");
        const cutoff = request.olderThan;
        const eventsRemoved =
          cutoff === null ? 0 : this.db.prepare("DELETE FROM events WHERE at < ?").run(cutoff).changes;
        const failuresRemoved =
          cutoff === null ? 0 : this.db.prepare("DELETE FROM failures WHERE at < ?").run(cutoff).changes;
        return { cacheRemoved, cacheKept, eventsRemoved, failuresRemoved };
      })
      .immediate();
  }
}
