import { type Extensions, PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { afterAll, beforeAll } from "vitest";

/**
 * A Postgres with pgvector for the tests: PGlite (Postgres compiled to WebAssembly) with its
 * pgvector extension, served over a local socket to the real `pg` client. PGlite serves one
 * connection at a time, which is what a pgvector sink uses.
 */
export interface PgliteServer {
  url: string;
  /** Stops accepting connections (and drops the current one): the sink is down. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export interface PgliteOptions {
  /** A folder that keeps the database between servers; in memory when absent. */
  dataDir?: string;
  /** Whether the server has pgvector to install (a database without it: false). @default true */
  pgvector?: boolean;
  /**
   * Connections served at once. They share PGlite's one session (a transaction keeps the others
   * waiting, and startup options such as the search path are not applied), so tests that open
   * more than one use distinct names. @default 1
   */
  maxConnections?: number;
}

export async function startPglite(options: PgliteOptions = {}): Promise<PgliteServer> {
  const extensions: Extensions = options.pgvector === false ? {} : { vector };
  const db = await PGlite.create(options.dataDir ?? "memory://", { extensions });
  const maxConnections = options.maxConnections ?? 1;
  let server = await listen(db, 0, maxConnections);
  // "host:port" of the listening socket (port 0 picked a free one).
  const port = Number(server.getServerConn().split(":").pop());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async pause() {
      await server.stop();
    },
    async resume() {
      server = await listen(db, port, maxConnections);
    },
    async close() {
      await server.stop().catch(() => {});
      await db.close();
    },
  };
}

async function listen(db: PGlite, port: number, maxConnections: number): Promise<PGLiteSocketServer> {
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections });
  await server.start();
  return server;
}

/** A PGlite server shared by the tests of one file: started before them (it takes a while), closed after. */
export function sharedPglite(options: PgliteOptions = {}): { readonly url: string } {
  let server: PgliteServer | undefined;
  beforeAll(async () => {
    server = await startPglite(options);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });
  return {
    get url() {
      return server!.url;
    },
  };
}
