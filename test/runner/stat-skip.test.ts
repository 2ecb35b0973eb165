import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runBatch } from "../../src/runner/run-batch.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { ExportRow, Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";

/**
 * Files skipped by stat: a re-run does not open a file whose size, modification time and inode
 * are unchanged, even when its bytes changed (the documented trade-off, as in make and rsync);
 * `--rehash` reads every file. Opens are counted on the one file reader's `open`.
 */

const PG = pgUrl();
const schemas: string[] = [];
afterAll(async () => {
  if (PG) await dropSchemas(PG, schemas);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const MTIME = 1_700_000_000;

function writeFile(file: string, text: string): void {
  fs.writeFileSync(file, text);
  fs.utimesSync(file, MTIME, MTIME);
}

function openStore(kind: string, dir: string): Store {
  if (kind === "sqlite") return new SqliteStore({ file: path.join(dir, "store.db"), durability: "normal" });
  const fresh = freshSchemaUrl(PG!, "stat");
  schemas.push(fresh.schema);
  return new PostgresStore({ url: fresh.url });
}

/** Counts opens of files whose name ends with `name` during `fn`. */
async function opensOf<T>(name: string, fn: () => Promise<T>): Promise<{ opens: number; result: T }> {
  const real = fs.promises.open;
  let opens = 0;
  vi.spyOn(fs.promises, "open").mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    if (String(file).endsWith(name)) opens += 1;
    return (real as (...args: unknown[]) => Promise<fs.promises.FileHandle>)(file, ...rest);
  }) as typeof fs.promises.open);
  const result = await fn();
  vi.restoreAllMocks();
  return { opens, result };
}

async function texts(store: Store, batchId: string): Promise<Map<string, string>> {
  const rows: ExportRow[] = [];
  for await (const row of store.exportChunks(batchId)) rows.push(row);
  return new Map(rows.map((r) => [r.doc_id, r.text]));
}

const INPUTS = [
  {
    shape: "a folder",
    /** The input to run, and the file of document `b`. */
    make(dir: string): { input: string; file: string; id: string } {
      const folder = path.join(dir, "docs");
      fs.mkdirSync(folder);
      for (const name of ["a", "b", "c"])
        writeFile(path.join(folder, `${name}.txt`), `file ${name} says hello\n`);
      return { input: folder, file: path.join(folder, "b.txt"), id: "b.txt" };
    },
  },
  {
    shape: "path documents of a JSONL input",
    make(dir: string): { input: string; file: string; id: string } {
      const lines: string[] = [];
      for (const name of ["a", "b", "c"]) {
        writeFile(path.join(dir, `${name}.txt`), `file ${name} says hello\n`);
        lines.push(JSON.stringify({ id: name, path: `${name}.txt` }));
      }
      lines.push(JSON.stringify({ id: "inline", content: "no file here" }));
      const input = path.join(dir, "docs.jsonl");
      fs.writeFileSync(input, `${lines.join("\n")}\n`);
      return { input, file: path.join(dir, "b.txt"), id: "b" };
    },
  },
];

const KINDS = ["sqlite", ...(PG ? ["postgres"] : [])];

describe.each(KINDS)("files skipped by stat (%s)", (kind) => {
  it.each(INPUTS)(
    "does not read an unchanged file of $shape unless --rehash",
    async ({ make }) => {
      const dir = tempDir("docbatch-stat-");
      const { input, file, id } = make(dir);
      const store = openStore(kind, dir);
      await store.open();
      try {
        const run = (extra: { rehash?: boolean } = {}) =>
          runBatch({ input, store, batchId: "s", threads: 0, ...extra });
        const first = await opensOf(path.basename(file), () => run());
        expect(first.opens).toBe(1);
        expect(first.result.exitCode).toBe(0);

        // Same size, same modification time, same inode: rewritten in place.
        const fd = fs.openSync(file, "r+");
        fs.writeSync(fd, "FILE", 0);
        fs.closeSync(fd);
        fs.utimesSync(file, MTIME, MTIME);
        const again = await opensOf(path.basename(file), () => run());
        expect(again.opens).toBe(0);
        expect((await texts(store, "s")).get(id)).toContain("file b says");

        const rehashed = await opensOf(path.basename(file), () => run({ rehash: true }));
        expect(rehashed.opens).toBe(1);
        expect(rehashed.result.report.counts.changed).toBe(1);
        expect((await texts(store, "s")).get(id)).toContain("FILE b says");

        // A new modification time is seen without --rehash.
        writeFile(file, "file b says goodbye\n");
        fs.utimesSync(file, MTIME + 10, MTIME + 10);
        const touched = await opensOf(path.basename(file), () => run());
        expect(touched.opens).toBe(1);
        expect((await texts(store, "s")).get(id)).toContain("goodbye");
      } finally {
        await store.close();
      }
    },
    60_000,
  );
});
