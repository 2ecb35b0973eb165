/**
 * Peer (b) of `bench/peers.ts`: the same job as `docbatch run`, built with LangChain.js's indexing
 * API as its guide lays it out — documents loaded as `Document`s (`pageContent` + `metadata`), split
 * with `RecursiveCharacterTextSplitter`, embedded by `OpenAIEmbeddings` pointed at the local
 * OpenAI-compatible endpoint, and handed to `index()` from `@langchain/core/indexing` with a
 * `SQLiteRecordManager` (@langchain/community), `cleanup: "incremental"`, the document id as the
 * source id key and the default batch size of 100.
 *
 * The text given to the splitter is docbatch's parse + clean of the content (`parseDocument`,
 * `cleanText`), so that HTML and JSON documents yield the same text to chunk and embed; the chunks
 * themselves are LangChain's. The vector store is `SQLiteVectorStore` (./sqlite-vector-store.ts).
 *
 * Resuming is LangChain's: running `index()` again hashes every chunk, asks the record manager which
 * hashes it has recorded, and embeds and writes only the others.
 *
 *   index INPUT --records FILE --vectors FILE --embed-url URL [--concurrency 8]
 *         [--embed-batch-size 32] [--chunk-size 1000] [--batch-size 100]
 */
import { parseArgs } from "node:util";
import { SQLiteRecordManager } from "@langchain/community/indexes/sqlite";
import { Document } from "@langchain/core/documents";
import { index } from "@langchain/core/indexing";
import { OpenAIEmbeddings } from "@langchain/openai";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { cleanText } from "../../src/pipeline/clean.js";
import { parseDocument } from "../../src/pipeline/parse.js";
import { printSummary, readJsonl } from "./shared.js";
import { SQLiteVectorStore } from "./sqlite-vector-store.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    records: { type: "string" },
    vectors: { type: "string" },
    "embed-url": { type: "string" },
    concurrency: { type: "string", default: "8" },
    "embed-batch-size": { type: "string", default: "32" },
    "chunk-size": { type: "string", default: "1000" },
    "batch-size": { type: "string", default: "100" },
  },
});

const [command, input] = positionals;
if (command !== "index" || !input) throw new Error("usage: index INPUT --records FILE --vectors FILE ...");
const { records, vectors } = values;
const embedUrl = values["embed-url"];
if (!records || !vectors || !embedUrl) throw new Error("index needs --records, --vectors and --embed-url");

const SOURCE_ID_KEY = "docId";

// OpenAIEmbeddings for an OpenAI-compatible endpoint: its base URL, any key, and floats (the
// default asks for base64, which such servers often do not speak). Requests of 32 texts, at most
// `concurrency` of them at once (AsyncCaller's maxConcurrency).
const embeddings = new OpenAIEmbeddings({
  model: "text-embedding-3-small",
  apiKey: "unused",
  configuration: { baseURL: embedUrl.replace(/\/embeddings\/?$/, "") },
  batchSize: Number(values["embed-batch-size"]),
  maxConcurrency: Number(values.concurrency),
  encodingFormat: "float",
});

const recordManager = new SQLiteRecordManager("docbatch-bench/peers", {
  localPath: records,
  tableName: "upsertion_records",
});
await recordManager.createSchema();
const vectorStore = new SQLiteVectorStore(embeddings, { file: vectors, sourceIdKey: SOURCE_ID_KEY });

const docs: Document[] = [];
for await (const doc of readJsonl(input)) {
  docs.push(
    new Document({
      pageContent: cleanText((await parseDocument(doc.content, doc.format)).text),
      metadata: { ...doc.metadata, [SOURCE_ID_KEY]: doc.id, source: doc.source, format: doc.format },
    }),
  );
}
const splitter = new RecursiveCharacterTextSplitter({
  chunkSize: Number(values["chunk-size"]),
  chunkOverlap: 0,
});
const chunks = await splitter.splitDocuments(docs);

const result = await index({
  docsSource: chunks,
  recordManager,
  vectorStore,
  options: {
    cleanup: "incremental",
    sourceIdKey: SOURCE_ID_KEY,
    batchSize: Number(values["batch-size"]),
  },
});
vectorStore.close();
printSummary({ command: "index", documents: docs.length, chunks: chunks.length, ...result });
