import { PGlite } from "@electric-sql/pglite";
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

export async function startPglite(): Promise<PgliteServer> {
  const db = await PGlite.create({ extensions: { vector } });
  let server = await listen(db, 0);
  // "host:port" of the listening socket (port 0 picked a free one).
  const port = Number(server.getServerConn().split(":").pop());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async pause() {
      await server.stop();
    },
    async resume() {
      server = await listen(db, port);
    },
    async close() {
      await server.stop().catch(() => {});
      await db.close();
    },
  };
}

async function listen(db: PGlite, port: number): Promise<PGLiteSocketServer> {
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
  await server.start();
  return server;
}

/** A PGlite server shared by the tests of one file: started before them (it takes a while), closed after. */
export function sharedPglite(): { readonly url: string } {
  let server: PgliteServer | undefined;
  beforeAll(async () => {
    server = await startPglite();
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
