import type pg from "pg";
import { encodeError, encodeVector } from "../codec.js";
import type { OutputChange, OutputVersion } from "../index-store.js";
import { appliedEarlier, type SettledRow } from "../replay.js";
import { type ClaimRow, toClaimed } from "../rows.js";
import type { ClaimedDocument, CommitRequest, CommitResult, Outcome, StagedProgress } from "../store.js";
import { NOW_MS } from "./db.js";
import { outputsOf, recordOutputChanges } from "./outbox.js";
import type { PgVectorIndex } from "./vector-index.js";

/** A value of each document a fenced update sets from: `v.<name>`, sent as an array of `type`. */
type Column<O> = [name: string, type: string, value: (outcome: O) => unknown];

/**
 * Updates, in one statement, the documents of `outcomes` the flush still holds (the fence of its
 * claim, still processing; see commitFlush): `set` reads `$1` (now), `v.row`, `v.fence` and the
 * `columns`. The rows it updated; the others were fenced.
 */
async function updateHeld<O extends Outcome>(
  client: pg.PoolClient,
  now: number,
  outcomes: O[],
  set: string,
  columns: Column<O>[],
): Promise<Set<number>> {
  const all: Column<O>[] = [
    ["row", "bigint", (o) => o.doc.row],
    ["fence", "bigint", (o) => o.doc.fence],
    ...columns,
  ];
  const { rows } = await client.query<{ row: number }>(
    `UPDATE documents d SET ${set}
     FROM unnest(${all.map(([, type], i) => `$${i + 2}::${type}[]`).join(", ")}) AS v(${all.map(([name]) => name).join(", ")})
     WHERE d.row = v.row AND d.fence = v.fence AND d.state = 'processing'
     RETURNING d.row`,
    [now, ...all.map(([, , value]) => outcomes.map(value))],
  );
  return new Set(rows.map((r) => r.row));
}

/**
 * One flush of a worker, in one transaction and a fixed number of round trips whatever the number
 * of documents: every statement takes arrays (`unnest`) instead of being sent once per document.
 *
 * Every write that belongs to a claimed document is guarded by `fence = … AND state =
 * 'processing'`: after its lease was reclaimed, a paused or partitioned worker matches no row, so
 * it writes nothing; its rejected commits are counted on its own run row.
 */
export async function commitFlush(
  client: pg.PoolClient,
  request: CommitRequest,
  lookForExpired: boolean,
  vectorIndex: PgVectorIndex | null = null,
): Promise<CommitResult> {
  if (request.replay && request.id !== undefined) {
    const { rows } = await client.query<{ last_commit: number | null }>(
      "SELECT last_commit FROM runs WHERE batch_id = $1 AND run = $2 FOR UPDATE",
      [request.run.batchId, request.run.run],
    );
    if (rows[0]?.last_commit === request.id) return replayedFlush(client, request, lookForExpired);
  }
  const { run } = request;
  const stagedFenced = await stageProgress(client, request.progress);
  // The output these commits replace, read before the documents change (the fences keep it
  // stable from the claims: only the lease holder commits output).
  const before = await outputsOf(
    client,
    request.outcomes.filter((o) => o.kind !== "retry" && o.doc.hadOutput).map((o) => o.doc.row),
  );
  const flush = new FlushWrites(client, request, before, vectorIndex);
  await flush.complete(request.outcomes.filter((o): o is Completed => o.kind === "completed"));
  await flush.retry(request.outcomes.filter((o): o is Retry => o.kind === "retry"));
  await flush.fail(request.outcomes.filter((o): o is Failed => o.kind === "failed"));
  await flush.recordFailures();
  const acceptedList = request.outcomes.map((o) => flush.accepted.get(o) ?? false);
  const fenced = stagedFenced + acceptedList.filter((ok) => !ok).length;
  const processed = request.outcomes.filter((o, i) => acceptedList[i] && o.kind !== "retry").length;
  const claimed = request.claim > 0 ? await claim(client, request, lookForExpired) : [];
  const counts = request.embedCounts ?? { embedded: 0, hits: 0 };
  await updateRun(client, request, { processed, fenced, ...counts }, claimed);
  // Last, so that the batch's outbox head row stays locked only for the COMMIT itself.
  await recordOutputChanges(client, run.batchId, flush.output);
  return { accepted: acceptedList, claimed };
}

type Completed = Extract<Outcome, { kind: "completed" }>;
type Retry = Extract<Outcome, { kind: "retry" }>;
type Failed = Extract<Outcome, { kind: "failed" }>;

/**
 * The writes of one flush's outcomes, by kind: which outcomes the fences accepted, the failures
 * to record and the output changes for the outbox.
 */
class FlushWrites {
  readonly accepted = new Map<Outcome, boolean>();
  readonly output: OutputChange[] = [];
  private readonly failures: { row: number; stage: string; code: string; message: string }[] = [];

  constructor(
    private readonly client: pg.PoolClient,
    private readonly request: CommitRequest,
    private readonly before: Map<number, OutputVersion>,
    private readonly vectorIndex: PgVectorIndex | null,
  ) {}

  /** Completed documents: their state, then their chunks in place of any earlier ones. */
  async complete(completed: Completed[]): Promise<void> {
    if (completed.length === 0) return;
    const ok = await updateHeld(this.client, this.request.now, completed, COMPLETE_SET, COMPLETE_COLUMNS);
    for (const o of completed) this.accepted.set(o, ok.has(o.doc.row));
    const done = completed.filter((o) => ok.has(o.doc.row));
    if (done.length === 0) return;
    // Most documents have no earlier output and nothing staged: skip those deletes.
    await this.deleteRows(
      "chunks",
      done.filter((o) => o.doc.hadOutput).map((o) => o.doc.row),
    );
    await this.deleteRows(
      "staged_chunks",
      done.filter((o) => o.doc.hasStaged).map((o) => o.doc.row),
    );
    for (const o of done) {
      for (const f of o.failures ?? []) this.failures.push({ row: o.doc.row, stage: f.stage, ...f.error });
      const after = { key: o.doc.idempotencyKey, count: o.chunks.length };
      this.output.push({ ...this.identity(o), before: this.before.get(o.doc.row) ?? null, after });
    }
    await this.insertChunks(done);
  }

  /** Documents to try again later: back to pending, their failure recorded when it counts. */
  async retry(retries: Retry[]): Promise<void> {
    if (retries.length === 0) return;
    const ok = await updateHeld(this.client, this.request.now, retries, RETRY_SET, RETRY_COLUMNS);
    for (const o of retries) {
      this.accepted.set(o, ok.has(o.doc.row));
      if (ok.has(o.doc.row) && o.error) this.failures.push({ row: o.doc.row, stage: o.stage, ...o.error });
    }
  }

  /** Failed documents: their output leaves the batch. */
  async fail(failed: Failed[]): Promise<void> {
    if (failed.length === 0) return;
    const ok = await updateHeld(this.client, this.request.now, failed, FAIL_SET, FAIL_COLUMNS);
    for (const o of failed) {
      this.accepted.set(o, ok.has(o.doc.row));
      if (!ok.has(o.doc.row)) continue;
      this.failures.push({ row: o.doc.row, stage: o.stage, ...o.error });
      const had = this.before.get(o.doc.row);
      if (had) this.output.push({ ...this.identity(o), before: had, after: null });
    }
    const gone = failed.filter((o) => ok.has(o.doc.row)).map((o) => o.doc.row);
    await this.deleteRows("chunks", gone);
    await this.deleteRows("staged_chunks", gone);
  }

  async recordFailures(): Promise<void> {
    const { failures } = this;
    if (failures.length === 0) return;
    const { run, now } = this.request;
    await this.client.query(
      `INSERT INTO failures (batch_id, row, run, stage, code, message, at)
       SELECT $1, r, $2, s, c, m, $3 FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[]) AS v(r, s, c, m)`,
      [
        run.batchId,
        run.run,
        now,
        failures.map((f) => f.row),
        failures.map((f) => f.stage),
        failures.map((f) => f.code),
        failures.map((f) => f.message),
      ],
    );
  }

  private identity(o: Outcome): { row: number; docId: string; source: string } {
    return { row: o.doc.row, docId: o.doc.docId, source: o.doc.source };
  }

  private async deleteRows(table: "chunks" | "staged_chunks", rows: number[]): Promise<void> {
    if (rows.length > 0)
      await this.client.query(`DELETE FROM ${table} WHERE row = ANY($1::bigint[])`, [rows]);
  }

  private async insertChunks(done: Completed[]): Promise<void> {
    const chunkRows: number[] = [];
    const indexes: number[] = [];
    const texts: string[] = [];
    const vectors: (Buffer | null)[] = [];
    const metadata: (string | null)[] = [];
    for (const o of done) {
      for (const chunk of o.chunks) {
        chunkRows.push(o.doc.row);
        indexes.push(chunk.index);
        texts.push(chunk.text);
        vectors.push(chunk.embedding ? encodeVector(chunk.embedding) : null);
        metadata.push(chunk.metadata ? JSON.stringify(chunk.metadata) : null);
      }
    }
    if (chunkRows.length === 0) return;
    // Before the chunks: their insert checks that the index has every vector (vector-index.ts).
    if (this.vectorIndex) await this.vectorIndex.add(this.client, this.request.run.batchId, vectorsOf(done));
    await this.client.query(
      `INSERT INTO chunks (row, chunk_index, text, embedding, metadata)
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bytea[], $5::text[])`,
      [chunkRows, indexes, texts, vectors, metadata],
    );
  }
}

const COMPLETE_SET = `state = v.state, degraded_reason = v.reason, attempts = d.attempts + 1,
  stage_attempts = 0, failed_stage = NULL, last_error = COALESCE(v.last_error, d.last_error),
  breaker_wait_since = NULL, started_at = v.started_at, committed_at = $1, duration_ms = $1 - v.started_at,
  parse_ms = v.parse_ms, clean_ms = v.clean_ms, chunk_ms = v.chunk_ms, embed_ms = v.embed_ms,
  write_ms = v.write_ms, completions = d.completions + 1,
  reexecuted = d.reexecuted OR (d.completions > 0 AND NOT d.requeued), requeued = FALSE,
  lease_run = NULL, lease_expires_at = NULL, has_staged = FALSE, updated_at = $1, out_key = d.idem_key,
  out_degraded = v.degraded, out_chunk_count = v.chunk_count, out_metadata = d.metadata, out_prep = v.prep`;

const COMPLETE_COLUMNS: Column<Completed>[] = [
  ["state", "text", (o) => (o.degraded ? "degraded" : "done")],
  ["reason", "text", (o) => encodeError(o.degraded)],
  ["last_error", "text", (o) => encodeError(o.failures?.at(-1)?.error)],
  ["started_at", "bigint", (o) => o.startedAt],
  ["parse_ms", "float8", (o) => o.timings.parse ?? null],
  ["degraded", "boolean", (o) => o.degraded !== null],
  ["chunk_count", "int", (o) => o.chunks.length],
  ["clean_ms", "float8", (o) => o.timings.clean ?? null],
  ["chunk_ms", "float8", (o) => o.timings.chunk ?? null],
  ["embed_ms", "float8", (o) => o.timings.embed ?? null],
  ["write_ms", "float8", (o) => o.timings.write ?? 0],
  ["prep", "text", (o) => o.prep ?? null],
];

const RETRY_SET = `state = 'pending', not_before = v.not_before, attempts = d.attempts + v.counted,
  stage_attempts = v.stage_attempts, failed_stage = v.stage, last_error = COALESCE(v.error, d.last_error),
  breaker_wait_since = v.wait_since, lease_run = NULL, lease_expires_at = NULL, updated_at = $1`;

const RETRY_COLUMNS: Column<Retry>[] = [
  ["not_before", "bigint", (o) => o.notBefore],
  ["counted", "int", (o) => (o.error ? 1 : 0)],
  ["stage_attempts", "int", (o) => o.stageAttempts],
  ["stage", "text", (o) => o.stage],
  ["error", "text", (o) => encodeError(o.error)],
  ["wait_since", "bigint", (o) => o.breakerWaitSince ?? null],
];

const FAIL_SET = `state = 'failed', attempts = d.attempts + 1, stage_attempts = d.stage_attempts + 1,
  failed_stage = v.stage, last_error = v.error, breaker_wait_since = NULL, started_at = v.started_at,
  committed_at = $1, duration_ms = $1 - v.started_at, lease_run = NULL, lease_expires_at = NULL,
  has_staged = FALSE, updated_at = $1, out_key = NULL, out_degraded = NULL, out_chunk_count = NULL,
  out_metadata = NULL, out_prep = NULL`;

const FAIL_COLUMNS: Column<Failed>[] = [
  ["stage", "text", (o) => o.stage],
  ["error", "text", (o) => encodeError(o.error)],
  ["started_at", "bigint", (o) => o.startedAt],
];

/** The vectors of completed documents' chunks, as the search index takes them. */
export function vectorsOf(
  completed: Extract<Outcome, { kind: "completed" }>[],
): { row: number; index: number; embedding: Float32Array }[] {
  return completed.flatMap((o) =>
    o.chunks.flatMap((c) =>
      c.embedding ? [{ row: o.doc.row, index: c.index, embedding: c.embedding }] : [],
    ),
  );
}

/**
 * The run's counters, its sign of life (by the database's clock) and the number of this commit,
 * which a replay of it reads to learn whether this transaction committed.
 */
async function updateRun(
  client: pg.PoolClient,
  request: CommitRequest,
  counters: { processed: number; fenced: number; embedded: number; hits: number },
  claimed: ClaimedDocument[],
): Promise<void> {
  const reclaimed = claimed.filter((d) => d.reclaimed).length;
  await client.query(
    `UPDATE runs SET last_seen_at = $3, alive_at = ${NOW_MS}, processed = processed + $4,
       fenced_commits = fenced_commits + $5, recovered_in_flight = recovered_in_flight + $6,
       first_claim_at = CASE WHEN $7 AND first_claim_at IS NULL THEN $3 ELSE first_claim_at END,
       last_commit = COALESCE($8, last_commit), texts_embedded = texts_embedded + $9, cache_hits = cache_hits + $10
     WHERE batch_id = $1 AND run = $2`,
    [
      request.run.batchId,
      request.run.run,
      request.now,
      counters.processed,
      counters.fenced,
      reclaimed,
      claimed.length > 0,
      request.id ?? null,
      counters.embedded,
      counters.hits,
    ],
  );
}

/** The first attempt of this request committed: report what it accepted, write nothing again. */
async function replayedFlush(
  client: pg.PoolClient,
  request: CommitRequest,
  lookForExpired: boolean,
): Promise<CommitResult> {
  const { rows } = await client.query<SettledRow>(
    "SELECT row, state, fence, committed_at, updated_at FROM documents WHERE row = ANY($1::bigint[])",
    [request.outcomes.map((o) => o.doc.row)],
  );
  const byRow = new Map(rows.map((r) => [r.row, r]));
  const accepted = request.outcomes.map((o) => appliedEarlier(o, byRow.get(o.doc.row), request.now));
  const claimed = request.claim > 0 ? await claim(client, request, lookForExpired) : [];
  await updateRun(client, request, { processed: 0, fenced: 0, embedded: 0, hits: 0 }, claimed);
  return { accepted, claimed };
}

async function stageProgress(client: pg.PoolClient, progress: StagedProgress[]): Promise<number> {
  let fenced = 0;
  for (const p of progress) {
    const { doc } = p;
    const { rowCount } = await client.query(
      "UPDATE documents SET has_staged = TRUE WHERE row = $1 AND fence = $2 AND state = 'processing'",
      [doc.row, doc.fence],
    );
    if (rowCount === 0) {
      fenced += 1;
      continue;
    }
    // Completing the document deletes its staged rows, even when it completes in this same run.
    doc.hasStaged = true;
    if (p.texts) {
      await client.query("DELETE FROM staged_chunks WHERE row = $1", [doc.row]);
      await client.query(
        `INSERT INTO staged_chunks (row, chunk_index, idem_key, fallback, text, metadata)
         SELECT $1, i - 1, $2, $3, v.t, v.m FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS v(t, m, i)`,
        [
          doc.row,
          doc.idempotencyKey,
          encodeError(p.texts.fallback),
          p.texts.values,
          p.texts.values.map((_, i) => (p.texts!.metadata[i] ? JSON.stringify(p.texts!.metadata[i]) : null)),
        ],
      );
    }
    if (p.vectors.length > 0) {
      await client.query(
        `UPDATE staged_chunks s SET embedding = v.embedding
         FROM unnest($2::int[], $3::bytea[]) AS v(chunk_index, embedding)
         WHERE s.row = $1 AND s.chunk_index = v.chunk_index`,
        [doc.row, p.vectors.map((v) => v.index), p.vectors.map((v) => encodeVector(v.embedding))],
      );
    }
  }
  return fenced;
}

/**
 * Claims with FOR UPDATE SKIP LOCKED: concurrent workers each take different rows without
 * waiting on each other. Expired leases first (their documents have waited longest), then pending
 * documents in input order, through the partial index on pending rows.
 */
async function claim(
  client: pg.PoolClient,
  request: CommitRequest,
  lookForExpired: boolean,
): Promise<ClaimedDocument[]> {
  const { run, now } = request;
  const expired = lookForExpired ? await claimExpired(client, request) : [];
  await recordReclaims(client, request, expired);
  const rest = request.claim - expired.length;
  const pending =
    rest > 0
      ? await client.query<ClaimRow>(
          `WITH picked AS (
             SELECT row FROM documents WHERE batch_id = $1 AND state = 'pending' AND not_before <= $3
             ORDER BY seq LIMIT $5 FOR UPDATE SKIP LOCKED)
           UPDATE documents d SET ${CLAIM_SET} FROM picked WHERE d.row = picked.row ${CLAIM_RETURNING}`,
          [run.batchId, run.run, now, request.leaseMs, rest],
        )
      : { rows: [] as ClaimRow[] };
  const claimed = [
    ...expired.map((r) => toClaimed(r, true)),
    ...pending.rows.map((r) => toClaimed(r, false)).sort((a, b) => a.seq - b.seq),
  ];
  await loadClaimedContents(client, claimed, request.deferContentFrom);
  return claimed;
}

const CLAIM_SET = `state = 'processing', lease_run = $2, lease_expires_at = ${NOW_MS} + $4, fence = d.fence + 1,
  executions = d.executions + 1, run = $2, updated_at = $3,
  reexecuted = d.reexecuted OR (d.completions > 0 AND NOT d.requeued)`;

const CLAIM_RETURNING = `RETURNING d.row, d.seq, d.source, d.doc_id, d.format, d.metadata, d.load_error,
  d.idem_key, d.fence, d.attempts, d.stage_attempts, d.failed_stage, d.breaker_wait_since, d.has_staged, d.executions,
  d.out_key, d.size, d.file_mtime, d.content_hash, d.out_prep`;

type ExpiredRow = ClaimRow & { prev_run: number | null; prev_expires: number };

/** Documents whose lease expired in another run, longest expired first. */
async function claimExpired(client: pg.PoolClient, request: CommitRequest): Promise<ExpiredRow[]> {
  const { rows } = await client.query<ExpiredRow>(
    `WITH picked AS (
       SELECT row, lease_run AS prev_run, lease_expires_at AS prev_expires FROM documents
       WHERE batch_id = $1 AND state = 'processing' AND lease_expires_at < ${NOW_MS} AND lease_run <> $2
       ORDER BY lease_expires_at LIMIT $5 FOR UPDATE SKIP LOCKED)
     UPDATE documents d SET ${CLAIM_SET} FROM picked WHERE d.row = picked.row ${CLAIM_RETURNING}, picked.prev_run, picked.prev_expires`,
    [request.run.batchId, request.run.run, request.now, request.leaseMs, request.claim],
  );
  return rows;
}

/** One `reclaim` event per run whose expired leases this claim took over. */
async function recordReclaims(
  client: pg.PoolClient,
  request: CommitRequest,
  expired: ExpiredRow[],
): Promise<void> {
  if (expired.length === 0) return;
  const byRun = new Map<number | null, { documents: number; expired: number }>();
  for (const r of expired) {
    const h = byRun.get(r.prev_run) ?? { documents: 0, expired: 0 };
    h.documents += 1;
    h.expired = Math.max(h.expired, r.prev_expires);
    byRun.set(r.prev_run, h);
  }
  const data = [...byRun.entries()].map(([from, h]) =>
    JSON.stringify({ from_run: from, documents: h.documents, lease_expired_at: h.expired, via: "lease" }),
  );
  await client.query(
    `INSERT INTO events (batch_id, run, at, type, data) SELECT $1, $2, $3, 'reclaim', d FROM unnest($4::text[]) AS v(d)`,
    [request.run.batchId, request.run.run, request.now, data],
  );
}

/**
 * Large contents stay in the database until their document starts (`Store.loadContent`): a claim
 * runs ahead of the free slots, and holding every claimed content could cost gigabytes.
 */
async function loadClaimedContents(
  client: pg.PoolClient,
  claimed: ClaimedDocument[],
  deferFrom: number | undefined,
): Promise<void> {
  const withContent: ClaimedDocument[] = [];
  for (const doc of claimed) {
    const large = deferFrom !== undefined && (doc.size ?? Number.POSITIVE_INFINITY) >= deferFrom;
    if (doc.loadError === null && large) doc.contentDeferred = true;
    else withContent.push(doc);
  }
  if (withContent.length === 0) return;
  const { rows } = await client.query<{ row: number; content: string }>(
    "SELECT row, content FROM contents WHERE row = ANY($1::bigint[])",
    [withContent.map((d) => d.row)],
  );
  const contents = new Map(rows.map((r) => [r.row, r.content]));
  for (const doc of withContent) doc.content = contents.get(doc.row) ?? null;
}
