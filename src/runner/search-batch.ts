import { DocbatchError } from "../core/errors.js";
import type { SearchHit } from "../store/index-store.js";
import { requireBatch } from "../store/open.js";
import type { Store } from "../store/store.js";
import { createEmbedder, settingsFromJson } from "./settings.js";

/** The contract's answer of `docbatch search` and `GET /v1/batches/:id/search`. */
export interface SearchResponse {
  batch_id: string;
  query: string;
  results: SearchHit[];
  /** How the neighbours were found: `sqlite-vec`, `pgvector`, or `exact-scan` (no vector index). */
  index: string;
}

export interface SearchOptions {
  store: Store;
  batchId: string;
  query: string;
  /** Results, 1 to 1000. @default 5 */
  k?: number;
  /** Time limit of the query's embedding request, in ms. @default the batch's setting */
  embedTimeoutMs?: number;
}

export const MAX_SEARCH_K = 1_000;
const TIE_CANDIDATES = 16;

/**
 * Embeds the query with the batch's own embedder and layer (the settings it was planned with), so
 * the query and the chunks live in one vector space, and returns the k nearest chunks by cosine
 * similarity, best first. A query equal to a chunk's text gets that chunk's own vector, and so
 * that chunk first.
 */
export async function searchBatch(options: SearchOptions): Promise<SearchResponse> {
  const { store, batchId, query } = options;
  const k = options.k ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > MAX_SEARCH_K) {
    throw new DocbatchError(
      "USAGE",
      `Expected \`k\` to be an integer from 1 to ${MAX_SEARCH_K}, got \`${k}\``,
      {
        details: [{ path: "k", problem: `must be an integer from 1 to ${MAX_SEARCH_K}` }],
      },
    );
  }
  if (query.trim() === "") {
    throw new DocbatchError("USAGE", "The search query is empty.", {
      details: [{ path: "query", problem: "required" }],
      hints: ['Give the text to search for: docbatch search "QUERY" --batch-id ID.'],
    });
  }
  await requireBatch(store, batchId);
  const settings = settingsFromJson((await store.getBatch(batchId))!.settings);
  const embed =
    settings.embed.kind === "http" && options.embedTimeoutMs !== undefined
      ? { ...settings.embed, timeoutMs: options.embedTimeoutMs }
      : settings.embed;
  const embedder = createEmbedder(embed, 2);
  try {
    const timeoutMs = embed.kind === "http" ? embed.timeoutMs : 30_000;
    const [vector] = await embedder.embed([query], AbortSignal.timeout(timeoutMs));
    // A few more candidates than asked: chunks with equal vectors (the same words in another order,
    // for a bag-of-words model) tie, and among tied chunks the one whose text is the query wins.
    const result = await store.search(batchId, vector!, Math.min(MAX_SEARCH_K, k + TIE_CANDIDATES));
    const results = result.hits
      .map((hit, rank) => ({ hit, rank, exact: hit.text.trim() === query.trim() }))
      .sort((a, b) =>
        Math.abs(a.hit.score - b.hit.score) < 1e-6
          ? Number(b.exact) - Number(a.exact) || a.rank - b.rank
          : a.rank - b.rank,
      )
      .slice(0, k)
      .map((r) => r.hit);
    return { batch_id: batchId, query, results, index: result.index };
  } finally {
    await embedder.close();
  }
}
