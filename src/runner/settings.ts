import { DocbatchError } from "../core/errors.js";
import type { JsonObject } from "../core/types.js";
import type { ChunkOptions } from "../pipeline/chunk.js";
import type { Embedder } from "../pipeline/embed/embedder.js";
import { HttpEmbedder } from "../pipeline/embed/http.js";
import { LocalEmbedder } from "../pipeline/embed/local.js";
import { ModelEmbedder } from "../pipeline/embed/model.js";

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

export function layerOf(settings: PipelineSettings): string {
  const { embed, chunk } = settings;
  const embedPart =
    embed.kind === "local"
      ? `local-hash-v1:${embed.dimensions}`
      : embed.kind === "model"
        ? embed.id
        : `http:${embed.model}`;
  // Chunking: size/overlap, then the unit (with its tokenizer) and the model's token limit.
  const tokenizer = chunk.tokenizer ?? "o200k_base";
  const unit = chunk.unit === "tokens" ? `/tokens:${tokenizer}` : "";
  const limit = chunk.maxTokens !== undefined ? `/max-tokens:${chunk.maxTokens}:${tokenizer}` : "";
  return `docbatch/${PIPELINE_VERSION}|chunk:${chunk.size}/${chunk.overlap}${unit}${limit}|embed:${embedPart}`;
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

/** The run's embedder; a local model computes on `threads` cores off the main thread (0: on it). */
export function createEmbedder(settings: EmbedSettings, maxSockets: number, threads = 0): Embedder {
  if (settings.kind === "local") return new LocalEmbedder(settings.dimensions);
  if (settings.kind === "model") return new ModelEmbedder(settings.dir, threads);
  const apiKey = process.env.DOCBATCH_EMBED_API_KEY;
  return new HttpEmbedder({
    url: settings.url,
    model: settings.model,
    timeoutMs: settings.timeoutMs,
    maxSockets,
    ...(apiKey ? { apiKey } : {}),
  });
}
