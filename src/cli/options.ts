import { DEFAULTS } from "../runner/defaults.js";
import { DEFAULT_DB } from "../store/open.js";

/**
 * Every option of every command, in one table. Flag parsing (src/cli/args.ts), each command's
 * `--help` (src/cli/help.ts) and the option tables of the README (`npm run docs:options`) are
 * generated from it, and test/cli/options.test.ts fails when any of them drifts. Adding an option is
 * one entry here: its value reaches the library under `key` when its group is `process`, `output`
 * or `input` (the options `runBatch`, `resumeBatch` and the server take), and the command reads it
 * itself otherwise.
 */

export type CommandName =
  | "run"
  | "submit"
  | "worker"
  | "serve"
  | "status"
  | "report"
  | "export"
  | "retry"
  | "batches"
  | "demo"
  | "search"
  | "sync"
  | "verify"
  | "plan"
  | "delete";

export type OptionKind = "int" | "number" | "string" | "boolean" | "list" | "enum";

/**
 * What an option is for. `process`: how documents are processed (never the output); `output`:
 * options that shape the output of a new plan (stored with the batch); `input`: which files of a
 * folder are documents; `store`, `display`, `server`, `command`: read by the command itself.
 */
export type OptionGroup = "store" | "input" | "process" | "output" | "display" | "server" | "command";

export interface OptionSpec {
  /** The flag without its dashes. */
  readonly name: string;
  /** The value's name in the parsed values (and in the library's options for library groups). */
  readonly key: string;
  readonly kind: OptionKind;
  /** The placeholder of the value in help (`N`, `URL`). */
  readonly arg?: string;
  readonly choices?: readonly string[];
  /** The default as it runs; a string describes a computed one. Absent: off, or none. */
  readonly default?: string | number;
  readonly help: string;
  readonly commands: readonly CommandName[];
  readonly group: OptionGroup;
  /** The stage whose output it shapes: part of the layer, so changing it reprocesses. */
  readonly layer?: "parse" | "chunk" | "embed";
  readonly short?: string;
}

/** Documents (and skipped files) `status` lists of each kind. */
export const STATUS_LIST_LIMIT = 20;

const PROCESSING = ["run", "worker", "serve", "plan"] as const;
const PLANNING = ["run", "submit", "serve", "plan"] as const;
const INSPECTING = ["status", "report", "export", "retry", "search", "sync", "verify"] as const;
const EVERY_STORE = [
  "run",
  "submit",
  "worker",
  "serve",
  "status",
  "report",
  "export",
  "retry",
  "batches",
  "search",
  "sync",
  "verify",
  "plan",
  "delete",
] as const;

export const OPTIONS = [
  // Where the batch lives.
  {
    name: "db",
    key: "db",
    kind: "string",
    arg: "FILE",
    default: DEFAULT_DB,
    help: "the SQLite store: checkpoints and output",
    commands: EVERY_STORE,
    group: "store",
  },
  {
    name: "store",
    key: "store",
    kind: "string",
    arg: "URL",
    help: "a shared Postgres store instead of --db (postgres://user@host/db[?schema=name], or DOCBATCH_STORE): any number of workers share its batches",
    commands: EVERY_STORE,
    group: "store",
  },
  {
    name: "batch-id",
    key: "batchId",
    kind: "string",
    arg: "ID",
    default: "the input's batch_id, else the input's name",
    help: "the batch to plan and process; a folder's name gets a suffix only when another input already uses it",
    commands: ["run", "submit", "plan"],
    group: "store",
  },
  {
    name: "batch-id",
    key: "batchId",
    kind: "string",
    arg: "ID",
    default: "the store's only batch, else its latest",
    help: "the batch; the batch picked by default is named on stderr",
    commands: [...INSPECTING],
    group: "store",
  },
  {
    name: "batch-id",
    key: "batchId",
    kind: "string",
    arg: "ID",
    help: "the planned batch to work on (required)",
    commands: ["worker"],
    group: "store",
  },
  {
    name: "batch-id",
    key: "batchId",
    kind: "string",
    arg: "ID",
    help: "the batch to delete (required)",
    commands: ["delete"],
    group: "store",
  },

  // Which files of a folder are documents.
  {
    name: "include",
    key: "include",
    kind: "list",
    arg: "GLOB",
    help: "only files matching GLOB (repeatable; relative to the folder, `**` for any depth, e.g. 'docs/**/*.md')",
    commands: [...PLANNING],
    group: "input",
  },
  {
    name: "exclude",
    key: "exclude",
    kind: "list",
    arg: "GLOB",
    help: "leave out files matching GLOB (repeatable; wins over --include); a .docbatchignore in the folder (gitignore syntax) adds its own",
    commands: [...PLANNING],
    group: "input",
  },
  {
    name: "max-doc-bytes",
    key: "maxDocBytes",
    kind: "int",
    arg: "N",
    default: DEFAULTS.maxDocBytes,
    help: "larger documents end failed with DOC_TOO_LARGE",
    commands: [...PLANNING],
    group: "output",
  },

  {
    name: "sync",
    key: "sync",
    kind: "enum",
    arg: "MODE",
    choices: ["accumulate", "full"],
    default: "accumulate",
    help: "full: once the whole input is planned, documents of the batch that the input no longer holds end deleted (their chunks leave the export, search and every sink); accumulate: they keep their output. Not part of the layer",
    commands: ["run", "submit", "plan"],
    group: "input",
  },
  {
    name: "rehash",
    key: "rehash",
    kind: "boolean",
    help: "read every file again; by default a file whose size, modification time and inode are unchanged is not read (as in make and rsync)",
    commands: ["run", "submit", "plan"],
    group: "input",
  },

  // What the output is: part of the layer.
  {
    name: "chunk-size",
    key: "chunkSize",
    kind: "int",
    arg: "N",
    default: DEFAULTS.chunkSize,
    help: "largest chunk in --chunk-unit units",
    commands: [...PLANNING],
    group: "output",
    layer: "chunk",
  },
  {
    name: "chunk-overlap",
    key: "chunkOverlap",
    kind: "int",
    arg: "N",
    default: DEFAULTS.chunkOverlap,
    help: "units repeated between neighbouring chunks, below --chunk-size / 2",
    commands: [...PLANNING],
    group: "output",
    layer: "chunk",
  },
  {
    name: "chunk-unit",
    key: "chunkUnit",
    kind: "enum",
    arg: "UNIT",
    choices: ["chars", "tokens"],
    default: "chars",
    help: "what chunk sizes count: characters (UTF-16 code units) or tokens of --tokenizer",
    commands: [...PLANNING],
    group: "output",
    layer: "chunk",
  },
  {
    name: "tokenizer",
    key: "tokenizer",
    kind: "enum",
    arg: "NAME",
    choices: ["o200k_base", "cl100k_base"],
    default: "o200k_base",
    help: "the tokenizer of --chunk-unit tokens and --embed-max-tokens (shipped with docbatch, nothing is downloaded)",
    commands: [...PLANNING],
    group: "output",
    layer: "chunk",
  },
  {
    name: "embed-url",
    key: "embedUrl",
    kind: "string",
    arg: "URL",
    default: "the built-in local embedder",
    help: "an OpenAI-compatible embeddings endpoint; its API key is read from DOCBATCH_EMBED_API_KEY. The built-in embedder hashes words: it is not a semantic model",
    commands: [...PLANNING],
    group: "output",
    layer: "embed",
  },
  {
    name: "embed-model",
    key: "embedModel",
    kind: "string",
    arg: "NAME",
    default: DEFAULTS.embedModel,
    help: "model name sent to --embed-url",
    commands: [...PLANNING],
    group: "output",
    layer: "embed",
  },
  {
    name: "embed-model-dir",
    key: "embedModelDir",
    kind: "string",
    arg: "DIR",
    help: "a local ONNX sentence-embedding model (config.json, tokenizer.json, onnx/model.onnx) run offline on the CPU; needs the optional packages @huggingface/transformers and onnxruntime-node",
    commands: [...PLANNING],
    group: "output",
    layer: "embed",
  },
  {
    name: "embed-max-tokens",
    key: "embedMaxTokens",
    kind: "int",
    arg: "N",
    help: "the model's input limit in tokens of --tokenizer: longer chunks are split before embedding, never truncated",
    commands: [...PLANNING],
    group: "output",
    layer: "embed",
  },

  // How documents are processed: never part of the layer.
  {
    name: "concurrency",
    key: "concurrency",
    kind: "int",
    arg: "N",
    default: DEFAULTS.concurrency,
    help: "documents in flight at once",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "threads",
    key: "threads",
    kind: "int",
    arg: "N",
    default: "the number of cores; 0 on one core",
    help: "worker threads for parsing, cleaning, chunking and the local embedder; 0 keeps them on the main thread",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "embed-concurrency",
    key: "embedConcurrency",
    kind: "int",
    arg: "N",
    default: `min(--concurrency, ${DEFAULTS.embedConcurrencyCap})`,
    help: "embedding requests in flight at once; texts of several documents share a request",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "embed-batch-size",
    key: "embedBatchSize",
    kind: "int",
    arg: "N",
    default: DEFAULTS.embedBatchSize,
    help: "chunk texts per embedding request",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "embed-timeout-ms",
    key: "embedTimeoutMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.embedTimeoutMs,
    help: "time limit of one embedding request",
    commands: ["run", "submit", "worker", "serve"],
    group: "process",
  },
  {
    name: "max-attempts",
    key: "maxAttempts",
    kind: "int",
    arg: "N",
    default: DEFAULTS.maxAttempts,
    help: "attempts per document and stage before the fallback path",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "base-delay-ms",
    key: "baseDelayMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.baseDelayMs,
    help: "first retry delay; delays double up to --max-delay-ms, plus jitter",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "max-delay-ms",
    key: "maxDelayMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.maxDelayMs,
    help: "cap of the exponential backoff",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "doc-timeout-ms",
    key: "docTimeoutMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.docTimeoutMs,
    help: "time limit of one document's attempt, 0 for none",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "breaker-max-wait-ms",
    key: "breakerMaxWaitMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.breakerMaxWaitMs,
    help: "longest wait for an open circuit breaker before a document completes without vectors",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "max-fail-rate",
    key: "maxFailRate",
    kind: "number",
    arg: "R",
    help: "stop early (exit 3, resumable) once more than R of the documents settled in the run failed",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "lease-ms",
    key: "leaseMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.leaseMs,
    help: "how long a claimed document is held without a heartbeat; a dead worker's documents on another host are reclaimed after it",
    commands: ["run", "submit", "worker", "serve"],
    group: "process",
  },
  {
    name: "store-retry-ms",
    key: "storeRetryMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.storeRetryMs,
    help: "how long each store call is retried while the store is unreachable (a database restart, a lost connection, a busy SQLite file), with a line on stderr saying so; past it the run stops, resumable",
    commands: ["run", "submit", "worker", "serve"],
    group: "process",
  },
  {
    name: "worker-id",
    key: "workerId",
    kind: "string",
    arg: "NAME",
    default: "HOST:PID",
    help: "the name this process reports as a worker",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "inject",
    key: "inject",
    kind: "string",
    arg: "SPEC",
    help: "fault injection, e.g. parse=0.03,embed=0.02,timeout=0.01,crash=0.001 (probability per attempt)",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "seed",
    key: "seed",
    kind: "int",
    arg: "N",
    default: DEFAULTS.seed,
    help: "seed of the fault injection",
    commands: PROCESSING,
    group: "process",
  },
  {
    name: "log-file",
    key: "logFile",
    kind: "string",
    arg: "FILE",
    help: "JSON-lines log of every state change, retry, failure and fallback",
    commands: ["run", "submit", "worker", "serve", "sync"],
    group: "process",
  },
  {
    name: "log-level",
    key: "logLevel",
    kind: "enum",
    arg: "LEVEL",
    choices: ["trace", "debug", "info", "warn", "error"],
    default: DEFAULTS.logLevel,
    help: "trace, debug (adds every claim), info, warn or error",
    commands: ["run", "submit", "worker", "serve", "sync"],
    group: "process",
  },
  {
    name: "durability",
    key: "durability",
    kind: "enum",
    arg: "MODE",
    choices: ["full", "normal"],
    default: DEFAULTS.durability,
    help: "full syncs every commit to disk; normal survives a crash of the process but may redo the last commits after a power loss",
    commands: ["run"],
    group: "store",
  },

  // What the command prints.
  {
    name: "sink",
    key: "sinks",
    kind: "list",
    arg: "URI",
    help: "deliver the output to a sink: jsonl:PATH (a change log) or pgvector:postgres://user@host/db?table=T; the batch remembers its sinks (without password: give it in the URL, DOCBATCH_SINK_PASSWORD or PGPASSWORD)",
    commands: ["run", "submit", "worker", "serve", "plan"],
    group: "process",
  },
  {
    name: "sink-wait-ms",
    key: "sinkWaitMs",
    kind: "int",
    arg: "N",
    default: 30000,
    help: "at the end, wait up to N ms for the sinks to catch up; exit 3 when they did not (`docbatch sync` delivers the rest)",
    commands: ["run", "worker", "serve"],
    group: "process",
  },
  {
    name: "k",
    key: "k",
    kind: "int",
    arg: "N",
    default: 5,
    help: "results, 1 to 1000",
    commands: ["search"],
    group: "command",
  },
  {
    name: "sink",
    key: "sinks",
    kind: "list",
    arg: "URI",
    help: "attach a sink and deliver the batch's whole output to it",
    commands: ["sync"],
    group: "command",
  },
  {
    name: "detach",
    key: "detach",
    kind: "list",
    arg: "URI",
    help: "forget a sink of the batch; what it holds is left as it is",
    commands: ["sync"],
    group: "command",
  },
  {
    name: "timeout-ms",
    key: "timeoutMs",
    kind: "int",
    arg: "N",
    default: 600000,
    help: "give up delivering after N ms",
    commands: ["sync", "delete"],
    group: "command",
  },
  {
    name: "drop-sinks",
    key: "dropSinks",
    kind: "boolean",
    help: "delete without delivering the deletes to the batch's sinks (they keep what they hold); by default every sink receives them first",
    commands: ["delete"],
    group: "command",
  },
  {
    name: "price-per-million-tokens",
    key: "pricePerMillionTokens",
    kind: "number",
    arg: "X",
    help: "the embedding price per million tokens: adds estimated_cost (estimated_tokens / 1e6 × X)",
    commands: ["plan"],
    group: "command",
  },
  {
    name: "sink",
    key: "sink",
    kind: "string",
    arg: "URI",
    help: "the sink to compare with the store (required)",
    commands: ["verify"],
    group: "command",
  },
  {
    name: "repair",
    key: "repair",
    kind: "boolean",
    help: "write what is missing or different, remove what is extra, and verify again (the counts are then those of the second comparison; `before` has the first)",
    commands: ["verify"],
    group: "command",
  },
  {
    name: "json",
    key: "json",
    kind: "boolean",
    help: "print the result as JSON on stdout",
    commands: [
      "run",
      "worker",
      "status",
      "report",
      "retry",
      "batches",
      "search",
      "sync",
      "verify",
      "plan",
      "delete",
    ],
    group: "display",
  },
  {
    name: "no-progress",
    key: "noProgress",
    kind: "boolean",
    help: "no progress display",
    commands: ["run", "worker", "plan"],
    group: "display",
  },
  {
    name: "progress",
    key: "progress",
    kind: "boolean",
    help: "show progress even when stdout is not a terminal (by default: a bar when both are terminals, a status line when stderr is not one)",
    commands: ["run", "worker"],
    group: "display",
  },
  {
    name: "progress-interval-ms",
    key: "progressIntervalMs",
    kind: "int",
    arg: "N",
    default: DEFAULTS.progressIntervalMs,
    help: "time between status lines when stderr is not a terminal",
    commands: ["run", "worker"],
    group: "display",
  },
  {
    name: "limit",
    key: "limit",
    kind: "int",
    arg: "N",
    default: STATUS_LIST_LIMIT,
    help: "documents and skipped files listed per kind (the JSON lists every one)",
    commands: ["status"],
    group: "display",
  },
  {
    name: "prometheus",
    key: "prometheus",
    kind: "boolean",
    help: "the metrics in the Prometheus text format",
    commands: ["report"],
    group: "display",
  },
  {
    name: "html",
    key: "html",
    kind: "string",
    arg: "FILE",
    help: "also write a self-contained HTML page with charts to FILE",
    commands: ["report"],
    group: "display",
  },
  {
    name: "with-embeddings",
    key: "withEmbeddings",
    kind: "boolean",
    help: "add each chunk's vector (`embedding`)",
    commands: ["export"],
    group: "display",
  },
  {
    name: "degraded",
    key: "degraded",
    kind: "boolean",
    help: "also put degraded documents back (backfill)",
    commands: ["retry"],
    group: "command",
  },
  {
    name: "reason",
    key: "reason",
    kind: "string",
    arg: "CODE",
    help: "only documents whose last error or degraded reason has this code",
    commands: ["retry"],
    group: "command",
  },

  // The HTTP service.
  {
    name: "port",
    key: "port",
    kind: "int",
    arg: "P",
    default: 8080,
    help: "0: any free port (the address is printed)",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "host",
    key: "host",
    kind: "string",
    arg: "H",
    default: "127.0.0.1",
    help: "any other address requires --token",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "token",
    key: "token",
    kind: "string",
    arg: "T",
    help: "clients send `Authorization: Bearer T` (GET routes also accept ?access_token=T); also read from DOCBATCH_TOKEN, which keeps it out of the process list",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "allow-host",
    key: "allowHosts",
    kind: "list",
    arg: "NAME",
    help: "without --token, the server answers to loopback names only (a page whose name was rebound to 127.0.0.1 is refused); NAME adds one (repeatable)",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "max-event-streams",
    key: "maxEventStreams",
    kind: "int",
    arg: "N",
    default: 500,
    help: "open event streams at most; more get 503 TOO_MANY_STREAMS",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "spool-dir",
    key: "spoolDir",
    kind: "string",
    arg: "DIR",
    default: "<db>-spool next to the database",
    help: "where uploaded bodies wait until planned (one server per folder)",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "shutdown-grace-ms",
    key: "shutdownGraceMs",
    kind: "int",
    arg: "N",
    default: 2000,
    help: "on SIGTERM, running documents get N ms to finish, then go back to pending",
    commands: ["serve"],
    group: "command",
  },
  {
    name: "root",
    key: "root",
    kind: "string",
    arg: "DIR",
    help: "`path` documents resolve inside DIR, filtered by --include, --exclude and DIR/.docbatchignore (off: content only)",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "max-body-bytes",
    key: "maxBodyBytes",
    kind: "int",
    arg: "N",
    default: 104_857_600,
    help: "largest request body",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "max-json-depth",
    key: "maxJsonDepth",
    kind: "int",
    arg: "N",
    default: 64,
    help: "deepest JSON nesting of a body",
    commands: ["serve"],
    group: "server",
  },
  {
    name: "event-interval-ms",
    key: "eventIntervalMs",
    kind: "int",
    arg: "N",
    default: 500,
    help: "time between server-sent progress events",
    commands: ["serve"],
    group: "server",
  },

  // The demonstration.
  {
    name: "keep",
    key: "keep",
    kind: "string",
    arg: "DIR",
    default: "a temporary folder, removed at the end",
    help: "keep the store, the log and the HTML report in DIR, and print commands to inspect them",
    commands: ["demo"],
    group: "command",
  },
  {
    name: "dir",
    key: "dir",
    kind: "string",
    arg: "DIR",
    help: "the same as --keep DIR",
    commands: ["demo"],
    group: "command",
  },
  {
    name: "threshold",
    key: "threshold",
    kind: "string",
    arg: "LIST",
    default: "completion=0.99,dup=0.01,fail=0.05,resume_ms=60000",
    help: "override thresholds of the checklist",
    commands: ["demo"],
    group: "command",
  },
  {
    name: "help",
    key: "help",
    kind: "boolean",
    short: "h",
    help: "this help",
    commands: [...EVERY_STORE, "demo"],
    group: "command",
  },
] as const satisfies readonly OptionSpec[];

export type Option = (typeof OPTIONS)[number];

/** The options `command` accepts, in table order. */
export function optionsOf(command: CommandName): OptionSpec[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => o.commands.includes(command));
}
