import { createLogger } from "../../runner/logger.js";
import { startServer } from "../../server/serve.js";
import { createStore } from "../../store/open.js";
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
    logger,
    ...pick("serve", values, ["server"]),
    // The token from the environment stays out of the process list.
    ...defined({ token: values.token ?? (process.env.DOCBATCH_TOKEN || undefined) }),
    process: {
      ...pick("serve", values, ["process"]),
      ...defined({ shutdownGraceMs: values.shutdownGraceMs }),
    },
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
