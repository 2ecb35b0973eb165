import path from "node:path";
import { EmbeddingTestServer } from "../src/testing/embedding-server.js";
import { writeMixed } from "./corpus.js";
import { docbatch, tempDir } from "./lib.js";

const dir = tempDir();
const input = path.join(dir, "mixed.jsonl");
writeMixed(input, 5000);
const server = new EmbeddingTestServer({ latencyMs: 20, dimensions: 256 });
const url = await server.start();
for (let r = 0; r < 3; r++) {
  const p = await docbatch([
    "run",
    input,
    "--db",
    path.join(dir, `p${r}.db`),
    "--no-progress",
    "--embed-url",
    url,
  ]);
  const s = await docbatch([
    "run",
    input,
    "--db",
    path.join(dir, `s${r}.db`),
    "--no-progress",
    "--embed-url",
    url,
    "--sink",
    `jsonl:${path.join(dir, `l${r}.jsonl`)}`,
  ]);
  console.log(
    r,
    Math.round(p.wallMs),
    Math.round(s.wallMs),
    (p.wallMs / s.wallMs).toFixed(3),
    p.code,
    s.code,
  );
}
await server.stop();
