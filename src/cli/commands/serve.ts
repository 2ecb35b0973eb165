import path from "node:path";
import { createLogger } from "../../runner/logger.js";
import { startServer } from "../../server/serve.js";
import { createStore, DEFAULT_DB } from "../../store/open.js";
import { intFlag, numberFlag, parseFlags, stringFlag } from "../args.js";
import { defined, SINK_HELP, sinkOptions } from "../process-flags.js";

export const SERVE_HELP = `docbatch serve [--port P] [--host H] [--db FILE | --store URL] [--token T] [options]

Serves the HTTP API and the live dashboard (http://HOST:PORT/). Batches submitted over HTTP are
processed in the background; after a crash or restart, every unfinished one is resumed.

  --port P                 default 8080 (0: any free port; the address is printed)
  --host H                 default 127.0.0.1; any other address requires --token
  --token T                clients send \`Authorization: Bearer T\` (GET routes also accept ?access_token=T)
  --root DIR               \`path\` documents resolve inside DIR (off by default: content only)
  --max-body-bytes N       largest request body (default 104857600)
  --max-json-depth N       deepest JSON nesting of a body (default 64)
  --concurrency N, --max-attempts N, --embed-url URL, --embed-model NAME, --chunk-size N, ...
                           as for \`docbatch run\`, applied to every batch
  --log-file FILE, --log-level LEVEL
${SINK_HELP}

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
      root: { type: "string" },
      "max-body-bytes": { type: "string" },
      "max-json-depth": { type: "string" },
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
      "event-interval-ms": { type: "string" },
      inject: { type: "string" },
      seed: { type: "string" },
      "log-file": { type: "string" },
      "log-level": { type: "string" },
      sink: { type: "string", multiple: true },
      "sink-wait-ms": { type: "string" },
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
    spoolDir: path.join(path.dirname(path.resolve(db ?? DEFAULT_DB)), "spool"),
    logger,
    ...defined({
      port: intFlag(values.port, "port"),
      host: stringFlag(values.host),
      token: stringFlag(values.token),
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
      inject: stringFlag(values.inject),
      seed: intFlag(values.seed, "seed"),
      ...sinkOptions(values),
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
