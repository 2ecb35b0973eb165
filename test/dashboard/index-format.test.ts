import { describe, expect, it } from "vitest";
import { problemOf } from "../../src/dashboard/format.js";
import {
  metadataText,
  scoreText,
  searchPath,
  searchSummary,
  sinksSummary,
  sinkView,
  snippet,
  withoutPassword,
} from "../../src/dashboard/index-format.js";
import type { SearchResponse, SinkStatus } from "../../src/dashboard/types.js";

const sink = (over: Partial<SinkStatus> = {}): SinkStatus => ({
  uri: "jsonl:/data/changes.jsonl",
  delivered_seq: 1200,
  head_seq: 1200,
  lag: 0,
  last_error: null,
  delivered_at: null,
  breaker: "closed",
  ...over,
});

const answer = (over: Partial<SearchResponse> = {}): SearchResponse => ({
  batch_id: "b",
  query: "lease",
  index: "sqlite-vec",
  results: [],
  ...over,
});

describe("the dashboard's search results", () => {
  it("asks for the batch's search with the query and k in the query string", () => {
    expect(searchPath("nightly 1/2", "a&b = c?", 5)).toBe(
      "/v1/batches/nightly%201%2F2/search?q=a%26b%20%3D%20c%3F&k=5",
    );
  });

  it("says how many chunks were found, and how", () => {
    const hit = {
      doc_id: "d",
      source: "s",
      chunk_index: 0,
      score: 1,
      text: "t",
      metadata: null,
      idempotency_key: "k",
    };
    expect(searchSummary(answer({ results: [hit] }))).toBe("1 chunk for “lease” · sqlite-vec index");
    expect(searchSummary(answer({ results: [hit, hit], index: "exact-scan" }))).toBe(
      "2 chunks for “lease” · exact scan (no vector index)",
    );
    expect(searchSummary(answer({ index: "pgvector" }))).toBe(
      "No chunk with a vector for “lease” · pgvector index",
    );
  });

  it("shows scores to three decimals, text on one line cut short, and metadata as pairs", () => {
    expect(scoreText(0.99987)).toBe("1.000");
    expect(scoreText(0.81234)).toBe("0.812");
    expect(scoreText(Number.NaN)).toBe("—");
    expect(snippet("one\n\n  two\tthree")).toBe("one two three");
    expect(snippet("abcdefghij", 6)).toBe("abcde…");
    expect(
      metadataText({
        title: "Guide",
        headings: ["Setup", "Store"],
        page_start: 3,
        headings_empty: [],
        lang: "en",
        extra: { a: 1 },
      }),
    ).toBe('title: Guide · headings: Setup › Store · page_start: 3 · lang: en · extra: {"a":1}');
    expect(metadataText(null)).toBe("");
  });

  it("keeps the error body's message and its hint", () => {
    const body = {
      error: {
        code: "INVALID_INPUT",
        message: "Invalid query parameters.",
        details: [{ path: "k", problem: "an integer from 1 to 1000" }],
        hints: ["Fix the problems listed in details and run again."],
      },
    };
    expect(problemOf(400, body)).toEqual({
      code: "INVALID_INPUT",
      message: "Invalid query parameters.",
      detail: "k: an integer from 1 to 1000",
      hint: "Fix the problems listed in details and run again.",
    });
    expect(problemOf(502, "<html>")).toEqual({ code: "HTTP 502", message: "", detail: null, hint: null });
  });
});

describe("the dashboard's sinks", () => {
  it("names a sink by kind and target, never with a password", () => {
    expect(withoutPassword("pgvector:postgres://app:s3cret@db:5432/rag?table=chunks")).toBe(
      "pgvector:postgres://app@db:5432/rag?table=chunks",
    );
    const v = sinkView(sink({ uri: "pgvector:postgres://app:s3cret@db/rag?table=chunks" }));
    expect(v.kind).toBe("pgvector");
    expect(v.target).toBe("postgres://app@db/rag?table=chunks");
    expect(JSON.stringify(v)).not.toContain("s3cret");
    expect(sinkView(sink()).target).toBe("/data/changes.jsonl");
  });

  it("shows lag, cursor and breaker, and a failing sink in red", () => {
    expect(sinkView(sink())).toMatchObject({
      lag: "0",
      cursor: "1,200 of 1,200",
      breaker: ["good", "closed"],
      tone: "good",
    });
    const behind = sinkView(sink({ delivered_seq: 200, lag: 1000 }));
    expect(behind).toMatchObject({ lag: "1,000", cursor: "200 of 1,200", tone: "run", error: "" });
    const down = sinkView(
      sink({
        delivered_seq: 200,
        lag: 1000,
        breaker: "open",
        last_error: { code: "SINK_UNAVAILABLE", message: "connection refused", at: null },
      }),
    );
    expect(down).toMatchObject({
      breaker: ["bad", "open"],
      tone: "bad",
      error: "SINK_UNAVAILABLE: connection refused",
    });
    expect(sinkView(sink({ breaker: "half-open" })).breaker).toEqual(["warn", "half-open"]);
    expect(sinkView(sink({ breaker: null })).breaker).toEqual(["", "not delivering"]);
  });

  it("sums the lag of the batch's sinks", () => {
    expect(sinksSummary([])).toBe("");
    expect(sinksSummary([sink()])).toBe("1 sink, caught up");
    expect(sinksSummary([sink({ lag: 3 }), sink({ lag: 1500 })])).toBe("2 sinks, 1,503 changes behind");
  });
});
