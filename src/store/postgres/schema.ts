import type pg from "pg";
import { DocbatchError } from "../../core/errors.js";
import { advisoryKey, quoteIdent } from "./db.js";

/**
 * Versioned migrations of the Postgres store, recorded in `docbatch_migrations`. Every worker
 * runs `migrate` at start; a transaction-scoped advisory lock makes the first one apply them while
 * the others wait and then find nothing to do, so workers starting together never race.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    layer TEXT NOT NULL,
    settings TEXT NOT NULL,
    input_ref TEXT NOT NULL,
    fingerprint TEXT,
    plan_generation INTEGER NOT NULL DEFAULT 0,
    plan_records BIGINT NOT NULL DEFAULT 0,
    plan_offset BIGINT NOT NULL DEFAULT 0,
    plan_complete BOOLEAN NOT NULL DEFAULT FALSE,
    duplicates_skipped BIGINT NOT NULL DEFAULT 0,
    cancelled_at BIGINT
  );

  CREATE TABLE documents (
    row BIGSERIAL PRIMARY KEY,
    batch_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    format TEXT NOT NULL,
    metadata TEXT NOT NULL,
    content TEXT,
    load_error TEXT,
    path TEXT,
    content_hash TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    plan_generation INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    not_before BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    stage_attempts INTEGER NOT NULL DEFAULT 0,
    failed_stage TEXT,
    last_error TEXT,
    degraded_reason TEXT,
    breaker_wait_since BIGINT,
    executions INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    reexecuted BOOLEAN NOT NULL DEFAULT FALSE,
    requeued BOOLEAN NOT NULL DEFAULT FALSE,
    run INTEGER,
    lease_run INTEGER,
    lease_expires_at BIGINT,
    fence BIGINT NOT NULL DEFAULT 0,
    has_staged BOOLEAN NOT NULL DEFAULT FALSE,
    started_at BIGINT,
    committed_at BIGINT,
    duration_ms DOUBLE PRECISION,
    stage_ms TEXT,
    updated_at BIGINT,
    out_key TEXT,
    out_degraded BOOLEAN,
    out_chunk_count INTEGER,
    out_metadata TEXT
  );
  -- Byte order (C collation), as SQLite compares: both stores export in the same order.
  CREATE UNIQUE INDEX documents_identity ON documents (batch_id, doc_id COLLATE "C", source COLLATE "C");
  -- Claims read only pending rows; a partial index keeps that cheap however many are done.
  CREATE INDEX documents_pending ON documents (batch_id, seq) WHERE state = 'pending';
  CREATE INDEX documents_processing ON documents (batch_id, lease_expires_at) WHERE state = 'processing';
  CREATE INDEX documents_state ON documents (batch_id, state);

  CREATE TABLE chunks (
    row BIGINT NOT NULL,
    chunk_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BYTEA,
    PRIMARY KEY (row, chunk_index)
  );

  CREATE TABLE staged_chunks (
    row BIGINT NOT NULL,
    chunk_index INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    fallback TEXT,
    text TEXT NOT NULL,
    embedding BYTEA,
    PRIMARY KEY (row, chunk_index)
  );

  -- One row per worker process and batch: each worker updates only its own row, so no row is
  -- written by every worker for every document.
  CREATE TABLE runs (
    batch_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    process_started_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    first_claim_at BIGINT,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT,
    exit_reason TEXT,
    resumed BOOLEAN NOT NULL DEFAULT FALSE,
    processed BIGINT NOT NULL DEFAULT 0,
    skipped_done BIGINT NOT NULL DEFAULT 0,
    recovered_in_flight BIGINT NOT NULL DEFAULT 0,
    fenced_commits BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, run)
  );

  CREATE TABLE failures (
    id BIGSERIAL PRIMARY KEY,
    batch_id TEXT NOT NULL,
    row BIGINT NOT NULL,
    run INTEGER,
    stage TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at BIGINT NOT NULL
  );
  CREATE INDEX failures_batch ON failures (batch_id, code);

  CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    batch_id TEXT NOT NULL,
    run INTEGER,
    at BIGINT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX events_batch ON events (batch_id, type);
  `,
  // 2: contents in a table of their own, so the many small updates of a document's state never
  // copy its content (small contents are stored inline, and every update writes a new row version).
  `
  CREATE TABLE contents (row BIGINT PRIMARY KEY, content TEXT NOT NULL);
  INSERT INTO contents (row, content) SELECT row, content FROM documents WHERE content IS NOT NULL;
  ALTER TABLE documents DROP COLUMN content;
  `,
  // 3: stage timings as numbers: the report of a million documents reads them without parsing JSON.
  `
  ALTER TABLE documents ADD COLUMN parse_ms DOUBLE PRECISION, ADD COLUMN clean_ms DOUBLE PRECISION,
    ADD COLUMN chunk_ms DOUBLE PRECISION, ADD COLUMN embed_ms DOUBLE PRECISION, ADD COLUMN write_ms DOUBLE PRECISION;
  UPDATE documents SET parse_ms = (stage_ms::jsonb ->> 'parse')::float8, clean_ms = (stage_ms::jsonb ->> 'clean')::float8,
    chunk_ms = (stage_ms::jsonb ->> 'chunk')::float8, embed_ms = (stage_ms::jsonb ->> 'embed')::float8,
    write_ms = (stage_ms::jsonb ->> 'write')::float8
  WHERE stage_ms IS NOT NULL;
  ALTER TABLE documents DROP COLUMN stage_ms;
  `,
  // 4: the content's size, so that a claim can tell small documents from large ones.
  `
  ALTER TABLE documents ADD COLUMN size BIGINT;
  UPDATE documents d SET size = octet_length(c.content) FROM contents c WHERE c.row = d.row;
  `,
  // 5: files of a folder that are not documents (images, archives, ...), skipped and listed by
  // status; the rows of an older plan generation go when a newer plan completes.
  `
  CREATE TABLE skipped_files (
    batch_id TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    plan_generation INTEGER NOT NULL,
    PRIMARY KEY (batch_id, path)
  );
  `,
  // 6: liveness, retried calls and fenced plan writes. `alive_at` is the run's last sign of life by
  // the database's clock; `locality` and `pid_start` tell which process a pid means (containers
  // share host names, pids get reused); `start_token` makes a retried startRun find its run;
  // `last_commit` tells a replayed commit whether its first attempt committed; `plan_lock_run` is
  // the run holding the planning lock, which every plan write must match.
  `
  ALTER TABLE runs ADD COLUMN alive_at BIGINT, ADD COLUMN locality TEXT, ADD COLUMN pid_start BIGINT,
    ADD COLUMN start_token TEXT, ADD COLUMN last_commit BIGINT;
  ALTER TABLE batches ADD COLUMN plan_lock_run INTEGER;
  `,
  // 7: the index layer: the outbox of output changes (rows reference chunks, never copy them), the
  // head seq of each batch's outbox (its row lock orders concurrent writers: see outbox.ts), and
  // the sink cursors. Output committed before this version enters the outbox as upserts.
  `
  CREATE TABLE outbox (
    batch_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    row BIGINT NOT NULL,
    op TEXT NOT NULL,
    out_key TEXT NOT NULL,
    from_index INTEGER NOT NULL,
    to_index INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (batch_id, seq)
  );
  CREATE TABLE outbox_heads (batch_id TEXT PRIMARY KEY, head BIGINT NOT NULL);
  CREATE TABLE sink_cursors (
    batch_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    delivered_seq BIGINT NOT NULL DEFAULT 0,
    attached_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    lease_owner TEXT,
    lease_host TEXT,
    lease_pid INTEGER,
    lease_expires_at BIGINT,
    fence BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, uri)
  );
  INSERT INTO outbox (batch_id, seq, row, op, out_key, from_index, to_index, doc_id, source)
    SELECT batch_id, ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY row), row, 'upsert', out_key, 0,
      out_chunk_count, doc_id, source
    FROM documents WHERE out_key IS NOT NULL AND out_chunk_count > 0;
  INSERT INTO outbox_heads (batch_id, head) SELECT batch_id, MAX(seq) FROM outbox GROUP BY batch_id;
  `,
  // 8: what the pipeline knows of each chunk (title, heading path, offsets, pages), kept beside the
  // document's own metadata, and a file's modification time when it was read.
  `
  ALTER TABLE documents ADD COLUMN file_mtime BIGINT;
  ALTER TABLE chunks ADD COLUMN metadata TEXT;
  ALTER TABLE staged_chunks ADD COLUMN metadata TEXT;
  `,
  // 9: the embedding cache, (embedding layer, sha256 of a chunk text) -> vector, for every batch;
  // the run's counts of texts embedded and found cached; the prepared-text key of a document's
  // output, so a change of the embedding layer alone re-embeds its chunk texts without parsing;
  // indexes on the times of events and failed attempts, which retention deletes by.
  `
  CREATE TABLE embed_cache (
    layer TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    embedding BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (layer, text_hash)
  );
  ALTER TABLE runs ADD COLUMN texts_embedded BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN cache_hits BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE documents ADD COLUMN out_prep TEXT;
  CREATE INDEX events_at ON events (at);
  CREATE INDEX failures_at ON failures (at);
  `,
  // 10: incremental updates: the same columns as the SQLite store's (see its migration for why).
  `
  ALTER TABLE batches ADD COLUMN plan_sync TEXT NOT NULL DEFAULT 'accumulate';
  ALTER TABLE batches ADD COLUMN plan_changed BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE batches ADD COLUMN external_files BOOLEAN NOT NULL DEFAULT FALSE;
  ALTER TABLE documents ADD COLUMN file_sig TEXT;
  `,
  // 11: the search index's state. Its table (`chunk_vectors`) needs pgvector's type, so it is made
  // when a store opens on a database where the extension can be had, and filled from the chunks
  // then (see vector-index.ts); until it is, `stale` stays true and search scans the chunks.
  `
  CREATE TABLE search_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), stale BOOLEAN NOT NULL);
  INSERT INTO search_index_state (id, stale) VALUES (1, TRUE);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export async function migrate(client: pg.PoolClient, schema: string): Promise<void> {
  await client.query("BEGIN");
  try {
    // One lock per schema: stores in other schemas of the database migrate without waiting.
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", advisoryKey(schema, "migrate", ""));
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS docbatch_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    );
    const { rows } = await client.query<{ version: number | null }>(
      "SELECT MAX(version) AS version FROM docbatch_migrations",
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new DocbatchError(
        "SCHEMA_TOO_NEW",
        `The store's schema is version ${current}; this docbatch knows up to ${SCHEMA_VERSION}.`,
        { hints: ["Upgrade docbatch: a newer version migrated this database."] },
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v]!);
      await client.query("INSERT INTO docbatch_migrations (version, applied_at) VALUES ($1, $2)", [
        v + 1,
        Date.now(),
      ]);
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  }
}
