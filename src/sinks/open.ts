import { DocbatchError } from "../core/errors.js";
import { JsonlSink } from "./jsonl/index.js";
import type { Sink } from "./sink.js";
import { parseSinkUri } from "./uri.js";

/**
 * What a process knows about sinks beyond the URIs the batch remembers: the URIs as given on the
 * command line (with their passwords) and library `Sink` objects, each under its remembered URI.
 */
export type SinkSources = Map<string, string | Sink>;

/** Adds `--sink` values (or Sink objects) to `sources`; returns their remembered URIs. */
export function addSinkSources(
  sources: SinkSources,
  sinks: (string | Sink)[],
  cwd = process.cwd(),
): string[] {
  return sinks.map((sink) => {
    const uri = typeof sink === "string" ? parseSinkUri(sink, cwd).uri : sink.uri;
    sources.set(uri, sink);
    return uri;
  });
}

/**
 * Opens the sink a batch remembers as `uri`. A library sink (any other scheme) can only be fed by a
 * process that was given its object.
 */
export async function openSink(uri: string, batchId: string, sources: SinkSources): Promise<Sink> {
  const given = sources.get(uri);
  if (given !== undefined && typeof given !== "string") return given;
  let parsed: ReturnType<typeof parseSinkUri>;
  try {
    parsed = parseSinkUri(given ?? uri);
  } catch {
    throw new DocbatchError(
      "SINK_NOT_CONFIGURED",
      `The sink ${uri} is a library object this process was not given.`,
      {
        hints: [
          "Deliver it from the program that owns the Sink object (runBatch or syncBatch with `sinks`).",
        ],
      },
    );
  }
  if (parsed.kind === "jsonl") return new JsonlSink(parsed.target);
  if (parsed.kind === "pgvector") {
    // Imported here: the pg client is loaded by those who use it.
    const { PgvectorSink } = await import("./pgvector/index.js");
    return new PgvectorSink({
      connectionString: parsed.target,
      table: parsed.table!,
      batchId,
      uri: parsed.uri,
    });
  }
  throw new DocbatchError("SINK_NOT_CONFIGURED", `The sink ${uri} is an in-memory sink of another process.`, {
    hints: ["Deliver it from the program that owns the Sink object."],
  });
}
