import { DocbatchError } from "../../core/errors.js";
import { syncBatch } from "../../runner/deliver-batch.js";
import { createLogger } from "../../runner/logger.js";
import { searchBatch } from "../../runner/search-batch.js";
import { verifySink } from "../../runner/verify-sink.js";
import { rememberedSinkUri } from "../../sinks/uri.js";
import { parseCommand } from "../args.js";
import { printHelp } from "../help.js";
import { printJson } from "../output.js";
import { withSignals } from "../process-flags.js";
import { batchCommand, withBatch } from "./inspect.js";

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand("search", args);
  if (values.help) return printHelp("search");
  if (positionals.length !== 1) {
    throw new DocbatchError("USAGE", "docbatch search needs exactly one QUERY (quote it).", {
      details: [
        { path: "QUERY", problem: positionals.length === 0 ? "required" : "only one query is accepted" },
      ],
    });
  }
  return withBatch(values, async (store, batchId) => {
    const k = values.k;
    const answer = await searchBatch({
      store,
      batchId,
      query: positionals[0]!,
      ...(k !== undefined ? { k } : {}),
    });
    if (values.json) {
      printJson(answer);
      return 0;
    }
    const lines = [
      `${answer.results.length} results for ${JSON.stringify(answer.query)} in ${batchId} (${answer.index})`,
    ];
    answer.results.forEach((r, i) => {
      const text = r.text.replace(/\s+/g, " ").slice(0, 160);
      lines.push(`${i + 1}. ${r.score.toFixed(4)}  ${r.doc_id} #${r.chunk_index}  ${text}`);
    });
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  });
}

export function syncCommand(args: string[]): Promise<number> {
  return batchCommand("sync", args, async (values, store, batchId) => {
    for (const uri of values.detach ?? []) {
      const remembered = /^(jsonl|pgvector):/.test(uri) ? rememberedSinkUri(uri) : uri;
      if (!(await store.detachSink(batchId, remembered))) {
        throw new DocbatchError("USAGE", `Batch ${batchId} has no sink ${remembered}.`, {
          details: [{ path: "--detach", problem: "not a sink of the batch" }],
          hints: ["`docbatch status --batch-id ID` lists the batch's sinks."],
        });
      }
      process.stderr.write(
        `docbatch: ${remembered} detached from ${batchId} (the sink itself was not touched)\n`,
      );
    }
    const timeoutMs = values.timeoutMs;
    const logger = createLogger(values.logFile, values.logLevel);
    const { result: cursors } = await withSignals((signal) =>
      syncBatch({
        store,
        batchId,
        logger,
        signal,
        sinks: values.sinks ?? [],
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      }),
    );
    const sinks = cursors.map((c) => ({
      uri: c.uri,
      delivered_seq: c.deliveredSeq,
      lag: c.lag,
      last_error: c.lastError,
    }));
    if (values.json) printJson({ batch_id: batchId, sinks });
    else if (sinks.length === 0)
      process.stdout.write(`batch ${batchId} has no sinks; attach one with --sink URI\n`);
    else {
      for (const s of sinks) {
        const state = s.lag === 0 ? "caught up" : `${s.lag} changes behind`;
        const error = s.last_error ? ` (last error ${s.last_error.code}: ${s.last_error.message})` : "";
        process.stdout.write(`${s.uri}: ${state} at seq ${s.delivered_seq}${error}\n`);
      }
    }
    return sinks.every((s) => s.lag === 0) ? 0 : 3;
  });
}

export async function verifyCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("verify", args);
  if (values.help) return printHelp("verify");
  const sink = values.sink;
  if (!sink) {
    throw new DocbatchError("USAGE", "docbatch verify needs --sink URI", {
      details: [{ path: "--sink", problem: "required" }],
      hints: ["`docbatch status --batch-id ID` lists the batch's sinks."],
    });
  }
  return withBatch(values, async (store, batchId) => {
    const result = await verifySink({ store, batchId, sink, repair: Boolean(values.repair) });
    if (values.json) printJson(result);
    else {
      const line = `${result.sink}: expected ${result.expected}, found ${result.found}, missing ${result.missing}, extra ${result.extra}, mismatched ${result.mismatched}`;
      const before = result.before
        ? `\nrepaired ${result.repaired} keys (before: missing ${result.before.missing}, extra ${result.before.extra}, mismatched ${result.before.mismatched})`
        : "";
      process.stdout.write(`${line}${before}\n`);
    }
    return result.missing + result.extra + result.mismatched === 0 ? 0 : 3;
  });
}
