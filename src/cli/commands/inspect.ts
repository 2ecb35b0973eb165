import fs from "node:fs";
import path from "node:path";
import { renderHtmlReport } from "../../report/html.js";
import { renderPrometheus } from "../../report/prometheus.js";
import { analyzeBatch } from "../../report/report.js";
import { batchStatus } from "../../report/status.js";
import { formatReport } from "../../report/text.js";
import { retryDocuments } from "../../runner/retry.js";
import { createStore, requireBatch } from "../../store/open.js";
import type { Store } from "../../store/store.js";
import { parseFlags, requireBatchId, STORE_FLAGS, stringFlag } from "../args.js";
import { printJson } from "../output.js";

/** Opens the store named by the flags, checks the batch exists, runs `fn`, closes the store. */
export async function withBatch<T>(
  values: { db?: unknown; store?: unknown },
  batchId: string,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await createStore(
    { db: stringFlag(values.db), url: stringFlag(values.store) },
    { mustExist: true },
  );
  await store.open();
  try {
    await requireBatch(store, batchId);
    return await fn(store);
  } finally {
    await store.close();
  }
}

export const STATUS_HELP = `docbatch status --batch-id ID [--db FILE] [--json]

Counts by state, and the failed and degraded documents with attempts and last error.`;

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    { ...STORE_FLAGS, "batch-id": { type: "string" }, json: { type: "boolean" }, limit: { type: "string" } },
    "status",
  );
  if (values.help) return help(STATUS_HELP);
  const batchId = requireBatchId(values["batch-id"], "status");
  return withBatch(values, batchId, async (store) => {
    const status = await batchStatus(store, batchId);
    const counts = status.counts;
    if (values.json) {
      printJson(status);
      return 0;
    }
    const c = counts;
    const out = [
      `batch ${batchId}: ${c.total} documents: ${c.done} done, ${c.degraded} degraded, ${c.failed} failed, ${c.pending} pending, ${c.processing} processing`,
      `  duplicates skipped ${c.duplicates_skipped}, unchanged skipped ${c.unchanged_skipped}`,
    ];
    if (status.failed_documents.length > 0) {
      out.push("failed:");
      for (const d of status.failed_documents) {
        out.push(`  ${d.id} (${d.attempts} attempts) ${d.last_error?.code}: ${d.last_error?.message}`);
      }
    }
    if (status.degraded_documents.length > 0) {
      out.push("degraded (completed by the fallback path; backfill with `docbatch retry --degraded`):");
      for (const d of status.degraded_documents)
        out.push(`  ${d.id} ${d.reason?.code}: ${d.reason?.message}`);
    }
    if (status.sinks.length > 0) out.push("sinks:");
    for (const s of status.sinks) {
      const state = s.lag === 0 ? "caught up" : `${s.lag} changes behind (\`docbatch sync\` delivers them)`;
      const error = s.last_error ? `; last error ${s.last_error.code}: ${s.last_error.message}` : "";
      out.push(`  ${s.uri}: ${state}, delivered seq ${s.delivered_seq}${error}`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return 0;
  });
}

export const REPORT_HELP = `docbatch report --batch-id ID [--db FILE] [--json | --prometheus] [--html FILE]

The metrics report of a batch across all its runs, computed from the store.

  --json          the report as JSON
  --prometheus    the metrics in the Prometheus text format
  --html FILE     also write a self-contained HTML page with charts to FILE`;

export async function reportCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...STORE_FLAGS,
      "batch-id": { type: "string" },
      json: { type: "boolean" },
      prometheus: { type: "boolean" },
      html: { type: "string" },
    },
    "report",
  );
  if (values.help) return help(REPORT_HELP);
  const batchId = requireBatchId(values["batch-id"], "report");
  return withBatch(values, batchId, async (store) => {
    const analysis = await analyzeBatch(store, batchId);
    const { report } = analysis;
    const html = stringFlag(values.html);
    if (html) {
      fs.mkdirSync(path.dirname(path.resolve(html)), { recursive: true });
      fs.writeFileSync(html, renderHtmlReport(analysis));
      process.stderr.write(`wrote ${html}\n`);
    }
    if (values.prometheus) process.stdout.write(renderPrometheus([analysis]));
    else if (values.json) printJson(report);
    else process.stdout.write(`${formatReport(report, analysis.series.failures)}\n`);
    return 0;
  });
}

export const EXPORT_HELP = `docbatch export --batch-id ID [--db FILE] [--with-embeddings]

The batch's chunks as JSON Lines on stdout, ordered by doc_id then chunk_index.`;

export async function exportCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    { ...STORE_FLAGS, "batch-id": { type: "string" }, "with-embeddings": { type: "boolean" } },
    "export",
  );
  if (values.help) return help(EXPORT_HELP);
  const batchId = requireBatchId(values["batch-id"], "export");
  return withBatch(values, batchId, async (store) => {
    let buffer = "";
    for await (const row of store.exportChunks(batchId, {
      withEmbeddings: Boolean(values["with-embeddings"]),
    })) {
      buffer += `${JSON.stringify(row)}\n`;
      if (buffer.length > 1 << 16) {
        if (!process.stdout.write(buffer))
          await new Promise((resolve) => process.stdout.once("drain", resolve));
        buffer = "";
      }
    }
    if (buffer) process.stdout.write(buffer);
    return 0;
  });
}

export const RETRY_HELP = `docbatch retry --batch-id ID [--db FILE] [--degraded] [--reason CODE]

Puts failed documents (and with --degraded, degraded ones) back to pending; run the batch again
(\`docbatch run INPUT\`) to process them. Degraded documents keep their chunks until the new ones
replace them in one transaction.

  --degraded      also degraded documents (backfill)
  --reason CODE   only documents whose last error or degraded reason has this code`;

export async function retryCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...STORE_FLAGS,
      "batch-id": { type: "string" },
      degraded: { type: "boolean" },
      reason: { type: "string" },
      json: { type: "boolean" },
    },
    "retry",
  );
  if (values.help) return help(RETRY_HELP);
  const batchId = requireBatchId(values["batch-id"], "retry");
  return withBatch(values, batchId, async (store) => {
    const reason = stringFlag(values.reason);
    const requeued = await retryDocuments(store, batchId, {
      failed: true,
      degraded: Boolean(values.degraded),
      ...(reason ? { reason } : {}),
    });
    if (values.json) printJson({ batch_id: batchId, requeued });
    else {
      process.stdout.write(
        `${requeued} document${requeued === 1 ? "" : "s"} of ${batchId} put back to pending. ` +
          "Run the batch again to process them.\n",
      );
    }
    return 0;
  });
}

export const BATCHES_HELP = `docbatch batches [--db FILE] [--json]

The batches of a store with their counts.`;

export async function batchesCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...STORE_FLAGS, json: { type: "boolean" } }, "batches");
  if (values.help) return help(BATCHES_HELP);
  const store = await createStore(
    { db: stringFlag(values.db), url: stringFlag(values.store) },
    { mustExist: true },
  );
  await store.open();
  try {
    const batches = await store.listBatches();
    const rows = [];
    for (const b of batches)
      rows.push({
        batch_id: b.batchId,
        created_at: new Date(b.createdAt).toISOString(),
        input: b.inputRef,
        counts: await store.counts(b.batchId),
      });
    if (values.json) printJson(rows);
    else
      for (const r of rows)
        process.stdout.write(
          `${r.batch_id}  ${r.counts.total} documents, ${r.counts.done} done  ${r.input}\n`,
        );
    return 0;
  } finally {
    await store.close();
  }
}

function help(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
