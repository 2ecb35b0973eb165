import type pg from "pg";
import { canonicalJson } from "../../core/keys.js";
import type { PlannedDocument } from "../../core/types.js";
import { encodeError } from "../codec.js";
import { decideDocument, emptyProgress, type KnownIdentity } from "../plan-slice.js";
import type { PlanProgress } from "../store.js";

/**
 * Writes one slice of the plan, with the same decisions as the SQLite store (insert, duplicate,
 * unchanged, changed, a deleted document back), in a fixed number of statements: the existing rows of the slice's
 * identities are read at once, then inserts and replacements go as arrays.
 */
export async function writePlanSlice(
  client: pg.PoolClient,
  batchId: string,
  generation: number,
  docs: PlannedDocument[],
  now: number,
): Promise<PlanProgress> {
  const progress = emptyProgress();
  if (docs.length === 0) return progress;
  const existing = await knownIdentities(client, batchId, docs);
  const inserts: PlannedDocument[] = [];
  const replaces: { row: number; doc: PlannedDocument }[] = [];
  const touched: { row: number; sig: string | null }[] = [];
  for (const doc of docs) {
    const key = JSON.stringify([doc.source, doc.docId]);
    const found = existing.get(key);
    const decision = decideDocument(found, doc, generation, progress);
    if (decision === "insert") {
      inserts.push(doc);
      // A later copy in this slice is a duplicate of this one.
      existing.set(key, {
        row: -1,
        idem_key: doc.idempotencyKey,
        plan_generation: generation,
        state: "pending",
      });
    } else if (decision === "unchanged") touched.push({ row: found!.row, sig: doc.fileSig ?? null });
    else if (decision === "replace") replaces.push({ row: found!.row, doc });
    if (found && decision !== "duplicate") found.plan_generation = generation;
  }
  await insertDocuments(client, batchId, generation, inserts, now);
  await touchDocuments(client, generation, touched);
  await replaceDocuments(client, generation, replaces, now);
  return progress;
}

/** The rows the slice's identities already have, by `[source, doc_id]`. */
async function knownIdentities(
  client: pg.PoolClient,
  batchId: string,
  docs: PlannedDocument[],
): Promise<Map<string, KnownIdentity & { row: number }>> {
  const { rows } = await client.query<KnownIdentity & { row: number; doc_id: string; source: string }>(
    `SELECT d.row, d.doc_id, d.source, d.idem_key, d.plan_generation, d.state FROM documents d
     JOIN unnest($2::text[], $3::text[]) AS v(doc_id, source) ON d.doc_id = v.doc_id AND d.source = v.source
     WHERE d.batch_id = $1`,
    [batchId, docs.map((d) => d.docId), docs.map((d) => d.source)],
  );
  return new Map(rows.map((r) => [JSON.stringify([r.source, r.doc_id]), r]));
}

async function insertDocuments(
  client: pg.PoolClient,
  batchId: string,
  generation: number,
  inserts: PlannedDocument[],
  now: number,
): Promise<void> {
  if (inserts.length === 0) return;
  const { rows: created } = await client.query<{ row: number; seq: number }>(
    `INSERT INTO documents (batch_id, seq, source, doc_id, format, metadata, load_error, path,
       content_hash, idem_key, size, file_mtime, file_sig, plan_generation, updated_at)
     SELECT $1, v.seq, v.source, v.doc_id, v.format, v.metadata, v.load_error, v.path, v.content_hash,
       v.idem_key, v.size, v.file_mtime, v.file_sig, $2, $3
     FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                 $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::text[])
       AS v(seq, source, doc_id, format, metadata, load_error, path, content_hash, idem_key, size, file_mtime,
            file_sig)
     RETURNING row, seq`,
    [batchId, generation, now, ...columns(inserts)],
  );
  const rowOf = new Map(created.map((r) => [r.seq, r.row]));
  await putContents(
    client,
    inserts.map((d) => ({ row: rowOf.get(d.seq)!, content: d.content })),
  );
}

/** Unchanged documents join this plan generation; their state and output stay. */
async function touchDocuments(
  client: pg.PoolClient,
  generation: number,
  touched: { row: number; sig: string | null }[],
): Promise<void> {
  if (touched.length === 0) return;
  await client.query(
    `UPDATE documents d SET plan_generation = $3, file_sig = v.sig
     FROM unnest($1::bigint[], $2::text[]) AS v(row, sig) WHERE d.row = v.row`,
    [touched.map((t) => t.row), touched.map((t) => t.sig), generation],
  );
}

/** Changed (or returned) documents go back to pending with a new fence and their new content. */
async function replaceDocuments(
  client: pg.PoolClient,
  generation: number,
  replaces: { row: number; doc: PlannedDocument }[],
  now: number,
): Promise<void> {
  if (replaces.length === 0) return;
  const docsOf = replaces.map((r) => r.doc);
  await client.query(
    `UPDATE documents d SET seq = v.seq, format = v.format, metadata = v.metadata,
       load_error = v.load_error, path = v.path, content_hash = v.content_hash, idem_key = v.idem_key,
       size = CASE WHEN v.kept THEN d.size ELSE v.size END, file_mtime = v.file_mtime, file_sig = v.file_sig,
       plan_generation = $1, state = 'pending', not_before = 0, attempts = 0, stage_attempts = 0,
       failed_stage = NULL, last_error = NULL, degraded_reason = NULL, breaker_wait_since = NULL, completions = 0,
       requeued = FALSE, lease_run = NULL, lease_expires_at = NULL, fence = d.fence + 1, has_staged = FALSE,
       updated_at = $2
     FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                 $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::text[], $16::bool[])
       AS v(row, seq, source, doc_id, format, metadata, load_error, path, content_hash, idem_key, size, file_mtime,
            file_sig, kept)
     WHERE d.row = v.row`,
    [
      generation,
      now,
      replaces.map((r) => r.row),
      ...columns(docsOf),
      docsOf.map((d) => d.contentKept === true),
    ],
  );
  // A document whose file was not read keeps its stored content.
  await putContents(
    client,
    replaces.filter((r) => !r.doc.contentKept).map((r) => ({ row: r.row, content: r.doc.content })),
  );
  await client.query("DELETE FROM staged_chunks WHERE row = ANY($1::bigint[])", [replaces.map((r) => r.row)]);
}

/** Writes (or, for documents that have none, removes) contents, keyed by document row. */
export async function putContents(
  client: pg.PoolClient,
  items: { row: number; content: string | null }[],
): Promise<void> {
  const present = items.filter((i) => i.content !== null);
  const absent = items.filter((i) => i.content === null).map((i) => i.row);
  if (present.length > 0) {
    await client.query(
      `INSERT INTO contents (row, content) SELECT * FROM unnest($1::bigint[], $2::text[])
       ON CONFLICT (row) DO UPDATE SET content = EXCLUDED.content`,
      [present.map((i) => i.row), present.map((i) => i.content)],
    );
  }
  if (absent.length > 0) await client.query("DELETE FROM contents WHERE row = ANY($1::bigint[])", [absent]);
}

function columns(docs: PlannedDocument[]): unknown[] {
  return [
    docs.map((d) => d.seq),
    docs.map((d) => d.source),
    docs.map((d) => d.docId),
    docs.map((d) => d.format),
    docs.map((d) => canonicalJson(d.metadata)),
    docs.map((d) => encodeError(d.loadError)),
    docs.map((d) => d.path ?? null),
    docs.map((d) => d.contentHash),
    docs.map((d) => d.idempotencyKey),
    docs.map((d) => (d.content === null ? null : Buffer.byteLength(d.content))),
    docs.map((d) => (d.fileMtime == null ? null : Math.floor(d.fileMtime))),
    docs.map((d) => d.fileSig ?? null),
  ];
}
