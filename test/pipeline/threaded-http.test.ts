import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HttpEmbedder } from "../../src/pipeline/embed/http.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";

// The client runs the compiled thread: dist/ is built first when stale (test/global-setup.ts).
const { ThreadedHttpEmbedder } = await import("../../dist/pipeline/embed/threaded-http.js");
const { DocbatchError } = await import("../../dist/core/errors.js");
type Threaded = InstanceType<typeof ThreadedHttpEmbedder>;

const server = new EmbeddingTestServer({ dimensions: 16, retryAfterSeconds: 2 });
let url = "";
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  url = await server.start();
});
afterAll(() => server.stop());
afterEach(async () => {
  server.setRates({ error500: 0, rateLimit429: 0, hang: 0, drop: 0, reject400: 0 });
  await Promise.all(open.splice(0).map((e) => e.close()));
});

function threaded(timeoutMs = 5_000): Threaded {
  const embedder = new ThreadedHttpEmbedder({ url, model: "test-model", timeoutMs });
  open.push(embedder);
  return embedder;
}

const live = () => new AbortController().signal;

async function failure(call: Promise<unknown>): Promise<InstanceType<typeof DocbatchError>> {
  const err = await call.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DocbatchError);
  return err as InstanceType<typeof DocbatchError>;
}

describe("ThreadedHttpEmbedder", () => {
  it("answers what the in-process client answers, for requests in flight at once", async () => {
    const inProcess = new HttpEmbedder({ url, model: "test-model", timeoutMs: 5_000 });
    open.push(inProcess);
    const embedder = threaded();
    const texts = Array.from({ length: 8 }, (_, i) => [`alpha ${i}`, `beta ${i}`, `gamma ${i}`]);
    const got = await Promise.all(texts.map((t) => embedder.embed(t, live())));
    const want = await Promise.all(texts.map((t) => inProcess.embed(t, live())));
    expect(got.map((vs) => vs.map((v) => [...v]))).toEqual(want.map((vs) => vs.map((v) => [...v])));
    expect(got[0]![0]).toBeInstanceOf(Float32Array);
    expect(embedder.id).toBe(inProcess.id);
  });

  it("takes the thread started on standby, which learns its options from its first message", async () => {
    ThreadedHttpEmbedder.prewarm();
    const embedder = threaded();
    // Nothing on standby any more: ending it leaves the client's thread alone.
    ThreadedHttpEmbedder.discard();
    const inProcess = new HttpEmbedder({ url, model: "test-model", timeoutMs: 5_000 });
    open.push(inProcess);
    const [got] = await embedder.embed(["standby"], live());
    const [want] = await inProcess.embed(["standby"], live());
    expect([...got!]).toEqual([...want!]);
  });

  it("carries the service's error, its code and its Retry-After, across the thread", async () => {
    const embedder = threaded();
    server.setRates({ rateLimit429: 1 });
    const limited = await failure(embedder.embed(["x"], live()));
    expect(limited.code).toBe("EMBED_RATE_LIMITED");
    expect(limited.retryAfterMs).toBe(2_000);
    expect(limited.message).toContain("429");
    server.setRates({ rateLimit429: 0, reject400: 1 });
    const rejected = await failure(embedder.embed(["x"], live()));
    expect(rejected.code).toBe("EMBED_REJECTED");
    expect(rejected.hints.length).toBeGreaterThan(0);
  });

  it("times out a request the service never answers", async () => {
    const embedder = threaded(300);
    server.setRates({ hang: 1 });
    const err = await failure(embedder.embed(["x"], live()));
    expect(err.code).toBe("EMBED_TIMEOUT");
  });

  it("gives up a request its caller aborts, at once, and closes its connection", async () => {
    const embedder = threaded();
    server.setRates({ hang: 1 });
    const controller = new AbortController();
    const call = embedder.embed(["x"], controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.stats().inFlight).toBe(1);
    const reason = new Error("stopped");
    const started = performance.now();
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(100);
    for (let i = 0; i < 50 && server.stats().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.stats().inFlight).toBe(0);
  });

  it("fails the requests it holds when it is closed, as the in-process client does", async () => {
    const embedder = new ThreadedHttpEmbedder({ url, model: "test-model", timeoutMs: 5_000 });
    server.setRates({ hang: 1 });
    const held = embedder.embed(["x"], live());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await embedder.close();
    expect((await failure(held)).code).toBe("EMBED_UNAVAILABLE");
  });

  it("fails what a lost thread held as retryable, and goes on in-process", async () => {
    const embedder = threaded();
    server.setRates({ hang: 1 });
    const held = embedder.embed(["x"], live());
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The thread ends under the client, as a crashed one would.
    await (embedder as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const err = await failure(held);
    expect(err.code).toBe("EMBED_UNAVAILABLE");
    server.setRates({ hang: 0 });
    const vectors = await embedder.embed(["y", "z"], live());
    expect(vectors).toHaveLength(2);
  });
});
