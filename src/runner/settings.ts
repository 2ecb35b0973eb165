import { DocbatchError } from "../core/errors.js";
import type { JsonObject } from "../core/types.js";
import type { ChunkOptions } from "../pipeline/chunk.js";
import type { Embedder } from "../pipeline/embed/embedder.js";
import { HttpEmbedder } from "../pipeline/embed/http.js";
import { LocalEmbedder } from "../pipeline/embed/local.js";

/** Version of the processing itself; bump it when a stage changes its output. */
export const PIPELINE_VERSION = 1;

export type EmbedSettings =
  | { kind: "local"; dimensions: number }
  | { kind: "http"; url: string; model: string; timeoutMs: number };

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
  const embed =
    settings.embed.kind === "local"
      ? `local-hash-v1:${settings.embed.dimensions}`
      : `http:${settings.embed.model}`;
  return `docbatch/${PIPELINE_VERSION}|chunk:${settings.chunk.size}/${settings.chunk.overlap}|embed:${embed}`;
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

export function createEmbedder(settings: EmbedSettings, maxSockets: number): Embedder {
  if (settings.kind === "local") return new LocalEmbedder(settings.dimensions);
  const apiKey = process.env.DOCBATCH_EMBED_API_KEY;
  return new HttpEmbedder({
    url: settings.url,
    model: settings.model,
    timeoutMs: settings.timeoutMs,
    maxSockets,
    ...(apiKey ? { apiKey } : {}),
  });
}
