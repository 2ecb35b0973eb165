import path from "node:path";
import { createLogger } from "../../runner/logger.js";
import { startServer } from "../../server/serve.js";
import { createStore, DEFAULT_DB } from "../../store/open.js";
import { parseCommand, pick } from "../args.js";
import { printHelp } from "../help.js";
import { defined } from "../process-flags.js";

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("serve", args);
  if (values.help) return printHelp("serve");
  const store = await createStore(defined({ db: values.db, url: values.store }));
  await store.open();
  const logger = createLogger(values.logFile, values.logLevel);
  const output = pick("serve", values, ["output", "input"]);
  const server = await startServer({
    store,
    spoolDir: path.join(path.dirname(path.resolve(values.db ?? DEFAULT_DB)), "spool"),
    logger,
    ...pick("serve", values, ["server"]),
    process: pick("serve", values, ["process"]),
    output: { ...output, ...defined({ embedTimeoutMs: values.embedTimeoutMs }) },
  });
  process.stdout.write(`docbatch serve: listening on ${server.url} (dashboard: ${server.url}/)\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(signal === "SIGTERM" ? 143 : 130);
      stopping = true;
      process.stderr.write(`docbatch serve: ${signal} received, checkpointing running batches\n`);
      server.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}
