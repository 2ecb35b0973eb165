/**
 * The three systems `bench/peers.ts` compares, each as fresh outputs it can be run against:
 * docbatch (`dist/cli/main.js`), the BullMQ pipeline (./bullmq-pipeline.ts) and LangChain's
 * `index()` (./langchain-index.ts), all with the same concurrency budget (SETTINGS).
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Queue } from "bullmq";
import { CLI } from "../lib.js";
import {
  documentTracker,
  type Exit,
  type Launched,
  launch,
  readDb,
  rowsPerDoc,
  succeed,
} from "./processes.js";

/** What every system gets: the same embedding requests in flight, of the same size, on the same chunks. */
export const SETTINGS = {
  /** Embedding requests in flight. */
  concurrency: 8,
  /** Texts per embedding request at most. */
  embedBatch: 32,
  /** Characters per chunk at most. */
  chunkSize: 1000,
};

export const REDIS = { host: "127.0.0.1", port: 6379 };

/** One fresh output (a new folder of SQLite files, a new queue) that runs can be started against. */
export interface Instance {
  /** Work before the killable process (the BullMQ producer); its exit counts in the wall clock. */
  before?(): Promise<Exit>;
  /** The process that does the work: docbatch, the BullMQ worker, LangChain's index(). */
  start(): Launched;
  /** Documents with output so far. */
  written(): number;
  /** Output rows per document id. */
  rows(): Map<string, number>;
  /** Frees what the runs left: the output folder, and the BullMQ queue in Redis. */
  discard(): Promise<void>;
}

export interface System {
  /** Short name, a key in the results. */
  name: string;
  label: string;
  /** A fresh output; `tag` names it uniquely among all the runs of the bench. */
  fresh(tag: string): Instance;
}

/** Where the systems read the corpus from and embed. */
export interface Target {
  input: string;
  embedUrl: string;
  /** The folder under which each fresh output gets a folder of its own. */
  dir: string;
}

const common = () => [
  "--embed-batch-size",
  String(SETTINGS.embedBatch),
  "--chunk-size",
  String(SETTINGS.chunkSize),
];

function outputFolder(target: Target, name: string, tag: string): string {
  const folder = path.join(target.dir, `${name}-${tag}`);
  fs.mkdirSync(folder, { recursive: true });
  return folder;
}

const removeFolder = (folder: string) => async () => fs.rmSync(folder, { recursive: true, force: true });

function docbatchInstance(target: Target, folder: string): Instance {
  const db = path.join(folder, "docbatch.db");
  return {
    start: () =>
      launch(CLI, [
        "run",
        target.input,
        "--db",
        db,
        "--embed-url",
        target.embedUrl,
        // The same 8 embedding requests in flight as the peers; documents waiting for a free
        // request cost little, so docbatch keeps more of them in flight and fills requests.
        "--concurrency",
        String(SETTINGS.concurrency * 4),
        "--embed-concurrency",
        String(SETTINGS.concurrency),
        ...common(),
        "--no-progress",
        "--json",
      ]),
    written: () =>
      readDb(
        db,
        (d) =>
          (
            d.prepare("SELECT count(*) AS n FROM documents WHERE state IN ('done', 'degraded')").get() as {
              n: number;
            }
          ).n,
        0,
      ),
    rows: () =>
      rowsPerDoc(
        db,
        "SELECT d.doc_id AS id, count(c.chunk_index) AS n FROM documents d LEFT JOIN chunks c ON c.row = d.row WHERE d.state IN ('done', 'degraded') GROUP BY d.row",
      ),
    discard: removeFolder(folder),
  };
}

export function docbatch(target: Target): System {
  return {
    name: "docbatch",
    label: "docbatch",
    fresh: (tag) => docbatchInstance(target, outputFolder(target, "docbatch", tag)),
  };
}

function bullmqInstance(script: string, target: Target, folder: string, queue: string): Instance {
  const db = path.join(folder, "chunks.db");
  return {
    before: () => succeed(launch(script, ["produce", target.input, "--queue", queue]), "BullMQ producer"),
    start: () =>
      launch(script, [
        "work",
        "--queue",
        queue,
        "--db",
        db,
        "--embed-url",
        target.embedUrl,
        "--concurrency",
        String(SETTINGS.concurrency),
        ...common(),
      ]),
    written: documentTracker(db, "chunks", "doc_id"),
    rows: () => rowsPerDoc(db, "SELECT doc_id AS id, count(*) AS n FROM chunks GROUP BY doc_id"),
    discard: async () => {
      // Completed jobs keep their documents in Redis: drop the queue.
      const q = new Queue(queue, { connection: REDIS });
      await q.obliterate({ force: true });
      await q.close();
      await removeFolder(folder)();
    },
  };
}

export function bullmq(script: string, target: Target): System {
  return {
    name: "bullmq",
    label: "BullMQ pipeline",
    fresh: (tag) =>
      bullmqInstance(
        script,
        target,
        outputFolder(target, "bullmq", tag),
        `docbatch-peers-${process.pid}-${tag}`,
      ),
  };
}

function langchainInstance(script: string, target: Target, folder: string): Instance {
  const vectors = path.join(folder, "vectors.db");
  const records = path.join(folder, "records.db");
  return {
    start: () =>
      launch(script, [
        "index",
        target.input,
        "--records",
        records,
        "--vectors",
        vectors,
        "--embed-url",
        target.embedUrl,
        "--concurrency",
        String(SETTINGS.concurrency),
        ...common(),
      ]),
    written: documentTracker(vectors, "vectors", "source_id"),
    rows: () => rowsPerDoc(vectors, "SELECT source_id AS id, count(*) AS n FROM vectors GROUP BY source_id"),
    discard: removeFolder(folder),
  };
}

export function langchain(script: string, target: Target): System {
  return {
    name: "langchain",
    label: "LangChain index()",
    fresh: (tag) => langchainInstance(script, target, outputFolder(target, "langchain", tag)),
  };
}

/** Whether Redis answers a PING on REDIS (the BullMQ pipeline needs it). */
export function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS.port, REDIS.host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}
