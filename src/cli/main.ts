#!/usr/bin/env node
import { createRequire } from "node:module";
import { DocbatchError } from "../core/errors.js";
import { DEMO_HELP, demoCommand } from "./commands/demo.js";
import {
  BATCHES_HELP,
  batchesCommand,
  EXPORT_HELP,
  exportCommand,
  REPORT_HELP,
  RETRY_HELP,
  reportCommand,
  retryCommand,
  STATUS_HELP,
  statusCommand,
} from "./commands/inspect.js";
import {
  SEARCH_HELP,
  SYNC_HELP,
  searchCommand,
  syncCommand,
  VERIFY_HELP,
  verifyCommand,
} from "./commands/retrieval.js";
import { RUN_HELP, runCommand } from "./commands/run.js";
import { SERVE_HELP, serveCommand } from "./commands/serve.js";
import { SUBMIT_HELP, submitCommand, WORKER_HELP, workerCommand } from "./commands/worker.js";
import { printError } from "./output.js";

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; help: string }> = {
  run: { run: runCommand, help: RUN_HELP },
  status: { run: statusCommand, help: STATUS_HELP },
  report: { run: reportCommand, help: REPORT_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
  retry: { run: retryCommand, help: RETRY_HELP },
  batches: { run: batchesCommand, help: BATCHES_HELP },
  demo: { run: demoCommand, help: DEMO_HELP },
  serve: { run: serveCommand, help: SERVE_HELP },
  submit: { run: submitCommand, help: SUBMIT_HELP },
  worker: { run: workerCommand, help: WORKER_HELP },
  search: { run: searchCommand, help: SEARCH_HELP },
  sync: { run: syncCommand, help: SYNC_HELP },
  verify: { run: verifyCommand, help: VERIFY_HELP },
};

const USAGE = `docbatch: resumable, idempotent, observable batch processing of documents

Usage: docbatch <command> [options]

Commands:
  run INPUT        plan a batch (or resume it) and process every unfinished document
  status           counts by state, failed and degraded documents
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

Every command takes --db FILE (SQLite, the default) or --store postgres://… (shared by workers).

Run \`docbatch <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    process.stdout.write(`${topic && COMMANDS[topic] ? COMMANDS[topic].help : USAGE}\n`);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    throw new DocbatchError("USAGE", `Unknown command \`${command}\`.`, {
      details: [{ path: "command", problem: `unknown command ${JSON.stringify(command)}` }],
      hints: [`Commands: ${Object.keys(COMMANDS).join(", ")}. Run \`docbatch --help\`.`],
    });
  }
  return entry.run(rest);
}

// `docbatch export | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = printError(err);
  },
);
