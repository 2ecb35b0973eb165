/**
 * Peer (a) of `bench/peers.ts`: the same job as `docbatch run`, built the way BullMQ's guides
 * suggest — a producer that adds one job per document with `Queue.addBulk` (batches of 1,000, the
 * document id as `jobId` so adding the same input again is a no-op), and a `Worker` whose processor
 * parses, cleans and chunks the document with docbatch's own pure stages, embeds the chunks over
 * HTTP, and writes them to SQLite in one transaction per job.
 *
 * Resuming is BullMQ's: jobs in the completed set are never processed again, and the jobs a killed
 * worker held active come back to `wait` once their lock (`lockDuration`, 30 s) has expired and the
 * stalled checker (`stalledInterval`, 30 s) has seen them — both left at their defaults. Following
 * BullMQ's "idempotent jobs" advice, a job replaces its document's rows in its transaction, so a job
 * processed twice does not write its chunks twice.
 *
 *   produce INPUT --queue NAME [--redis URL]
 *   work --queue NAME --db FILE --embed-url URL [--concurrency 8] [--embed-batch-size 32]
 *        [--chunk-size 1000] [--redis URL]
 *
 * `work` exits once the queue holds no waiting, active, delayed or prioritized job.
 */
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { type Job, Queue, Worker } from "bullmq";
import { chunkText } from "../../src/pipeline/chunk.js";
import { cleanText } from "../../src/pipeline/clean.js";
import { parseDocument } from "../../src/pipeline/parse.js";
import { embedBatch, type InputDocument, printSummary, readJsonl, vectorBlob } from "./shared.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    queue: { type: "string" },
    redis: { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
    db: { type: "string" },
    "embed-url": { type: "string" },
    concurrency: { type: "string", default: "8" },
    "embed-batch-size": { type: "string", default: "32" },
    "chunk-size": { type: "string", default: "1000" },
  },
});

const [command, input] = positionals;
const queueName = values.queue;
if (!queueName) throw new Error("--queue is required");

// BullMQ passes these options to ioredis; a Worker needs maxRetriesPerRequest: null.
const redisUrl = new URL(values.redis);
const connection = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
  maxRetriesPerRequest: null,
};

async function produce(file: string): Promise<void> {
  const queue = new Queue<InputDocument>(queueName!, { connection });
  let added = 0;
  let batch: { name: string; data: InputDocument; opts: { jobId: string } }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await queue.addBulk(batch);
    added += batch.length;
    batch = [];
  };
  for await (const doc of readJsonl(file)) {
    batch.push({ name: "document", data: doc, opts: { jobId: doc.id } });
    if (batch.length === 1000) await flush();
  }
  await flush();
  const counts = await queue.getJobCounts();
  await queue.close();
  printSummary({ command: "produce", added, counts });
}

async function work(): Promise<void> {
  const dbFile = values.db;
  const embedUrl = values["embed-url"];
  if (!dbFile || !embedUrl) throw new Error("work needs --db and --embed-url");
  const concurrency = Number(values.concurrency);
  const embedBatchSize = Number(values["embed-batch-size"]);
  const chunkSize = Number(values["chunk-size"]);

  const db = new Database(dbFile);
  db.pragma("journal_mode = WAL");
  db.exec(`CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (doc_id, chunk_index)
  )`);
  const remove = db.prepare("DELETE FROM chunks WHERE doc_id = ?");
  const insert = db.prepare(
    "INSERT INTO chunks (doc_id, chunk_index, source, text, embedding, metadata) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const write = db.transaction((doc: InputDocument, chunks: string[], vectors: number[][]) => {
    remove.run(doc.id);
    const metadata = JSON.stringify(doc.metadata);
    chunks.forEach((text, i) => {
      insert.run(doc.id, i, doc.source, text, vectorBlob(vectors[i]!), metadata);
    });
  });

  let processed = 0;
  const worker = new Worker<InputDocument>(
    queueName!,
    async (job: Job<InputDocument>) => {
      const doc = job.data;
      const chunks = chunkText(cleanText((await parseDocument(doc.content, doc.format)).text), {
        size: chunkSize,
        overlap: 0,
      });
      const vectors: number[][] = [];
      for (let i = 0; i < chunks.length; i += embedBatchSize) {
        vectors.push(...(await embedBatch(embedUrl, chunks.slice(i, i + embedBatchSize))));
      }
      write(doc, chunks, vectors);
      processed += 1;
      return { chunks: chunks.length };
    },
    { connection, concurrency },
  );
  let stalled = 0;
  worker.on("stalled", () => {
    stalled += 1;
  });
  worker.on("error", (err) => process.stderr.write(`worker error: ${err.message}\n`));

  // Drained: nothing left that a worker could still pick up or is working on.
  const queue = new Queue(queueName!, { connection });
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
    if (Object.values(c).reduce((a, b) => a + b, 0) === 0) break;
  }
  await worker.close();
  const counts = await queue.getJobCounts("completed", "failed");
  await queue.close();
  db.close();
  printSummary({ command: "work", processed, stalled, counts });
}

if (command === "produce") {
  if (!input) throw new Error("produce needs INPUT");
  await produce(input);
} else if (command === "work") {
  await work();
} else {
  throw new Error(`unknown command ${command ?? "(none)"}: produce or work`);
}
