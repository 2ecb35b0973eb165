import fs from "node:fs";
import path from "node:path";
import { chunkTextHash } from "../core/keys.js";
import type { PlannedDocument } from "../core/types.js";
import { defaultBatchId, openInput } from "../input/sources.js";
import { validateInput } from "../input/validate.js";
import { loadTokenizer } from "../pipeline/chunk-measure.js";
import { CpuPool } from "../pipeline/cpu-pool.js";
import { nameOf, prepareChunks, prepareFallback } from "../pipeline/prepare.js";
import { createStore, DEFAULT_DB } from "../store/open.js";
import type { Store } from "../store/store.js";
import { identityKey, knownByIdentity } from "./plan-files.js";
import { checkGroup, type GroupItem, planRecord, type RecordOptions, STAT_GROUP } from "./plan-record.js";
import {
  type OutputOptions,
  type PlanModeOptions,
  type ProcessOptions,
  pipelineSettings,
  resolveProcessOptions,
  syncOption,
} from "./run-options.js";
import { embedLayerOf, layerOf, type PipelineSettings } from "./settings.js";

/**
 * How many of `texts` the embedding cache of `settings`' layer holds already. The plan counts the
 * chunks to embed with it; without a cache every text is a miss.
 */
export type CountCached = (settings: PipelineSettings, texts: string[]) => Promise<number>;

export interface PreviewPlanOptions extends ProcessOptions, OutputOptions, PlanModeOptions {
  input: string;
  /** The SQLite store, opened read-only and never created. @default ".docbatch/docbatch.db" */
  db?: string;
  /** An open store to read instead of `db` (e.g. a PostgresStore); nothing is written to it. */
  store?: Store;
  batchId?: string;
  /** `path` documents resolve inside this folder. @default the input's folder */
  root?: string;
  /** Adds `estimated_cost`: estimated tokens / 1e6 × this price. */
  pricePerMillionTokens?: number;
  /** @default lookups in the store's embedding cache (none with `noCache`, or without a store) */
  countCached?: CountCached;
}

/** What `docbatch run` would do, as `docbatch plan --json` prints it. */
export interface PlanPreview {
  batch_id: string;
  new: number;
  changed: number;
  unchanged: number;
  /** Documents of the batch the input no longer holds; counted with `--sync full` only. */
  deleted: number;
  duplicates: number;
  /** Chunks of the new and changed documents. */
  chunks: number;
  chunks_to_embed: number;
  cache_hits: number;
  /** Tokens of the chunks to embed, by the tokenizer of the layer. */
  estimated_tokens: number;
  estimated_cost?: number;
}

/**
 * Plans the input in memory against what the store holds, writing nothing and calling no
 * embedder. Files are checked as `run` checks them (by stat, read only when changed); the new and
 * changed documents are parsed and chunked on the CPU threads to count their chunks and tokens.
 * An invalid input gives the same error as `run`.
 */
export async function previewPlan(options: PreviewPlanOptions): Promise<PlanPreview> {
  const settings = pipelineSettings(options);
  const layer = layerOf(settings);
  const sync = syncOption(options.sync);
  const dbFile = path.resolve(options.db ?? DEFAULT_DB);
  const source = await openInput(options.input, {
    storeFiles: options.store ? [] : [dbFile],
    ...(options.root ? { root: options.root } : {}),
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
  });
  await validateInput(source);
  const store =
    options.store ?? (fs.existsSync(dbFile) ? await createStore({ db: dbFile }, { readonly: true }) : null);
  if (store && !options.store) await store.open();
  const threads = resolveProcessOptions(options).threads;
  const cpu = threads > 0 && CpuPool.available() ? new CpuPool(threads) : null;
  try {
    const batchId =
      options.batchId?.trim() ||
      (await defaultBatchId(source, async (id) => (await store?.getBatch(id))?.inputRef ?? null));
    const batch = (await store?.getBatch(batchId)) ?? null;
    const lookups = store !== null && options.noCache !== true;
    const tally = new PlanTally(settings, options.countCached ?? (lookups ? cachedIn(store) : noCache), cpu);
    const recordOptions: RecordOptions = {
      maxDocBytes: settings.maxDocBytes,
      layer,
      ...(options.rehash ? { rehash: true } : {}),
    };
    const known = batch ? store : null;
    let group: GroupItem[] = [];
    let seq = 0;
    const flush = async () => {
      const items = await checkGroup(known, source, batchId, group, recordOptions);
      group = [];
      const planned: PlannedDocument[] = [];
      for (const item of items) {
        const doc = item.kept ?? (await planRecord(source, item, recordOptions));
        if (doc !== null && !("kind" in doc)) planned.push(doc);
      }
      await tally.add(planned, known ? await knownByIdentity(known, batchId, planned) : new Map(), source);
    };
    for await (const record of source.records(0)) {
      group.push({ record, seq: seq++ });
      if (group.length >= STAT_GROUP) await flush();
    }
    if (group.length > 0) await flush();
    const live = batch && store ? (await store.counts(batchId)).total : 0;
    return tally.result(batchId, sync === "full" ? live - tally.matched : 0, options.pricePerMillionTokens);
  } finally {
    await cpu?.close();
    if (store && !options.store) await store.close();
  }
}

const noCache: CountCached = async () => 0;

/** Texts the store's embedding cache holds under the layer's embedding part: what `run` would not send. */
function cachedIn(store: Store): CountCached {
  return async (settings, texts) => {
    const hashes = texts.map(chunkTextHash);
    const found = await store.lookupVectors(embedLayerOf(settings), [...new Set(hashes)]);
    return hashes.filter((hash) => found.has(hash)).length;
  };
}

/** The counts of a plan preview, added a group of planned documents at a time. */
class PlanTally {
  private readonly seen = new Set<string>();
  private readonly counts = { new: 0, changed: 0, unchanged: 0, duplicates: 0 };
  private chunks = 0;
  private cacheHits = 0;
  private tokens = 0;
  /** Input documents the batch holds (not deleted): the rest of the batch is what a full sync deletes. */
  matched = 0;

  constructor(
    private readonly settings: PipelineSettings,
    private readonly countCached: CountCached,
    private readonly cpu: CpuPool | null,
  ) {}

  async add(
    docs: PlannedDocument[],
    known: Map<string, { idempotencyKey: string; state: string }>,
    source: { root: { realRoot: string } },
  ): Promise<void> {
    const toChunk: PlannedDocument[] = [];
    for (const doc of docs) {
      const id = identityKey(doc.source, doc.docId);
      if (this.seen.has(id)) {
        this.counts.duplicates += 1;
        continue;
      }
      this.seen.add(id);
      const stored = known.get(id);
      const live = stored !== undefined && stored.state !== "deleted";
      if (live) this.matched += 1;
      if (live && stored.idempotencyKey === doc.idempotencyKey) this.counts.unchanged += 1;
      else {
        this.counts[live ? "changed" : "new"] += 1;
        toChunk.push(doc);
      }
    }
    await Promise.all(toChunk.map((doc) => this.chunk(doc, source)));
  }

  /** Chunks one new or changed document and counts its chunks, cache hits and tokens. */
  private async chunk(doc: PlannedDocument, source: { root: { realRoot: string } }): Promise<void> {
    const content = doc.content ?? (doc.contentKept ? await this.reread(doc, source) : null);
    if (content === null) return; // It fails when processed: nothing to embed.
    const texts = await this.textsOf(content, doc);
    const hits = Math.min(texts.length, await this.countCached(this.settings, texts));
    const count = await loadTokenizer(this.settings.chunk.tokenizer ?? "o200k_base");
    const tokens = texts.reduce((sum, text) => sum + count(text), 0);
    this.chunks += texts.length;
    this.cacheHits += hits;
    // The hook counts hits, not which texts hit: the document's tokens are scaled by its misses.
    this.tokens += texts.length === 0 ? 0 : Math.round((tokens * (texts.length - hits)) / texts.length);
  }

  private async textsOf(content: string, doc: PlannedDocument): Promise<string[]> {
    const chunk = this.settings.chunk;
    const name = nameOf(doc.docId);
    try {
      if (this.cpu) {
        const task = {
          content,
          format: doc.format,
          chunk,
          mode: "normal" as const,
          name,
          embedDimensions: null,
        };
        return (await this.cpu.run(task)).texts;
      }
      return (await prepareChunks(content, doc.format, chunk, name, {})).texts;
    } catch {
      // `run` takes the fallback path for a document its parser refuses.
      return (await prepareFallback(content, doc.format, chunk, name, {})).texts;
    }
  }

  /** A file kept by stat whose key changed (a new layer): read to count its chunks. */
  private async reread(doc: PlannedDocument, source: { root: { realRoot: string } }): Promise<string | null> {
    try {
      const bytes = await fs.promises.readFile(path.resolve(source.root.realRoot, doc.path ?? ""));
      return doc.format === "pdf" || doc.format === "docx"
        ? bytes.toString("base64")
        : bytes.toString("utf8");
    } catch {
      return null;
    }
  }

  result(batchId: string, deleted: number, price?: number): PlanPreview {
    return {
      batch_id: batchId,
      ...this.counts,
      deleted: Math.max(0, deleted),
      chunks: this.chunks,
      chunks_to_embed: this.chunks - this.cacheHits,
      cache_hits: this.cacheHits,
      estimated_tokens: this.tokens,
      ...(price !== undefined ? { estimated_cost: Math.round((this.tokens / 1e6) * price * 1e6) / 1e6 } : {}),
    };
  }
}
