import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runArgs } from "../helpers/args.js";
import { runCli } from "../helpers/cli.js";
import { corpusOnDisk } from "../helpers/corpus.js";

// The readers run the compiled thread: dist/ is built first when stale (test/global-setup.ts).
const read = await import("../../dist/store/sqlite/read.js");

const sorted = (a: Float64Array) => Array.from(a).sort((x, y) => x - y);

describe("report facts read by several threads", () => {
  it("are the facts one thread reads, whatever the split of the rows", async () => {
    const { input, db: file } = corpusOnDisk({ count: 400, seed: 21, largeShare: 0 });
    // Two batches in one file, so that row ranges hold documents of the other batch as well.
    for (const id of ["a", "b"]) {
      const result = await runCli(
        runArgs(input, { db: file, batchId: id, json: false, inject: "parse=0.05", seed: 3 }),
      );
      expect(result.code, result.stderr).toBe(0);
    }
    const db = new Database(file, { readonly: true });
    try {
      const one = await read.documentFacts(db, "b", 0);
      expect(one.durations.length).toBe(400);
      for (const threads of [2, 3, 7]) {
        const many = await read.documentFacts(db, "b", 0, { file, threads, fromRows: 0 });
        expect(sorted(many.durations)).toEqual(sorted(one.durations));
        expect(sorted(many.commits)).toEqual(sorted(one.commits));
        for (const stage of ["parse", "clean", "chunk", "embed", "write"] as const) {
          expect(sorted(many.stages[stage])).toEqual(sorted(one.stages[stage]));
        }
        expect({ ...many, durations: 0, commits: 0, stages: 0 }).toEqual({
          ...one,
          durations: 0,
          commits: 0,
          stages: 0,
        });
      }
    } finally {
      db.close();
    }
  }, 60_000);
});
