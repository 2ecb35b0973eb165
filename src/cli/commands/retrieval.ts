import { DocbatchError } from "../../core/errors.js";
import { syncBatch } from "../../runner/deliver-batch.js";
import { createLogger } from "../../runner/logger.js";
import { searchBatch } from "../../runner/search-batch.js";
import { verifySink } from "../../runner/verify-sink.js";
import { rememberedSinkUri } from "../../sinks/uri.js";
import { intFlag, parseFlags, requireBatchId, STORE_FLAGS, stringFlag } from "../args.js";
import { printJson } from "../output.js";
import { withSignals } from "../process-flags.js";
import { withBatch } from "./inspect.js";

export const SEARCH_HELP = `docbatch search QUERY --batch-id ID [--k N] [--db FILE | --store URL] [--json]

The k chunks of the batch nearest to QUERY by cosine similarity, best first. QUERY is embedded
with the batch's own embedder and layer. SQLite stores search a sqlite-vec index kept with the
chunks; Postgres stores scan the batch's vectors exactly (the answer's "index" says which).
Chunks of documents completed without vectors are not searchable.

  --k N       results, 1 to 1000 (default 5)
  --json      {"batch_id", "query", "results": [{"doc_id", "source", "chunk_index", "score",
              "text", "metadata", "idempotency_key"}], "index"}`;

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { ...STORE_FLAGS, "batch-id": { type: "string" }, k: { type: "string" }, json: { type: "boolean" } },
    "search",
  );
  if (values.help) return help(SEARCH_HELP);
  if (positionals.length !== 1) {
    throw new DocbatchError("USAGE", "docbatch search needs exactly one QUERY (quote it).", {
      details: [
        { path: "QUERY", problem: positionals.length === 0 ? "required" : "only one query is accepted" },
      ],
    });
  }
  const batchId = requireBatchId(values["batch-id"], "search");
  return withBatch(values, batchId, async (store) => {
    const k = intFlag(values.k, "k");
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

export const SYNC_HELP = `docbatch sync --batch-id ID [--db FILE | --store URL] [--sink URI ...] [--timeout-ms N] [--json]

Delivers to the batch's sinks what they have not received yet (after a run that exited 3 because a
sink was behind, or to a sink attached with --sink). Exit 0 when every sink caught up, else 3.

  --sink URI        attach a sink and deliver the batch's whole output to it (repeatable)
  --detach URI      forget a sink of the batch (repeatable); what it holds is left as it is
  --timeout-ms N    give up after N ms (default 600000)
  --json            the sinks as in \`report --json\``;

export async function syncCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...STORE_FLAGS,
      "batch-id": { type: "string" },
      sink: { type: "string", multiple: true },
      detach: { type: "string", multiple: true },
      "timeout-ms": { type: "string" },
      "log-file": { type: "string" },
      "log-level": { type: "string" },
      json: { type: "boolean" },
    },
    "sync",
  );
  if (values.help) return help(SYNC_HELP);
  const batchId = requireBatchId(values["batch-id"], "sync");
  return withBatch(values, batchId, async (store) => {
    for (const uri of (values.detach as string[] | undefined) ?? []) {
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
    const timeoutMs = intFlag(values["timeout-ms"], "timeout-ms");
    const logger = createLogger(stringFlag(values["log-file"]), stringFlag(values["log-level"]));
    const { result: cursors } = await withSignals((signal) =>
      syncBatch({
        store,
        batchId,
        logger,
        signal,
        sinks: (values.sink as string[] | undefined) ?? [],
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

export const VERIFY_HELP = `docbatch verify --batch-id ID --sink URI [--repair] [--db FILE | --store URL] [--json]

Compares what the sink holds for the batch with the store, key by key (and a digest of each
chunk's text and vector): {"sink", "expected", "found", "missing", "extra", "mismatched",
"repaired"}. Exit 0 when missing, extra and mismatched are all 0, else 3.

  --repair    write what is missing or different, remove what is extra, and verify again
              (the counts are then those of the second comparison; "before" has the first)`;

export async function verifyCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...STORE_FLAGS,
      "batch-id": { type: "string" },
      sink: { type: "string" },
      repair: { type: "boolean" },
      json: { type: "boolean" },
    },
    "verify",
  );
  if (values.help) return help(VERIFY_HELP);
  const batchId = requireBatchId(values["batch-id"], "verify");
  const sink = stringFlag(values.sink);
  if (!sink) {
    throw new DocbatchError("USAGE", "docbatch verify needs --sink URI", {
      details: [{ path: "--sink", problem: "required" }],
      hints: ["`docbatch status --batch-id ID` lists the batch's sinks."],
    });
  }
  return withBatch(values, batchId, async (store) => {
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

function help(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
