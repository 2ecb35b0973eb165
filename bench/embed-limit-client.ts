/**
 * The bare embedding client of the `embed-limit` scenario: it reads chunk texts (one JSON string
 * per line), sends them to an OpenAI-compatible endpoint in requests of `batch` texts with
 * `concurrency` requests in flight over keep-alive connections, decodes every answer, and does
 * nothing else. What it reaches is the limit of an embedding-bound run on that endpoint.
 *
 *   node --import tsx bench/embed-limit-client.ts URL TEXTS_FILE BATCH CONCURRENCY
 */
import fs from "node:fs";
import http from "node:http";

const [url = "", file = "", batchArg = "64", concurrencyArg = "8"] = process.argv.slice(2);
const batch = Number(batchArg);
const concurrency = Number(concurrencyArg);
const texts = fs
  .readFileSync(file, "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line) as string);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const endpoint = new URL(url);

function embed(input: string[]): Promise<number> {
  const body = JSON.stringify({ model: "bench", input });
  return new Promise((resolve, reject) => {
    const request = http.request(
      endpoint,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on("data", (d: Buffer) => parts.push(d));
        response.on("end", () => {
          const answer = JSON.parse(Buffer.concat(parts).toString("utf8")) as {
            data: { index: number; embedding: number[] }[];
          };
          if (response.statusCode !== 200 || answer.data.length !== input.length)
            reject(new Error(`answer ${response.statusCode}`));
          else resolve(answer.data.length);
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

let next = 0;
let requests = 0;
async function lane(): Promise<void> {
  while (next < texts.length) {
    const slice = texts.slice(next, next + batch);
    next += slice.length;
    requests += 1;
    await embed(slice);
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, lane));
process.stdout.write(
  `${JSON.stringify({ texts: texts.length, requests, wall_ms: performance.now() - started })}\n`,
);
agent.destroy();
