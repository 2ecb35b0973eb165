import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chunkFingerprint, type Sink, type SinkChunk } from "../../src/sinks/sink.js";

/**
 * One suite run against every sink: upserts and deletes by key, idempotent, in order, and `keys`
 * reports exactly what the sink holds (with text and vector where the sink keeps them).
 */
export function sinkConformance(name: string, factory: () => Promise<Sink>): void {
  describe(`Sink conformance: ${name}`, () => {
    let sink: Sink;
    beforeEach(async () => {
      sink = await factory();
    });
    afterEach(async () => {
      await sink.close?.();
    });

    const chunk = (doc: string, index: number, text = `${doc} chunk ${index}`): SinkChunk => ({
      key: `${doc}-key:${index}`,
      doc_id: doc,
      source: "s",
      chunk_index: index,
      text,
      metadata: { doc, nested: { n: index } },
      embedding: [index + 0.5, -1.25, 3.1],
    });

    async function held(): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for await (const r of sink.keys()) {
        expect(out.has(r.key), `key ${r.key} reported twice`).toBe(false);
        out.set(r.key, chunkFingerprint(r.text, r.embedding));
      }
      return out;
    }

    it("upserts by key, twice as once, and reports text and vector as given", async () => {
      const chunks = [chunk("a", 0), chunk("a", 1), chunk("b", 0)];
      await sink.upsert(chunks);
      await sink.upsert(chunks);
      const state = await held();
      expect([...state.keys()].sort()).toEqual(chunks.map((c) => c.key).sort());
      for (const c of chunks) expect(state.get(c.key)).toBe(chunkFingerprint(c.text, c.embedding));
    });

    it("replaces a key's content, deletes keys, and ignores keys it does not hold", async () => {
      await sink.upsert([chunk("a", 0), chunk("a", 1)]);
      await sink.upsert([chunk("a", 0, "new text")]);
      await sink.delete([{ key: "a-key:1", doc_id: "a", source: "s", chunk_index: 1 }]);
      await sink.delete([{ key: "zzz:0", doc_id: "zzz", source: "s", chunk_index: 0 }]);
      await sink.delete([]);
      await sink.upsert([]);
      const state = await held();
      expect([...state.entries()]).toEqual([
        ["a-key:0", chunkFingerprint("new text", chunk("a", 0).embedding)],
      ]);
    });

    it("keeps chunks without vectors", async () => {
      await sink.upsert([{ ...chunk("c", 0), embedding: null }]);
      const records = [];
      for await (const r of sink.keys()) records.push(r);
      expect(records).toHaveLength(1);
      expect(records[0]!.embedding ?? null).toBeNull();
    });
  });
}
