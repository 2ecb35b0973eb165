import { EmbeddingTestServer } from "../src/testing/embedding-server.js";

const s = new EmbeddingTestServer({ latencyMs: Number(process.argv[2] ?? 5), dimensions: 64, port: 18123 });
await s.start();
console.log("ready");
process.on("SIGTERM", async () => {
  const st = s.stats();
  console.error(
    JSON.stringify({
      requests: st.requests,
      texts: st.textsOk,
      meanInFlight: st.meanInFlight.toFixed(2),
      maxInFlight: st.maxInFlight,
    }),
  );
  await s.stop();
  process.exit(0);
});
setInterval(() => {}, 1000);
