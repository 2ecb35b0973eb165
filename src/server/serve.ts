import path from "node:path";
import { serve as listen, type ServerType } from "@hono/node-server";
import { DocbatchError } from "../core/errors.js";
import { createLogger, type Logger } from "../runner/logger.js";
import type { OutputOptions, ProcessOptions } from "../runner/run-options.js";
import type { SinkOptions } from "../runner/sink-options.js";
import type { Store } from "../store/store.js";
import { createApp } from "./app.js";
import { LOOPBACK_HOSTS } from "./guards.js";
import { BatchService } from "./service.js";
import { claimSpoolDir, defaultSpoolDir } from "./spool-folder.js";

export interface ServeOptions {
  /** An open store; closed by `close()`. */
  store: Store;
  /** @default 8080 (0 for any free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Bearer token required on every route but the health checks; required off loopback. */
  token?: string;
  /**
   * More `Host` names to answer to on loopback without a token (e.g. a reverse proxy's); other
   * names are refused, so that a DNS-rebound page cannot reach the API. @default none
   */
  allowHosts?: string[];
  /** Open event streams at most; more get 503 TOO_MANY_STREAMS. @default 500 */
  maxEventStreams?: number;
  /** `path` documents resolve inside this folder; without it they are rejected. */
  root?: string;
  /**
   * Uploaded bodies wait here until planned; one server per folder.
   * @default "<db file>-spool" (SQLite), ".docbatch/spool-<digest of the URL>" (Postgres)
   */
  spoolDir?: string;
  /** @default 100 MiB */
  maxBodyBytes?: number;
  /** @default 64 */
  maxJsonDepth?: number;
  process?: ProcessOptions & SinkOptions;
  output?: OutputOptions;
  logger?: Logger;
  eventIntervalMs?: number;
}

export interface RunningServer {
  url: string;
  service: BatchService;
  /** Stops accepting requests, checkpoints running batches, closes the store. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);

/** Listens, then resumes every unfinished batch this server owns. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host) && !options.token) {
    throw new DocbatchError("USAGE", `Refusing to listen on ${host} without --token.`, {
      details: [{ path: "--host", problem: "not a loopback address, and no --token" }],
      hints: ["Pass --token T (clients send `Authorization: Bearer T`), or listen on 127.0.0.1."],
    });
  }
  const logger = options.logger ?? createLogger(undefined);
  const spoolDir = path.resolve(options.spoolDir ?? defaultSpoolDir(options.store.connectionSpec()));
  const releaseSpool = claimSpoolDir(spoolDir);
  const maxBodyBytes = options.maxBodyBytes ?? 100 * 1024 * 1024;
  const service = new BatchService({
    store: options.store,
    spoolDir,
    ...(options.root ? { root: path.resolve(options.root) } : {}),
    limits: { maxBytes: maxBodyBytes, maxDepth: options.maxJsonDepth ?? 64 },
    // A server is stopped by an orchestrator that kills it a few seconds later: running documents
    // get 2 s to finish, then go back to pending (they are processed again on the next start).
    process: { shutdownGraceMs: 2_000, ...options.process },
    output: options.output ?? {},
    logger,
  });
  const app = createApp(service, {
    maxBodyBytes,
    ...(options.token
      ? { token: options.token }
      : { allowedHosts: [...LOOPBACK_HOSTS, ...(options.allowHosts ?? []).map((h) => h.toLowerCase())] }),
    ...(options.maxEventStreams ? { maxEventStreams: options.maxEventStreams } : {}),
    ...(options.eventIntervalMs ? { eventIntervalMs: options.eventIntervalMs } : {}),
  });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = listen({ fetch: app.fetch, port: options.port ?? 8080, hostname: host }, () => resolve(s));
    s.once("error", reject);
  }).catch((err: unknown) => {
    releaseSpool();
    throw err;
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const resumed = await service.resumeOwned();
  logger.info({ event: "serve.start", url, resumed }, "listening");
  return {
    url,
    service,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open event streams would keep close() waiting forever.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await service.shutdown();
      await options.store.close();
      releaseSpool();
    },
  };
}
