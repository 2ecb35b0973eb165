import fs from "node:fs";
import path from "node:path";
import { jsonWithVector } from "../../core/vector-json.js";
import { listBatches } from "../../report/batches.js";
import { renderHtmlReport } from "../../report/html.js";
import { renderPrometheus } from "../../report/prometheus.js";
import { analyzeBatch } from "../../report/report.js";
import { batchStatus } from "../../report/status.js";
import { formatReport } from "../../report/text.js";
import { retryDocuments } from "../../runner/retry.js";
import { createStore } from "../../store/open.js";
import { pickBatch } from "../../store/pick-batch.js";
import type { Store } from "../../store/store.js";
import { parseCommand, type Values } from "../args.js";
import { printHelp } from "../help.js";
import { type CommandName, STATUS_LIST_LIMIT } from "../options.js";
import { commandPrefix, printJson, shellQuote } from "../output.js";

/**
 * Opens the store named by the flags, resolves the batch (the one asked for, else the store's
 * only or latest one, named on stderr), runs `fn`, closes the store.
 */
/**
 * A command on one batch of an existing store: parses its flags (or prints its help), opens the
 * store, picks the batch (see `withBatch`) and closes the store after `body`.
 */
export async function batchCommand<C extends CommandName>(
  command: C,
  args: string[],
  body: (values: Values<C>, store: Store, batchId: string) => Promise<number>,
): Promise<number> {
  const { values } = parseCommand(command, args);
  const flags = values as { help?: boolean; db?: string; store?: string; batchId?: string };
  if (flags.help) return printHelp(command);
  return withBatch(flags, (store, batchId) => body(values, store, batchId));
}

export async function withBatch<T>(
  values: { db?: string; store?: string; batchId?: string },
  fn: (store: Store, batchId: string) => Promise<T>,
): Promise<T> {
  const store = await createStore({ db: values.db, url: values.store }, { mustExist: true });
  await store.open();
  try {
    const { batchId, picked } = await pickBatch(store, values.batchId);
    if (picked) process.stderr.write(`docbatch: batch ${batchId} (${picked})\n`);
    return await fn(store, batchId);
  } finally {
    await store.close();
  }
}

export function statusCommand(args: string[]): Promise<number> {
  return batchCommand("status", args, async (values, store, batchId) => {
    const status = await batchStatus(store, batchId);
    const counts = status.counts;
    if (values.json) {
      printJson(status);
      return 0;
    }
    const limit = values.limit ?? STATUS_LIST_LIMIT;
    const out = [
      `batch ${batchId}: ${counts.total} documents: ${counts.done} done, ${counts.degraded} degraded, ` +
        `${counts.failed} failed, ${counts.pending} pending, ${counts.processing} processing`,
      `  skipped: ${counts.duplicates_skipped} duplicates in the input, ${counts.unchanged_skipped} unchanged, ` +
        `${counts.skipped_unsupported} files that are not documents`,
      ...(counts.changed > 0 || counts.deleted > 0
        ? [`  updates: ${counts.changed} changed since the last plan, ${counts.deleted} deleted`]
        : []),
    ];
    const list = <T>(title: string, items: T[], line: (item: T) => string) => {
      if (items.length === 0) return;
      out.push(title);
      for (const item of items.slice(0, limit)) out.push(`  ${line(item)}`);
      if (items.length > limit)
        out.push(`  … and ${items.length - limit} more (--limit N, or --json for all)`);
    };
    list("failed:", status.failed_documents, (d) => {
      const attempts = `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`;
      return `${d.id} (${attempts}) ${d.last_error?.code}: ${d.last_error?.message}`;
    });
    list(
      "degraded (completed by the fallback path; backfill with `docbatch retry --degraded`):",
      status.degraded_documents,
      (d) => `${d.id} ${d.reason?.code}: ${d.reason?.message}`,
    );
    list("skipped, not documents:", status.skipped_files, (f) => `${f.path} (${f.kind})`);
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

export function reportCommand(args: string[]): Promise<number> {
  return batchCommand("report", args, async (values, store, batchId) => {
    const analysis = await analyzeBatch(store, batchId);
    const { report } = analysis;
    const html = values.html;
    if (html) {
      fs.mkdirSync(path.dirname(path.resolve(html)), { recursive: true });
      fs.writeFileSync(html, renderHtmlReport(analysis));
      process.stderr.write(`wrote ${html}\n`);
    }
    if (values.prometheus) process.stdout.write(renderPrometheus([analysis]));
    else if (values.json) printJson(report);
    else {
      const store = values.db ? `--db ${shellQuote(values.db)}` : "";
      process.stdout.write(
        `${formatReport(report, analysis.series.failures, { cli: commandPrefix(), store })}\n`,
      );
    }
    return 0;
  });
}

export function exportCommand(args: string[]): Promise<number> {
  return batchCommand("export", args, async (values, store, batchId) => {
    let buffer = "";
    for await (const row of store.exportChunks(batchId, {
      withEmbeddings: Boolean(values.withEmbeddings),
    })) {
      buffer += `${jsonWithVector(row)}\n`;
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

export function retryCommand(args: string[]): Promise<number> {
  return batchCommand("retry", args, async (values, store, batchId) => {
    const reason = values.reason;
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

export async function batchesCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("batches", args);
  if (values.help) return printHelp("batches");
  const store = await createStore({ db: values.db, url: values.store }, { mustExist: true });
  await store.open();
  try {
    const rows = await listBatches(store);
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
