import { type CommandName, OPTIONS, type OptionSpec, optionsOf } from "./options.js";

/** What `--help` says around the option list, which comes from the option table. */
interface CommandText {
  usage: string;
  about: string;
  notes?: string;
}

const TEXTS: Record<CommandName, CommandText> = {
  run: {
    usage: "docbatch run INPUT [options]",
    about:
      "Plans the batch (or resumes it) and processes every unfinished document.\n" +
      "INPUT is a .json file, a .jsonl/.ndjson file, or a folder (every document file below it;\n" +
      "images, archives, executables and fonts are skipped and counted, not failed).",
    notes:
      "Exit codes: 0 done (completion >= 99% and every sink caught up), 3 finished below that or\n" +
      "with a sink still behind, 2 invalid input or usage, 1 internal error, 130/143 interrupted by\n" +
      "SIGINT/SIGTERM (run the same command to resume).",
  },
  submit: {
    usage: "docbatch submit INPUT --store URL [options]",
    about:
      "Validates and plans a batch without processing it, and prints its id: workers\n" +
      "(`docbatch worker --batch-id ID`) on any machine then share the work. Submitting the same\n" +
      "input again finishes an interrupted plan, or does nothing.",
  },
  worker: {
    usage: "docbatch worker --batch-id ID (--store URL | --db FILE) [options]",
    about:
      "Processes documents of a planned batch until none is left, sharing it with every other worker\n" +
      "of the same store, then exits. It shows the batch's progress and its own. Claims are leases\n" +
      "renewed by heartbeats: a worker that dies on the same host has its documents reclaimed by the\n" +
      "others within a second, elsewhere once its lease expires; a worker that wakes up after its\n" +
      "lease was taken cannot commit (its commits are fenced out and counted).",
  },
  serve: {
    usage: "docbatch serve [--port P] [--host H] [--db FILE | --store URL] [--token T] [options]",
    about:
      "Serves the HTTP API and the live dashboard (http://HOST:PORT/). Batches submitted over HTTP\n" +
      "are processed in the background; after a crash or restart, every unfinished one is resumed.\n" +
      "The output options apply to every batch submitted to this server.",
    notes: "SIGTERM or SIGINT stops accepting requests, checkpoints the running batches and exits.",
  },
  status: {
    usage: "docbatch status [--batch-id ID] [--db FILE] [--json]",
    about:
      "Counts by state, the failed and degraded documents with attempts and last error, and the\n" +
      "files skipped as not documents.",
  },
  report: {
    usage: "docbatch report [--batch-id ID] [--db FILE] [--json | --prometheus] [--html FILE]",
    about: "The metrics report of a batch across all its runs, computed from the store.",
  },
  export: {
    usage: "docbatch export [--batch-id ID] [--db FILE] [--with-embeddings]",
    about: "The batch's chunks as JSON Lines on stdout, ordered by doc_id then chunk_index.",
  },
  retry: {
    usage: "docbatch retry [--batch-id ID] [--db FILE] [--degraded] [--reason CODE]",
    about:
      "Puts failed documents (and with --degraded, degraded ones) back to pending; run the batch\n" +
      "again (`docbatch run INPUT`) to process them. Degraded documents keep their chunks until the\n" +
      "new ones replace them in one transaction.",
  },
  batches: {
    usage: "docbatch batches [--db FILE] [--json]",
    about: "The batches of a store with their counts, oldest first.",
  },
  demo: {
    usage: "docbatch demo [--keep DIR] [--threshold NAME=VALUE,...]",
    about:
      "The whole promise in one command, on the packaged examples/input_example.json: a first run\n" +
      "with 3% injected faults that is killed abruptly (SIGKILL) midway, a resumed run that\n" +
      "processes only what was unfinished, the report, and a checklist of measured thresholds.\n" +
      "Exit 0 when every check holds.",
  },
  search: {
    usage: "docbatch search QUERY [--batch-id ID] [--k N] [--db FILE | --store URL] [--json]",
    about:
      "The k chunks of the batch nearest to QUERY by cosine similarity, best first. QUERY is embedded\n" +
      "with the batch's own embedder and layer. SQLite stores search a sqlite-vec index kept with the\n" +
      "chunks; Postgres stores scan the batch's vectors exactly (the answer's `index` says which).\n" +
      "Chunks of documents completed without vectors are not searchable.",
    notes:
      'With --json: {"batch_id", "query", "results": [{"doc_id", "source", "chunk_index", "score",\n' +
      '"text", "metadata", "idempotency_key"}], "index"}.',
  },
  sync: {
    usage:
      "docbatch sync [--batch-id ID] [--db FILE | --store URL] [--sink URI ...] [--timeout-ms N] [--json]",
    about:
      "Delivers to the batch's sinks what they have not received yet (after a run that exited 3\n" +
      "because a sink was behind, or to a sink attached with --sink). Exit 0 when every sink caught\n" +
      "up, else 3.",
  },
  gc: {
    usage: "docbatch gc [--db FILE | --store URL] [--older-than DURATION] [--json]",
    about:
      "Removes the embedding cache entries that no batch's committed chunks use under that batch's\n" +
      "embedding layer (a text met again is then embedded again), and with --older-than the events\n" +
      "and failed-attempt records older than that. Documents, their chunks and their last errors\n" +
      "stay. Prints what it removed.",
    notes:
      'With --json: {"cache_entries_removed", "cache_entries_kept", "events_removed", "failures_removed"}.',
  },
  verify: {
    usage: "docbatch verify [--batch-id ID] --sink URI [--repair] [--db FILE | --store URL] [--json]",
    about:
      "Compares what the sink holds for the batch with the store, key by key (and a digest of each\n" +
      'chunk\'s text and vector): {"sink", "expected", "found", "missing", "extra", "mismatched",\n' +
      '"repaired"}. Exit 0 when missing, extra and mismatched are all 0, else 3.',
  },
  plan: {
    usage: "docbatch plan INPUT [run's options] [--sync full] [--price-per-million-tokens X] [--json]",
    about:
      "Prints what `docbatch run` would do with INPUT, writing nothing (the store is opened read-only\n" +
      "and not created) and calling no embedder: new, changed, unchanged, deleted (with --sync full)\n" +
      "and duplicate documents, the chunks of the new and changed ones, the chunks to embed after\n" +
      "the cache, and their estimated tokens (and cost, with a price). It takes every option of run,\n" +
      "so a run command becomes its plan by its first word; those that shape no plan (logging,\n" +
      "progress, leases, sink waits) are accepted and have no effect.",
    notes: "Exit codes: 0 planned, 2 invalid input or usage (the same errors as run), 1 internal error.",
  },
  delete: {
    usage: "docbatch delete --batch-id ID [--db FILE | --store URL] [--drop-sinks] [--json]",
    about:
      "Deletes a batch with all it owns: documents, chunks, search index rows, outbox, sink cursors,\n" +
      "events, failures, runs and settings. Its chunks leave its sinks first: every sink receives\n" +
      "their deletes (--drop-sinks skips that and leaves the sinks as they are). A delete stopped\n" +
      "midway (a sink down, a kill) is finished by running it again.",
    notes:
      "Exit codes: 0 deleted, 2 unknown batch (BATCH_NOT_FOUND) or a batch still being processed\n" +
      "(BATCH_RUNNING), 1 a sink that did not receive the deletes (SINKS_BEHIND; the batch is kept).",
  },
};

const FLAG_COLUMN = 27;
const WIDTH = 100;

/** The `--help` of a command: its usage, what it does, and every option it accepts. */
export function helpText(command: CommandName): string {
  const text = TEXTS[command];
  const lines = [text.usage, "", text.about, ""];
  for (const spec of optionsOf(command)) lines.push(...optionLines(spec));
  if (text.notes) lines.push("", text.notes);
  return lines.join("\n");
}

/** `--name ARG` as typed, e.g. `--include GLOB`. */
export function flagLabel(spec: OptionSpec): string {
  return `--${spec.name}${spec.arg ? ` ${spec.arg}` : ""}${spec.short ? `, -${spec.short}` : ""}`;
}

/** The help sentence with its default, as in help and the README. */
export function describeOption(spec: OptionSpec): string {
  const repeat = spec.kind === "list" && !spec.help.includes("repeatable") ? " (repeatable)" : "";
  return spec.default === undefined
    ? `${spec.help}${repeat}`
    : `${spec.help}${repeat} (default ${spec.default})`;
}

function optionLines(spec: OptionSpec): string[] {
  const label = `  ${flagLabel(spec)}`;
  const words = describeOption(spec).split(" ");
  const lines: string[] = [];
  let current = label.length + 1 >= FLAG_COLUMN ? label : label.padEnd(FLAG_COLUMN);
  if (current === label) {
    lines.push(label);
    current = " ".repeat(FLAG_COLUMN);
  }
  let empty = true;
  for (const word of words) {
    if (!empty && current.length + 1 + word.length > WIDTH) {
      lines.push(current);
      current = " ".repeat(FLAG_COLUMN);
      empty = true;
    }
    current += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(current);
  return lines;
}

/** Prints a command's help on stdout; its exit code is 0. */
export function printHelp(command: CommandName): number {
  process.stdout.write(`${helpText(command)}\n`);
  return 0;
}

/**
 * The README's option tables (between `<!-- options:NAME -->` markers): `run` lists the options of
 * `run`; `others` the options of the other commands that `run` does not take.
 */
export function optionsMarkdown(table: "run" | "others"): string {
  const all = OPTIONS as readonly OptionSpec[];
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  if (table === "run") {
    const rows = optionsOf("run")
      .filter((o) => o.name !== "help")
      .map(
        (o) =>
          `| \`${flagLabel(o)}\` | ${o.default === undefined ? "" : cell(String(o.default))} | ${o.layer ?? ""} | ${cell(o.help)} |`,
      );
    return ["| option | default | layer | meaning |", "|---|---|---|---|", ...rows].join("\n");
  }
  const rows = all
    .filter((o) => !o.commands.includes("run"))
    .map(
      (o) =>
        `| \`${flagLabel(o)}\` | ${o.commands.join(", ")} | ${o.default === undefined ? "" : cell(String(o.default))} | ${cell(o.help)} |`,
    );
  return ["| option | commands | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** Replaces every `<!-- options:NAME -->` … `<!-- /options:NAME -->` region of `text`. */
export function withOptionTables(text: string): string {
  return text.replace(
    /(<!-- options:(run|others) -->\n)[\s\S]*?(<!-- \/options:\2 -->)/g,
    (_all, open: string, name: "run" | "others", close: string) =>
      `${open}${optionsMarkdown(name)}\n${close}`,
  );
}
