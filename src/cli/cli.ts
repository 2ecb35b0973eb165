import { createRequire } from "node:module";
import { DocbatchError } from "../core/errors.js";
import { helpText } from "./help.js";
import type { CommandName } from "./options.js";
import { printError } from "./output.js";

type Command = (args: string[]) => Promise<number>;

/**
 * Each command's module, loaded when the command runs: a `run` does not pay for loading the
 * service, the dashboard or the inspection commands.
 */
const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  run: async () => (await import("./commands/run.js")).runCommand,
  status: async () => (await import("./commands/inspect.js")).statusCommand,
  report: async () => (await import("./commands/inspect.js")).reportCommand,
  export: async () => (await import("./commands/inspect.js")).exportCommand,
  retry: async () => (await import("./commands/inspect.js")).retryCommand,
  batches: async () => (await import("./commands/inspect.js")).batchesCommand,
  demo: async () => (await import("./commands/demo.js")).demoCommand,
  serve: async () => (await import("./commands/serve.js")).serveCommand,
  submit: async () => (await import("./commands/worker.js")).submitCommand,
  worker: async () => (await import("./commands/worker.js")).workerCommand,
  search: async () => (await import("./commands/retrieval.js")).searchCommand,
  sync: async () => (await import("./commands/retrieval.js")).syncCommand,
  verify: async () => (await import("./commands/retrieval.js")).verifyCommand,
  gc: async () => (await import("./commands/gc.js")).gcCommand,
  plan: async () => (await import("./commands/plan.js")).planCommand,
  delete: async () => (await import("./commands/plan.js")).deleteCommand,
};

const isCommand = (name: string | undefined): name is CommandName =>
  name !== undefined && Object.hasOwn(COMMANDS, name);

const USAGE = `docbatch: resumable, idempotent, observable batch processing of documents

Usage: docbatch <command> [options]

Commands:
  run INPUT        plan a batch (or resume it) and process every unfinished document
  status           counts by state, failed, degraded and skipped files
  report           the metrics report of a batch
  export           the batch's chunks as JSON Lines
  retry            put failed (and degraded) documents back to pending
  batches          the batches of a store
  demo             faults, a crash, a resume and a checklist, on the packaged examples
  serve            the HTTP API and the live dashboard
  submit INPUT     plan a batch without processing it (for workers)
  worker           process a planned batch together with other workers
  search QUERY     the chunks of a batch nearest to a query
  sync             deliver to the batch's sinks what they have not received yet
  verify           compare a sink with the store (and --repair it)
  gc               remove embedding cache entries no batch uses (and old history)
  plan INPUT       what run would do (new, changed, deleted, chunks, tokens, cost), writing nothing
  delete           delete a batch with all it owns, its chunks leaving its sinks first

Every command takes --db FILE (SQLite, the default) or --store postgres://… (shared by workers).

Run \`docbatch <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    process.stdout.write(`${isCommand(topic) ? helpText(topic) : USAGE}\n`);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (!isCommand(command)) {
    throw new DocbatchError("USAGE", `Unknown command \`${command}\`.`, {
      details: [{ path: "command", problem: `unknown command ${JSON.stringify(command)}` }],
      hints: [`Commands: ${Object.keys(COMMANDS).join(", ")}. Run \`docbatch --help\`.`],
    });
  }
  return (await COMMANDS[command]())(rest);
}

// `docbatch export | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

// A failure that escaped every handler (a bug, or an error event of a driver nobody listened to)
// still ends with the unified error body, never a dump of the error's fields or a stack trace.
// The run it interrupted is found dead by the next one at once (its process is gone).
const fatal = (err: unknown) => {
  process.exit(printError(err));
};
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = printError(err);
  },
);
