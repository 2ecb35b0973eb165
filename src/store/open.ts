import fs from "node:fs";
import path from "node:path";
import { batchNotFound, DocbatchError } from "../core/errors.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite/index.js";
import type { Store } from "./store.js";

export const DEFAULT_DB = path.join(".docbatch", "docbatch.db");

export interface StoreSpec {
  /** SQLite file. @default ".docbatch/docbatch.db" */
  db?: string;
  /** `postgres://…` (or the DOCBATCH_STORE environment variable). */
  url?: string;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

/**
 * The store a command names. `mustExist` is for commands that only read: they never create an
 * empty SQLite file where the user mistyped a path; `readonly` opens a SQLite file for reading
 * only, beside a process that writes it.
 */
export async function createStore(
  spec: StoreSpec,
  options: { mustExist?: boolean; readonly?: boolean; durability?: SqliteStoreOptions["durability"] } = {},
): Promise<Store> {
  const url = spec.url ?? (spec.db ? undefined : process.env.DOCBATCH_STORE);
  if (url !== undefined) {
    if (!isPostgresUrl(url)) {
      throw new DocbatchError("USAGE", `--store expects a postgres:// URL, got \`${url}\``, {
        details: [{ path: "--store", problem: "must start with postgres:// or postgresql://" }],
        hints: ["Use --db FILE for the embedded SQLite store."],
      });
    }
    // Imported only here: the pg client is loaded by those who use the Postgres store.
    const { PostgresStore } = await import("./postgres/index.js");
    return new PostgresStore({ url });
  }
  const file = path.resolve(spec.db ?? DEFAULT_DB);
  if (options.mustExist && !fs.existsSync(file)) {
    throw new DocbatchError("BATCH_NOT_FOUND", `No store at ${file}, so no batch either.`, {
      details: [{ path: "--db", problem: `${file} does not exist` }],
      hints: ["Pass the --db FILE the batch was run with."],
    });
  }
  return new SqliteStore({
    file,
    ...(options.readonly ? { readonly: true } : {}),
    ...(options.durability ? { durability: options.durability } : {}),
  });
}

/** @throws DocbatchError `BATCH_NOT_FOUND` when the store holds no such batch. */
export async function requireBatch(store: Store, batchId: string): Promise<void> {
  if ((await store.getBatch(batchId)) === null) throw batchNotFound(batchId);
}
