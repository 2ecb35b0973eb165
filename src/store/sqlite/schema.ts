import type Database from "better-sqlite3";
import { DocbatchError } from "../../core/errors.js";
import { embedCacheSlot } from "./embed-cache.js";

/**
 * Versioned migrations of the SQLite store, tracked in `PRAGMA user_version`. They run inside
 * `BEGIN IMMEDIATE`, which takes the write lock first, so two processes opening a fresh file at the
 * same instant apply them once.
 *
 * Times are integers of milliseconds since the epoch, as in the Postgres store.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    layer TEXT NOT NULL,
    settings TEXT NOT NULL,
    input_ref TEXT NOT NULL,
    fingerprint TEXT,
    plan_generation INTEGER NOT NULL DEFAULT 0,
    plan_records INTEGER NOT NULL DEFAULT 0,
    plan_offset INTEGER NOT NULL DEFAULT 0,
    plan_complete INTEGER NOT NULL DEFAULT 0,
    duplicates_skipped INTEGER NOT NULL DEFAULT 0,
    plan_lock_run INTEGER,
    plan_lock_expires_at INTEGER
  );

  CREATE TABLE documents (
    row INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    format TEXT NOT NULL,
    metadata TEXT NOT NULL,
    content TEXT,
    load_error TEXT,
    content_hash TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    plan_generation INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    not_before INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    stage_attempts INTEGER NOT NULL DEFAULT 0,
    failed_stage TEXT,
    last_error TEXT,
    degraded_reason TEXT,
    breaker_wait_since INTEGER,
    executions INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    reexecuted INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0,
    run INTEGER,
    lease_run INTEGER,
    lease_expires_at INTEGER,
    fence INTEGER NOT NULL DEFAULT 0,
    has_staged INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    committed_at INTEGER,
    duration_ms REAL,
    stage_ms TEXT,
    updated_at INTEGER,
    out_key TEXT,
    out_degraded INTEGER,
    out_chunk_count INTEGER,
    out_metadata TEXT
  );
  -- Identity lookups while planning, and the export order (doc_id, then source).
  CREATE UNIQUE INDEX documents_identity ON documents (batch_id, doc_id, source);
  -- Claims read only pending rows in input order; the partial index keeps that cheap however
  -- many documents are already done.
  CREATE INDEX documents_pending ON documents (batch_id, seq) WHERE state = 'pending';
  CREATE INDEX documents_processing ON documents (batch_id, lease_expires_at) WHERE state = 'processing';
  CREATE INDEX documents_state ON documents (batch_id, state);

  -- Committed output: a document's rows are replaced in the transaction that completes it.
  CREATE TABLE chunks (
    row INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB,
    PRIMARY KEY (row, chunk_index)
  ) WITHOUT ROWID;

  -- Progress inside a large document: chunk texts and the vectors received so far.
  CREATE TABLE staged_chunks (
    row INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    fallback TEXT,
    text TEXT NOT NULL,
    embedding BLOB,
    PRIMARY KEY (row, chunk_index)
  ) WITHOUT ROWID;

  CREATE TABLE runs (
    batch_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    process_started_at INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    first_claim_at INTEGER,
    last_seen_at INTEGER NOT NULL,
    ended_at INTEGER,
    exit_reason TEXT,
    resumed INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    skipped_done INTEGER NOT NULL DEFAULT 0,
    recovered_in_flight INTEGER NOT NULL DEFAULT 0,
    fenced_commits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, run)
  );

  -- Every failed attempt, including those a later retry overcame.
  CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    run INTEGER,
    stage TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX failures_batch ON failures (batch_id, code);

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    run INTEGER,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX events_batch ON events (batch_id, type);
  `,
  // 2: batches can be cancelled (the server's cancel; a cancelled batch is not resumed on restart).
  // and documents remember their `path`, so a retry can read a file that appeared since.
  `
  ALTER TABLE batches ADD COLUMN cancelled_at INTEGER;
  ALTER TABLE documents ADD COLUMN path TEXT;
  `,
  // 3: contents in a table of their own. SQLite rewrites a whole record, overflow pages included,
  // on every update: with the content in the documents row, each claim and each commit copied it.
  `
  CREATE TABLE contents (row INTEGER PRIMARY KEY, content TEXT NOT NULL);
  INSERT INTO contents (row, content) SELECT row, content FROM documents WHERE content IS NOT NULL;
  ALTER TABLE documents DROP COLUMN content;
  `,
  // 4: chunks in rowid tables. A WITHOUT ROWID table keeps only about 1 KB of a row in its page;
  // a chunk (text and a vector) is larger, so each one spilled to an overflow page of its own.
  `
  CREATE TABLE chunks_v4 (
    id INTEGER PRIMARY KEY,
    row INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB
  );
  INSERT INTO chunks_v4 (row, chunk_index, text, embedding) SELECT row, chunk_index, text, embedding FROM chunks;
  DROP TABLE chunks;
  ALTER TABLE chunks_v4 RENAME TO chunks;
  CREATE UNIQUE INDEX chunks_document ON chunks (row, chunk_index);

  CREATE TABLE staged_v4 (
    id INTEGER PRIMARY KEY,
    row INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    fallback TEXT,
    text TEXT NOT NULL,
    embedding BLOB
  );
  INSERT INTO staged_v4 (row, chunk_index, idem_key, fallback, text, embedding)
    SELECT row, chunk_index, idem_key, fallback, text, embedding FROM staged_chunks;
  DROP TABLE staged_chunks;
  ALTER TABLE staged_v4 RENAME TO staged_chunks;
  CREATE UNIQUE INDEX staged_chunks_document ON staged_chunks (row, chunk_index);
  `,
  // 5: stage timings as numbers: the report of a million documents reads them without parsing JSON.
  `
  ALTER TABLE documents ADD COLUMN parse_ms REAL;
  ALTER TABLE documents ADD COLUMN clean_ms REAL;
  ALTER TABLE documents ADD COLUMN chunk_ms REAL;
  ALTER TABLE documents ADD COLUMN embed_ms REAL;
  ALTER TABLE documents ADD COLUMN write_ms REAL;
  UPDATE documents SET parse_ms = json_extract(stage_ms, '$.parse'), clean_ms = json_extract(stage_ms, '$.clean'),
    chunk_ms = json_extract(stage_ms, '$.chunk'), embed_ms = json_extract(stage_ms, '$.embed'),
    write_ms = json_extract(stage_ms, '$.write')
  WHERE stage_ms IS NOT NULL;
  ALTER TABLE documents DROP COLUMN stage_ms;
  `,
  // 6: the content's size, so that a claim can tell small documents (processed on the main thread)
  // from large ones (sent to the CPU threads) without reading the content.
  `
  ALTER TABLE documents ADD COLUMN size INTEGER;
  UPDATE documents SET size = (SELECT length(CAST(c.content AS BLOB)) FROM contents c WHERE c.row = documents.row);
  `,
  // 7: files of a folder that are not documents (images, archives, ...), skipped and listed by
  // status; the rows of an older plan generation go when a newer plan completes.
  `
  CREATE TABLE skipped_files (
    batch_id TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    plan_generation INTEGER NOT NULL,
    PRIMARY KEY (batch_id, path)
  ) WITHOUT ROWID;
  `,
  // 8: liveness and retried calls. `alive_at` is the run's last sign of life by the store's clock;
  // `locality` and `pid_start` tell which process a pid means (a container shares a host name, a
  // pid gets reused); `start_token` makes a retried startRun find its run; `last_commit` tells a
  // replayed commit whether its first attempt committed.
  `
  ALTER TABLE runs ADD COLUMN alive_at INTEGER;
  ALTER TABLE runs ADD COLUMN locality TEXT;
  ALTER TABLE runs ADD COLUMN pid_start INTEGER;
  ALTER TABLE runs ADD COLUMN start_token TEXT;
  ALTER TABLE runs ADD COLUMN last_commit INTEGER;
  `,
  // 9: the index layer. The outbox of output changes (one row per document version, referencing
  // its chunks, never copying them), the head seq of each batch's outbox, the sink cursors, and
  // the state of the sqlite-vec search index (stale: rebuilt from the chunks by the next process
  // that loads sqlite-vec). Output committed before this version enters the outbox as upserts, so
  // a sink attached later receives it too.
  `
  CREATE TABLE outbox (
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    row INTEGER NOT NULL,
    op TEXT NOT NULL,
    out_key TEXT NOT NULL,
    from_index INTEGER NOT NULL,
    to_index INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (batch_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE outbox_heads (batch_id TEXT PRIMARY KEY, head INTEGER NOT NULL);
  CREATE TABLE sink_cursors (
    batch_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    attached_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    lease_owner TEXT,
    lease_host TEXT,
    lease_pid INTEGER,
    lease_expires_at INTEGER,
    fence INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, uri)
  );
  INSERT INTO outbox (batch_id, seq, row, op, out_key, from_index, to_index, doc_id, source)
    SELECT batch_id, ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY row), row, 'upsert', out_key, 0,
      out_chunk_count, doc_id, source
    FROM documents WHERE out_key IS NOT NULL AND out_chunk_count > 0;
  INSERT INTO outbox_heads (batch_id, head) SELECT batch_id, MAX(seq) FROM outbox GROUP BY batch_id;
  CREATE TABLE search_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), stale INTEGER NOT NULL);
  INSERT INTO search_index_state (id, stale)
    SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM chunks WHERE embedding IS NOT NULL) THEN 1 ELSE 0 END;
  `,
  // 10: what the pipeline knows of each chunk (title, heading path, offsets, pages), kept beside the
  // document's own metadata, and a file's modification time when it was read.
  `
  ALTER TABLE documents ADD COLUMN file_mtime INTEGER;
  ALTER TABLE chunks ADD COLUMN metadata TEXT;
  ALTER TABLE staged_chunks ADD COLUMN metadata TEXT;
  `,
  // 11: the embedding cache, (embedding layer, sha256 of a chunk text) -> vector, for every batch
  // (a rowid table: a vector is larger than what a WITHOUT ROWID page keeps inline); the run's
  // counts of texts embedded and found cached; the prepared-text key of a document's output, so a
  // change of the embedding layer alone re-embeds its chunk texts without parsing; indexes on the
  // times of events and failed attempts, which retention deletes by.
  `
  CREATE TABLE embed_cache (
    id INTEGER PRIMARY KEY,
    layer TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX embed_cache_key ON embed_cache (layer, text_hash);
  ALTER TABLE runs ADD COLUMN texts_embedded INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE documents ADD COLUMN out_prep TEXT;
  CREATE INDEX events_at ON events (at);
  CREATE INDEX failures_at ON failures (at);
  `,
  // 12: incremental updates. `plan_sync`: whether completing the current plan deletes the documents
  // its input no longer holds; `plan_changed`: documents of the current plan whose content changed;
  // `external_files`: the input names files its fingerprint does not cover (`path` documents), so
  // a complete plan of the same input is checked again by stat; `file_sig`: the stat (and the
  // record) a document's file was read with, so a re-run reads only files whose stat changed.
  `
  ALTER TABLE batches ADD COLUMN plan_sync TEXT NOT NULL DEFAULT 'accumulate';
  ALTER TABLE batches ADD COLUMN plan_changed INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE batches ADD COLUMN external_files INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE documents ADD COLUMN file_sig TEXT;
  `,
  // 13: the embedding cache indexed by a small integer slot of (layer, text hash) instead of the
  // two strings (see embedCacheSlot): the same lookups, a fraction of the index pages a write
  // rewrites. Existing entries get their slots; of any two that share one, the first stays.
  `
  ALTER TABLE embed_cache ADD COLUMN slot INTEGER;
  UPDATE embed_cache SET slot = docbatch_cache_slot(layer, text_hash);
  DELETE FROM embed_cache WHERE id NOT IN (SELECT MIN(id) FROM embed_cache GROUP BY slot);
  DROP INDEX embed_cache_key;
  CREATE UNIQUE INDEX embed_cache_slot ON embed_cache (slot);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new DocbatchError(
        "SCHEMA_TOO_NEW",
        `The store's schema is version ${version}; this docbatch knows up to ${SCHEMA_VERSION}.`,
      );
    }
    db.function("docbatch_cache_slot", { deterministic: true }, (layer, hash) =>
      embedCacheSlot(String(layer), String(hash)),
    );
    for (let v = version; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
