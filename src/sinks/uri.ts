import { DocbatchError } from "../core/errors.js";

/**
 * Sink URIs. A batch remembers its sinks by URI so that resumes, workers and `docbatch sync`
 * deliver to them without the flag; what it remembers never holds a password: the password comes
 * from the URI given in the same process, else from DOCBATCH_SINK_PASSWORD, else from PGPASSWORD
 * (which the Postgres client reads by itself).
 */

export type SinkKind = "jsonl" | "pgvector" | "memory";

export interface ParsedSinkUri {
  kind: SinkKind;
  /** The URI as the batch remembers it (password removed, jsonl paths made absolute). */
  uri: string;
  /** The jsonl path, or the postgres:// connection string (with its password, if one was given). */
  target: string;
  /** The pgvector table (`?table=`, default `docbatch_chunks`). */
  table?: string;
}

export const DEFAULT_PGVECTOR_TABLE = "docbatch_chunks";

export function parseSinkUri(raw: string, cwd = process.cwd()): ParsedSinkUri {
  const colon = raw.indexOf(":");
  const scheme = colon > 0 ? raw.slice(0, colon) : "";
  const rest = raw.slice(colon + 1);
  if (scheme === "jsonl" && rest.length > 0) {
    const path = rest.startsWith("/") ? rest : `${cwd.replace(/\/$/, "")}/${rest}`;
    return { kind: "jsonl", uri: `jsonl:${normalizePath(path)}`, target: normalizePath(path) };
  }
  if (scheme === "memory" && rest.length > 0) return { kind: "memory", uri: raw, target: rest };
  if (scheme === "pgvector" && /^postgres(ql)?:\/\//.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw badSink(raw, "the part after pgvector: is not a valid postgres:// URL");
    }
    const table = url.searchParams.get("table") ?? DEFAULT_PGVECTOR_TABLE;
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
      throw badSink(
        raw,
        `table must be a plain SQL name (letters, digits, _; optionally schema.table), got ${JSON.stringify(table)}`,
      );
    }
    const connection = new URL(url.toString());
    connection.searchParams.delete("table");
    const remembered = new URL(url.toString());
    remembered.password = "";
    remembered.searchParams.set("table", table);
    return {
      kind: "pgvector",
      uri: `pgvector:${remembered.toString()}`,
      target: connection.toString(),
      table,
    };
  }
  throw badSink(raw, "expected jsonl:PATH or pgvector:postgres://…[?table=T]");
}

/** The URI a batch remembers for `raw`. */
export function rememberedSinkUri(raw: string, cwd = process.cwd()): string {
  return parseSinkUri(raw, cwd).uri;
}

function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

function badSink(raw: string, problem: string): DocbatchError {
  return new DocbatchError("USAGE", `--sink ${JSON.stringify(redact(raw))}: ${problem}.`, {
    details: [{ path: "--sink", problem }],
    hints: ["Use --sink jsonl:PATH (a change log) or --sink pgvector:postgres://user@host/db?table=T."],
  });
}

/** A URI for messages: any password replaced. */
export function redact(raw: string): string {
  return raw.replace(/(\/\/[^:/@]+:)[^@/]*@/, "$1***@");
}
