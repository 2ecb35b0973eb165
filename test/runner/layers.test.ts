import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/core/duration.js";
import { chunkTextHash } from "../../src/core/keys.js";
import { RunEmbedCache } from "../../src/runner/embed-cache.js";
import {
  embedLayerOf,
  endpointIdentity,
  layerOf,
  type PipelineSettings,
  stageLayersOf,
} from "../../src/runner/settings.js";

const http = (url: string, model = "m"): PipelineSettings => ({
  chunk: { size: 1000, overlap: 0 },
  embed: { kind: "http", url, model, timeoutMs: 1000 },
  maxDocBytes: 1,
});

describe("layers by stage", () => {
  it("names an endpoint without its credentials and secrets, keeping what chooses the model", () => {
    expect(
      endpointIdentity("https://user:pw@api.example.com/v1/embeddings?api_key=s&api-version=2024-02#x"),
    ).toBe("https://api.example.com/v1/embeddings?api-version=2024-02");
    expect(endpointIdentity("http://h/e?token=1&b=2&a=1&sig=3")).toBe("http://h/e?a=1&b=2");
  });

  it("changes the embedding layer, and only it, when the endpoint or the model changes", () => {
    const a = stageLayersOf(http("http://one/e"));
    const b = stageLayersOf(http("http://two/e"));
    const c = stageLayersOf(http("http://one/e", "other"));
    expect(b.embed).not.toBe(a.embed);
    expect(c.embed).not.toBe(a.embed);
    expect({ parse: b.parse, chunk: b.chunk }).toEqual({ parse: a.parse, chunk: a.chunk });
    expect(embedLayerOf(http("http://k:secret@one/e?key=1"))).toBe(a.embed);
    expect(layerOf(http("http://one/e"))).toBe(`${a.parse}|chunk:${a.chunk}|embed:${a.embed}`);
  });

  it("puts the chunker's options and the token limit in the chunk layer", () => {
    const base = http("http://one/e");
    const limited = { ...base, chunk: { ...base.chunk, maxTokens: 256 } };
    expect(stageLayersOf(limited).chunk).not.toBe(stageLayersOf(base).chunk);
    expect(stageLayersOf(limited).embed).toBe(stageLayersOf(base).embed);
  });
});

describe("parseDuration", () => {
  it("reads a whole number with its unit and refuses a bare number", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400_000);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("90m")).toBe(90 * 60_000);
    expect(() => parseDuration("30")).toThrow(/30d/);
    expect(() => parseDuration("-1d")).toThrow();
  });
});

describe("RunEmbedCache", () => {
  function fakeStore() {
    const stored = new Map<string, Float32Array>();
    const writes: number[] = [];
    return {
      stored,
      writes,
      async lookupVectors(_layer: string, hashes: string[]) {
        return new Map(hashes.flatMap((h) => (stored.has(h) ? [[h, stored.get(h)!] as const] : [])));
      },
      async storeVectors(_layer: string, entries: { hash: string; embedding: Float32Array }[]) {
        writes.push(entries.length);
        for (const e of entries) stored.set(e.hash, e.embedding);
        return entries.length;
      },
    };
  }

  it("finds answers queued for writing, writes them within milliseconds, and counts", async () => {
    const store = fakeStore();
    const cache = new RunEmbedCache(store, "L", true, (err) => {
      throw err;
    });
    const hashes = cache.hashesOf(["a", "b"]);
    expect(hashes[0]).toBe(chunkTextHash("a"));
    cache.remember(hashes, [new Float32Array([1]), new Float32Array([2])]);
    const vectors: (Float32Array | null)[] = [null, null, null];
    expect(await cache.fill([...hashes, chunkTextHash("c")], vectors)).toBe(2);
    expect(vectors[2]).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(store.writes).toEqual([2]);
    expect(cache.takeCounts()).toEqual({ embedded: 2, hits: 2 });
    expect(cache.takeCounts()).toEqual({ embedded: 0, hits: 0 });
  });

  it("looks nothing up with lookups off, and still stores answers", async () => {
    const store = fakeStore();
    const cache = new RunEmbedCache(store, "L", false, () => {});
    cache.remember(cache.hashesOf(["a"]), [new Float32Array([1])]);
    await cache.close();
    expect(store.stored.size).toBe(1);
    const vectors: (Float32Array | null)[] = [null];
    expect(await cache.fill(cache.hashesOf(["a"]), vectors)).toBe(0);
    expect(vectors[0]).toBeNull();
  });

  it("lets the documents that ask in one turn, or while a lookup is out, share the next one", async () => {
    const calls: string[][] = [];
    const store = {
      async lookupVectors(_layer: string, hashes: string[]) {
        calls.push(hashes);
        await new Promise((r) => setTimeout(r, 10));
        return new Map([[chunkTextHash("b"), new Float32Array([7])]]);
      },
      async storeVectors() {
        return 0;
      },
    };
    const cache = new RunEmbedCache(store, "L", true, () => {});
    const ask = (text: string) => {
      const vectors: (Float32Array | null)[] = [null];
      return cache.fill(cache.hashesOf([text]), vectors).then((hits) => ({ hits, vectors }));
    };
    // Two asks in one turn share a query; the next two, while it is out, share the one after it.
    const first = [ask("a"), ask("b")];
    await new Promise((r) => setTimeout(r, 2));
    const answers = await Promise.all([...first, ask("c"), ask("b")]);
    expect(calls.map((c) => c.length)).toEqual([2, 2]);
    expect(answers.map((a) => a.hits)).toEqual([0, 1, 0, 1]);
    expect(Array.from(answers[1]!.vectors[0]!)).toEqual([7]);
  });
});
