import type Database from "better-sqlite3";
import { Hash64Builder } from "../../core/identity-map.js";
import { chunkTextHash } from "../../core/keys.js";
import { decodeObject, decodeVector, encodeVector } from "../codec.js";
import type { CachedVector, GarbageRequest, GarbageResult, OutputChunks } from "../embed-cache.js";
import { writeTurn } from "./write-turn.js";

/**
 * Where an entry of the embedding cache is indexed: 53 bits of a hash of its layer and text hash.
 * The unique index holds these small integers instead of the two strings (about 130 bytes an
 * entry): the keys arrive in random order, so each write of a few dozen answers rewrites about as
 * many index pages, and 10 times as many entries fit in a page. Lookups check the layer of what
 * they find and are keyed by text hash, so two entries that share a slot (a chance of about 1 in
 * 18,000 for a cache of a million entries) cost a cache miss, never a wrong vector: the first
 * keeps the slot and the other text is embedded each time it comes.
 */
export function embedCacheSlot(layer: string, textHash: string): number {
  const { hi, lo } = new Hash64Builder().update(layer).update("\u0000").update(textHash).digest();
  return hi * 2 ** 21 + (lo >>> 11);
}

/**
 * The embedding cache of the SQLite store. Its writes are small transactions of their own on the
 * store's connection, between the group commits of documents, and they skip the WAL sync: a crash
 * of the process keeps what they wrote (the WAL is in the operating system's hands), a power loss
 * may lose the last of them, which costs their texts one embedding request again. The next
 * document commit (synced) makes them durable with it. The commit path of documents is unchanged.
 */
export class SqliteEmbedCache {
  private readonly bySlot: boolean;
  private readonly insert: Database.Statement | null;
  private readonly lookup: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    /** The connection's own sync level, restored after each cache write. */
    private readonly synchronous: "FULL" | "NORMAL",
  ) {
    // A store older than the slot index, opened read-only (and so not migrated): looked up by the
    // strings its own index holds; nothing is written through such a connection.
    this.bySlot =
      db.prepare("SELECT 1 FROM pragma_table_info('embed_cache') WHERE name = 'slot'").get() !== undefined;
    this.insert = this.bySlot
      ? db.prepare(
          "INSERT OR IGNORE INTO embed_cache (slot, layer, text_hash, embedding, created_at) VALUES (?, ?, ?, ?, ?)",
        )
      : null;
    this.lookup = this.bySlot
      ? db.prepare(
          "SELECT layer, text_hash, embedding FROM embed_cache WHERE slot IN (SELECT value FROM json_each(?))",
        )
      : db.prepare(
          `SELECT layer, text_hash, embedding FROM embed_cache
           WHERE layer = ? AND text_hash IN (SELECT value FROM json_each(?))`,
        );
  }

  lookupVectors(layer: string, hashes: string[]): Map<string, Float32Array> {
    const found = new Map<string, Float32Array>();
    if (hashes.length === 0) return found;
    const rows = (
      this.bySlot
        ? this.lookup.all(JSON.stringify(hashes.map((hash) => embedCacheSlot(layer, hash))))
        : this.lookup.all(layer, JSON.stringify(hashes))
    ) as { layer: string; text_hash: string; embedding: Buffer }[];
    // A slot shared with another layer's entry, or another text's, answers for neither.
    const asked = new Set(hashes);
    for (const r of rows) {
      if (r.layer === layer && asked.has(r.text_hash)) found.set(r.text_hash, decodeVector(r.embedding)!);
    }
    return found;
  }

  /** Writes answers to the cache in a transaction of their own, without syncing the WAL (see above). */
  storeVectors(layer: string, entries: CachedVector[], now: number, timeoutMs: number): Promise<number> {
    if (entries.length === 0) return Promise.resolve(0);
    const insert = () => {
      let added = 0;
      for (const e of entries)
        added += this.insert!.run(
          embedCacheSlot(layer, e.hash),
          layer,
          e.hash,
          encodeVector(e.embedding),
          now,
        ).changes;
      return added;
    };
    return writeTurn(this.db, insert, timeoutMs, this.unsynced);
  }

  /** The cache's writes skip the WAL sync; the connection's own level is restored after each. */
  private readonly unsynced = {
    before: () => this.db.pragma("synchronous = NORMAL"),
    after: () => this.db.pragma(`synchronous = ${this.synchronous}`),
  };

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
