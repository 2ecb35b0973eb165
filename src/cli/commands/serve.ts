import { createLogger } from "../../runner/logger.js";
import { startServer } from "../../server/serve.js";
import { createStore } from "../../store/open.js";
import { intFlag, numberFlag, parseFlags, stringFlag } from "../args.js";
import { defined } from "../process-flags.js";

export const SERVE_HELP = `docbatch serve [--port P] [--host H] [--db FILE | --store URL] [--token T] [options]

Serves the HTTP API and the live dashboard (http://HOST:PORT/). Batches submitted over HTTP are
processed in the background; after a crash or restart, every unfinished one is resumed.

  --port P                 default 8080 (0: any free port; the address is printed)
  --host H                 default 127.0.0.1; any other address requires --token
  --token T                clients send \`Authorization: Bearer T\` (GET routes also accept ?access_token=T);
                           also read from DOCBATCH_TOKEN, which keeps it out of the process list
  --allow-host NAME        without --token, the server answers to loopback names only (a page whose
                           name was rebound to 127.0.0.1 is refused); NAME adds one (repeatable)
  --max-event-streams N    open event streams at most (default 500); more get 503
  --root DIR               \`path\` documents resolve inside DIR (off by default: content only)
  --max-body-bytes N       largest request body (default 104857600)
  --max-json-depth N       deepest JSON nesting of a body (default 64)
  --spool-dir DIR          where uploaded bodies wait until planned (default: next to the database,
                           <db>-spool; one server per folder)
  --concurrency N, --max-attempts N, --embed-url URL, --embed-model NAME, --chunk-size N, ...
                           as for \`docbatch run\`, applied to every batch
  --shutdown-grace-ms N    on SIGTERM, running documents get N ms to finish, then go back to
                           pending (default 2000)
  --log-file FILE, --log-level LEVEL

SIGTERM or SIGINT stops accepting requests, checkpoints the running batches and exits.`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      port: { type: "string" },
      host: { type: "string" },
      db: { type: "string" },
      store: { type: "string" },
      token: { type: "string" },
      "allow-host": { type: "string", multiple: true },
      "max-event-streams": { type: "string" },
      root: { type: "string" },
      "max-body-bytes": { type: "string" },
      "max-json-depth": { type: "string" },
      "spool-dir": { type: "string" },
      concurrency: { type: "string" },
      "max-attempts": { type: "string" },
      "base-delay-ms": { type: "string" },
      "max-delay-ms": { type: "string" },
      "chunk-size": { type: "string" },
      "chunk-overlap": { type: "string" },
      "embed-url": { type: "string" },
      "embed-model": { type: "string" },
      "embed-timeout-ms": { type: "string" },
      "embed-batch-size": { type: "string" },
      "doc-timeout-ms": { type: "string" },
      "shutdown-grace-ms": { type: "string" },
      "event-interval-ms": { type: "string" },
      inject: { type: "string" },
      seed: { type: "string" },
      "log-file": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "serve",
  );
  if (values.help) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  const db = stringFlag(values.db);
  const url = stringFlag(values.store);
  const store = await createStore({ ...(db ? { db } : {}), ...(url ? { url } : {}) });
  await store.open();
  const logger = createLogger(stringFlag(values["log-file"]), stringFlag(values["log-level"]));
  const server = await startServer({
    store,
    logger,
    ...defined({
      spoolDir: stringFlag(values["spool-dir"]),
      port: intFlag(values.port, "port"),
      host: stringFlag(values.host),
      token: stringFlag(values.token) ?? (process.env.DOCBATCH_TOKEN || undefined),
      allowHosts: values["allow-host"] as string[] | undefined,
      maxEventStreams: intFlag(values["max-event-streams"], "max-event-streams"),
      root: stringFlag(values.root),
      maxBodyBytes: intFlag(values["max-body-bytes"], "max-body-bytes"),
      maxJsonDepth: intFlag(values["max-json-depth"], "max-json-depth"),
      eventIntervalMs: intFlag(values["event-interval-ms"], "event-interval-ms"),
    }),
    process: defined({
      concurrency: intFlag(values.concurrency, "concurrency"),
      maxAttempts: intFlag(values["max-attempts"], "max-attempts"),
      baseDelayMs: intFlag(values["base-delay-ms"], "base-delay-ms"),
      maxDelayMs: intFlag(values["max-delay-ms"], "max-delay-ms"),
      embedTimeoutMs: intFlag(values["embed-timeout-ms"], "embed-timeout-ms"),
      embedBatchSize: intFlag(values["embed-batch-size"], "embed-batch-size"),
      docTimeoutMs: intFlag(values["doc-timeout-ms"], "doc-timeout-ms"),
      shutdownGraceMs: intFlag(values["shutdown-grace-ms"], "shutdown-grace-ms"),
      inject: stringFlag(values.inject),
      seed: intFlag(values.seed, "seed"),
    }),
    output: defined({
      chunkSize: intFlag(values["chunk-size"], "chunk-size"),
      chunkOverlap: intFlag(values["chunk-overlap"], "chunk-overlap"),
      embedUrl: stringFlag(values["embed-url"]),
      embedModel: stringFlag(values["embed-model"]),
      embedTimeoutMs: numberFlag(values["embed-timeout-ms"], "embed-timeout-ms"),
    }),
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
