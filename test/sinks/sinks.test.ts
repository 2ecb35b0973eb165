import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JsonlSink, replayLog } from "../../src/sinks/jsonl/index.js";
import { MemorySink } from "../../src/sinks/memory/index.js";
import { PgvectorSink } from "../../src/sinks/pgvector/index.js";
import { parseSinkUri } from "../../src/sinks/uri.js";
import { tempDir } from "../helpers/cli.js";
import { sharedPglite } from "../helpers/pglite.js";
import { sinkConformance } from "./conformance.js";

const dir = tempDir("docbatch-sinks-");
let n = 0;

sinkConformance("memory", async () => new MemorySink());
sinkConformance("jsonl", async () => new JsonlSink(path.join(dir, `log-${n++}.jsonl`)));

const pglite = sharedPglite();
sinkConformance(
  "pgvector (PGlite)",
  async () =>
    new PgvectorSink({
      connectionString: pglite.url,
      table: `t${n}`,
      batchId: `b${n++}`,
      uri: "pgvector:test",
    }),
);

describe("jsonl change log", () => {
  it("continues seq after a restart and cuts a line torn by a crash (after multi-byte text)", async () => {
    const file = path.join(dir, "torn.jsonl");
    const first = new JsonlSink(file);
    await first.upsert([
      {
        key: "k:0",
        doc_id: "d",
        source: "s",
        chunk_index: 0,
        text: "批处理任务 ✓ multi-byte text",
        metadata: {},
        embedding: null,
      },
    ]);
    await first.close();
    fs.appendFileSync(file, '{"seq":2,"op":"upsert","key":"torn');
    const second = new JsonlSink(file);
    await second.delete([{ key: "k:0", doc_id: "d", source: "s", chunk_index: 0 }]);
    await second.close();
    const lines = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { seq: number; op: string });
    expect(lines.map((l) => [l.seq, l.op])).toEqual([
      [1, "upsert"],
      [2, "delete"],
    ]);
    expect((await replayLog(file)).size).toBe(0);
  });
});

describe("sink URIs", () => {
  it("are remembered without password, with absolute paths", () => {
    expect(parseSinkUri("jsonl:out/../log.jsonl", "/data").uri).toBe("jsonl:/data/log.jsonl");
    const pg = parseSinkUri("pgvector:postgres://u:secret@db:5432/rag?table=chunks");
    expect(pg.uri).toBe("pgvector:postgres://u@db:5432/rag?table=chunks");
    expect(pg.target).toContain("secret");
    expect(pg.table).toBe("chunks");
    expect(parseSinkUri("pgvector:postgres://u@db/rag").uri).toBe(
      "pgvector:postgres://u@db/rag?table=docbatch_chunks",
    );
    expect(() => parseSinkUri("s3://bucket")).toThrow(/jsonl:PATH/);
    expect(() => parseSinkUri("pgvector:postgres://u@db/rag?table=x;drop")).toThrow(/plain SQL name/);
  });
});

/** The system Postgres, when pgvector can be created there (it is not part of every install). */
async function pgvectorOnServer(): Promise<string | null> {
  const url = process.env.DOCBATCH_PG_URL;
  if (!url) return null;
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query("CREATE EXTENSION IF NOT EXISTS vector");
    return url;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

const serverUrl = await pgvectorOnServer();
if (serverUrl) {
  sinkConformance(
    "pgvector (DOCBATCH_PG_URL)",
    async () =>
      new PgvectorSink({
        connectionString: serverUrl,
        table: `docbatch_sink_test_${process.pid}_${n}`,
        batchId: `b${n++}`,
        uri: "pgvector:test",
      }),
  );
} else {
  describe("Sink conformance: pgvector (DOCBATCH_PG_URL)", () => {
    it.skip("needs a Postgres where CREATE EXTENSION vector works", () => {});
  });
}
