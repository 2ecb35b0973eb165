import { DocbatchError } from "../core/errors.js";
import type { JsonObject } from "../core/types.js";
import type { ChunkOptions } from "../pipeline/chunk.js";
import type { Embedder } from "../pipeline/embed/embedder.js";
import { HttpEmbedder } from "../pipeline/embed/http.js";
import { LocalEmbedder } from "../pipeline/embed/local.js";
import { ModelEmbedder } from "../pipeline/embed/model.js";
import { ThreadedHttpEmbedder } from "../pipeline/embed/threaded-http.js";

/**
 * Version of the processing itself; bump it when a stage changes its output. 2: formats parsed
 * with structure (markdown, PDF pages, DOCX, HTML main content), code kept, headings never alone,
 * chunk metadata.
 */
export const PIPELINE_VERSION = 2;

export type EmbedSettings =
  | { kind: "local"; dimensions: number }
  | { kind: "http"; url: string; model: string; timeoutMs: number }
  /** A local ONNX model: its folder, and its id (name and digest of its files) for the layer. */
  | { kind: "model"; dir: string; id: string };

/**
 * The options that shape a batch's output. They are stored with the batch, so `worker`,
 * `retry` and `serve` process its documents exactly as the run that planned it did, and they are
 * part of the layer: changing one gives every document a new key and reprocesses it.
 */
export interface PipelineSettings {
  chunk: ChunkOptions;
  embed: EmbedSettings;
  /** Documents larger than this fail with DOC_TOO_LARGE. @default 20 MiB */
  maxDocBytes: number;
  /** The folder `path` documents were read from; a retry reads missing files again from there. */
  root?: string;
  /** The folder filter the batch was planned with, so a process taking the plan over chooses alike. */
  include?: string[];
  exclude?: string[];
}

/**
 * The layer, by stage: what shapes the parsed and cleaned text, what shapes the chunk texts, what
 * shapes the vectors. A document's key covers all three (`layerOf`); a document whose content and
 * first two parts are unchanged keeps its chunk texts when only the embedding part changed, and
 * the embedding cache is keyed by the last part alone.
 */
export interface StageLayers {
  parse: string;
  chunk: string;
  embed: string;
}

export function stageLayersOf(settings: PipelineSettings): StageLayers {
  return { parse: parseLayerOf(), chunk: chunkLayerOf(settings), embed: embedLayerOf(settings) };
}

/** The combination the idempotency key is built with. */
export function layerOf(settings: PipelineSettings): string {
  const { parse, chunk, embed } = stageLayersOf(settings);
  return `${parse}|chunk:${chunk}|embed:${embed}`;
}

/** Parsing and cleaning have no options: the pipeline's version alone. */
export function parseLayerOf(): string {
  return `docbatch/${PIPELINE_VERSION}`;
}

/**
 * Chunking: size/overlap, then the unit (with its tokenizer) and the model's token limit (a longer
 * chunk is split before it is embedded, so the limit shapes chunk texts, not vectors).
 */
export function chunkLayerOf(settings: PipelineSettings): string {
  const { chunk } = settings;
  const tokenizer = chunk.tokenizer ?? "o200k_base";
  const unit = chunk.unit === "tokens" ? `/tokens:${tokenizer}` : "";
  const limit = chunk.maxTokens !== undefined ? `/max-tokens:${chunk.maxTokens}:${tokenizer}` : "";
  return `${chunk.size}/${chunk.overlap}${unit}${limit}`;
}

/**
 * What decides a text's vector: the model, its dimensions and who computes it. The built-in
 * embedder is its version and dimension; a local model is its id (name and digest of its files,
 * which fix the dimension); an endpoint is its model name and the endpoint's identity, so that the
 * same model name served by another provider is a different layer. The endpoint's dimension is its
 * model's: docbatch sends no dimension of its own.
 */
export function embedLayerOf(settings: PipelineSettings): string {
  const { embed } = settings;
  if (embed.kind === "local") return `local-hash-v1:${embed.dimensions}`;
  if (embed.kind === "model") return embed.id;
  return `http:${embed.model}@${endpointIdentity(embed.url)}`;
}

/** Query parameters that may carry a secret, left out of an endpoint's identity. */
const SECRET_PARAM = /key|token|secret|sig|pass|auth|credential|code/i;

/**
 * An endpoint URL as the layer names it: no credentials, no secret query parameters (an API key
 * rotated is the same endpoint; the layer is stored with the batch and shown), no fragment, the
 * other query parameters sorted (an `api-version` does choose the model's behaviour).
 */
export function endpointIdentity(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  const kept = [...parsed.searchParams].filter(([name]) => !SECRET_PARAM.test(name)).sort();
  parsed.search = new URLSearchParams(kept).toString();
  return parsed.toString();
}

export function settingsToJson(settings: PipelineSettings): JsonObject {
  return JSON.parse(JSON.stringify(settings)) as JsonObject;
}

export function settingsFromJson(json: JsonObject): PipelineSettings {
  const s = json as unknown as PipelineSettings;
  if (!s.chunk || !s.embed || typeof s.maxDocBytes !== "number") {
    throw new DocbatchError("INTERNAL", "the batch's stored settings are incomplete");
  }
  return s;
}

/**
 * The run's embedder. With `threads` (0: none), a local model computes on that many cores off the
 * main thread, and an endpoint's requests go from a thread of their own.
 */
export function createEmbedder(settings: EmbedSettings, maxSockets: number, threads = 0): Embedder {
  if (settings.kind === "local") return new LocalEmbedder(settings.dimensions);
  if (settings.kind === "model") return new ModelEmbedder(settings.dir, threads);
  const apiKey = process.env.DOCBATCH_EMBED_API_KEY;
  const options = {
    url: settings.url,
    model: settings.model,
    timeoutMs: settings.timeoutMs,
    maxSockets,
    ...(apiKey ? { apiKey } : {}),
  };
  // A run with threads sends its requests from a thread of their own (see ThreadedHttpEmbedder).
  return threads > 0 && ThreadedHttpEmbedder.available()
    ? new ThreadedHttpEmbedder(options)
    : new HttpEmbedder(options);
}
