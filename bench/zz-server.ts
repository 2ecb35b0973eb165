import { EmbeddingTestServer } from "../src/testing/embedding-server.js";

const server = new EmbeddingTestServer({ latencyMs: 20, dimensions: 256 });
const url = await server.start();
console.log(url);
setInterval(() => {}, 1 << 30);
