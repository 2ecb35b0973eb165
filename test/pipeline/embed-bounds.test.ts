import { getEventListeners } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocbatchError, failureKind } from "../../src/core/errors.js";
import type { Embedder } from "../../src/pipeline/embed/embedder.js";
import { HttpEmbedder } from "../../src/pipeline/embed/http.js";
import { EmbedQueue, SharedRequestFailed } from "../../src/pipeline/embed/queue.js";
import { RunEmbedCache } from "../../src/runner/embed-cache.js";
import { sharedEmbeddings } from "../helpers/embeddings.js";

const listeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;

/** The queue sends what a turn of the event loop submitted once that turn is over. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("abort listeners per request", () => {
  const embeddings = sharedEmbeddings({ latencyMs: 1 });

  it("a document sending hundreds of requests leaves no listener on its signal", async () => {
    const embedder = new HttpEmbedder({ url: embeddings.url, model: "m", timeoutMs: 5_000 });
    const queue = new EmbedQueue(embedder, 4, 2);
    const doc = new AbortController();
    try {
      for (let i = 0; i < 300; i++) {
        await queue.embed([`text ${i}`], doc.signal);
        expect(listeners(doc.signal), `after request ${i}`).toBe(0);
      }
    } finally {
      await embedder.close();
    }
  });

  it("nor do documents whose texts share requests, nor one whose request fails", async () => {
    const embedder = new HttpEmbedder({ url: embeddings.url, model: "m", timeoutMs: 5_000 });
    // One slot: submissions wait and are sent together.
    const queue = new EmbedQueue(embedder, 64, 1);
    const docs = [0, 1, 2, 3].map(() => new AbortController());
    try {
      for (let round = 0; round < 50; round++) {
        await Promise.all(docs.map((d, k) => queue.embed([`r${round} d${k}`, "x"], d.signal)));
      }
      embeddings.server.setDown("503");
      for (let round = 0; round < 20; round++) {
        await expect(queue.embed(["down"], docs[0]!.signal)).rejects.toBeInstanceOf(DocbatchError);
      }
      for (const d of docs) expect(listeners(d.signal)).toBe(0);
    } finally {
      embeddings.server.setDown(false);
      await embedder.close();
    }
  });
});

/** An embedder that answers after `hold` resolves, and fails as `fail` says for a request's texts. */
function scriptedEmbedder(fail: (texts: string[]) => DocbatchError | null) {
  const requests: string[][] = [];
  let open!: () => void;
  const hold = new Promise<void>((resolve) => {
    open = resolve;
  });
  const embedder: Embedder = {
    id: "scripted",
    async embed(texts) {
      requests.push(texts);
      await hold;
      const error = fail(texts);
      if (error) throw error;
      return texts.map(() => new Float32Array([1]));
    },
    async close() {},
  };
  return { embedder, requests, open };
}

describe("filling a request", () => {
  it("sends what one turn submitted together, however many slots are free", async () => {
    const { embedder, requests, open } = scriptedEmbedder(() => null);
    const queue = new EmbedQueue(embedder, 4, 8);
    const signal = new AbortController().signal;
    const turn = [["a1", "a2"], ["b1"], ["c1"], ["d1", "d2"], ["e1"]].map((t) => queue.embed(t, signal));
    expect(requests).toEqual([]);
    await nextTurn();
    expect(requests).toEqual([
      ["a1", "a2", "b1", "c1"],
      ["d1", "d2", "e1"],
    ]);
    const later = queue.embed(["f1"], signal);
    await nextTurn();
    expect(requests.at(-1)).toEqual(["f1"]);
    open();
    expect((await Promise.all([...turn, later])).map((v) => v.length)).toEqual([2, 1, 1, 2, 1, 1]);
  });

  it("takes the smaller submissions behind one that does not fit, which leads the next request", async () => {
    const { embedder, requests, open } = scriptedEmbedder(() => null);
    const queue = new EmbedQueue(embedder, 8, 1);
    const signal = new AbortController().signal;
    const first = queue.embed(["first"], signal);
    await nextTurn();
    // The one slot is busy: these wait, and fill the next requests.
    const submitted = [["a1", "a2", "a3"], ["b1", "b2", "b3", "b4", "b5", "b6"], ["c1", "c2"], ["d1"]];
    const results = [first, ...submitted.map((t) => queue.embed(t, signal))];
    open();
    const vectors = await Promise.all(results);
    expect(vectors.map((v) => v.length)).toEqual([1, 3, 6, 2, 1]);
    expect(requests).toEqual([
      ["first"],
      ["a1", "a2", "a3", "c1", "c2", "d1"],
      ["b1", "b2", "b3", "b4", "b5", "b6"],
    ]);
  });
});

describe("answers and the next requests", () => {
  it("answers read are written to the run's cache before any further request leaves", async () => {
    const written = new Set<string>();
    const store = {
      lookupVectors: async () => new Map<string, Float32Array>(),
      storeVectors: async (_layer: string, entries: { hash: string }[]) => {
        for (const e of entries) written.add(e.hash);
        return entries.length;
      },
    };
    const cache = new RunEmbedCache(store, "layer", true, (err) => {
      throw err;
    });
    // At each request: the texts answered so far and not yet written to the cache.
    const answered = new Set<string>();
    const unwrittenAtSend: number[] = [];
    const embedder: Embedder = {
      id: "counting",
      async embed(texts) {
        unwrittenAtSend.push([...answered].filter((h) => !written.has(h)).length);
        await new Promise((resolve) => setTimeout(resolve, 1 + (texts.length % 3)));
        for (const h of cache.hashesOf(texts)) answered.add(h);
        return texts.map(() => new Float32Array([1]));
      },
      async close() {},
    };
    const queue = new EmbedQueue(embedder, 4, 3, () => cache.flush());
    const signal = new AbortController().signal;
    // Documents of one to six texts, each remembering its answers as a run's documents do.
    const documents = Array.from({ length: 60 }, (_, d) =>
      Array.from({ length: 1 + (d % 6) }, (_, t) => `d${d} t${t}`),
    );
    await Promise.all(
      documents.map(async (texts) => {
        for (let from = 0; from < texts.length; from += 4) {
          const part = texts.slice(from, from + 4);
          const vectors = await queue.embed(part, signal);
          // A run's document passes a few more awaits before it remembers its answers.
          for (let hop = 0; hop < 3; hop++) await Promise.resolve();
          cache.remember(cache.hashesOf(part), vectors);
        }
      }),
    );
    await cache.close();
    expect(unwrittenAtSend.length).toBeGreaterThan(30);
    expect(unwrittenAtSend.every((n) => n === 0)).toBe(true);
    expect(written.size).toBe(documents.flat().length);
  });
});

describe("a shared request whose documents are abandoned", () => {
  it("lets each abandoned document go at once, and is cancelled when the last one goes", async () => {
    const sent: { signal: AbortSignal; answer: () => void }[] = [];
    const embedder: Embedder = {
      id: "held",
      embed(texts, signal) {
        return new Promise((resolve) => {
          sent.push({ signal, answer: () => resolve(texts.map(() => new Float32Array([1]))) });
        });
      },
      async close() {},
    };
    // One slot, busy with the first document's request: the other three wait, then share one.
    const queue = new EmbedQueue(embedder, 64, 1);
    const docs = [0, 1, 2, 3].map(() => new AbortController());
    const submit = (k: number) =>
      queue.embed([`t${k}`], docs[k]!.signal).then(
        () => "answered",
        () => "abandoned",
      );
    const settled = [submit(0)];
    await nextTurn();
    settled.push(submit(1), submit(2), submit(3));
    await nextTurn();
    expect(sent).toHaveLength(1);
    sent[0]!.answer();
    expect(await settled[0]).toBe("answered");
    expect(sent).toHaveLength(2);
    const shared = sent[1]!.signal;
    expect(shared).not.toBe(docs[1]!.signal);
    docs[1]!.abort();
    docs[2]!.abort();
    expect(await settled[1]).toBe("abandoned");
    expect(await settled[2]).toBe("abandoned");
    expect(shared.aborted).toBe(false);
    docs[3]!.abort();
    expect(await settled[3]).toBe("abandoned");
    expect(shared.aborted).toBe(true);
    for (const d of docs) expect(listeners(d.signal)).toBe(0);
  });

  it("leaves the request it waited for, which goes without its texts", async () => {
    const { embedder, requests, open } = scriptedEmbedder(() => null);
    const queue = new EmbedQueue(embedder, 64, 1);
    const docs = [0, 1, 2].map(() => new AbortController());
    const submit = (k: number) =>
      queue.embed([`t${k}`], docs[k]!.signal).then(
        (v) => v.length,
        () => "abandoned",
      );
    const settled = [submit(0)];
    await nextTurn();
    settled.push(submit(1), submit(2));
    docs[1]!.abort();
    open();
    expect(await Promise.all(settled)).toEqual([1, "abandoned", 1]);
    expect(requests).toEqual([["t0"], ["t2"]]);
  });
});

describe("a shared request that fails", () => {
  it("is one failed attempt: the document that led it gets the error, the others wait without one", async () => {
    const { embedder, requests, open } = scriptedEmbedder((texts) =>
      texts.includes("c") ? new DocbatchError("EMBED_UNAVAILABLE", "503") : null,
    );
    // One slot, busy with the first submission: the next three share the second request.
    const queue = new EmbedQueue(embedder, 64, 1);
    const signal = new AbortController().signal;
    const submit = (t: string) =>
      queue.embed([t], signal).then(
        () => "ok",
        (e) => e,
      );
    const results = [submit("a")];
    await nextTurn();
    results.push(submit("b"), submit("c"), submit("d"));
    open();
    const [a, b, c, d] = await Promise.all(results);
    expect(requests).toEqual([["a"], ["b", "c", "d"]]);
    expect(a).toBe("ok");
    expect(b).toBeInstanceOf(DocbatchError);
    expect((b as DocbatchError).code).toBe("EMBED_UNAVAILABLE");
    for (const other of [c, d]) {
      expect(other).toBeInstanceOf(SharedRequestFailed);
      expect((other as SharedRequestFailed).failure).toBe(b);
    }
  });

  it("refused for good is split: only the document whose text the service refuses is refused", async () => {
    const { embedder, requests, open } = scriptedEmbedder((texts) =>
      texts.includes("bad") ? new DocbatchError("EMBED_REJECTED", "400 input too long") : null,
    );
    const queue = new EmbedQueue(embedder, 64, 1);
    const signal = new AbortController().signal;
    const submit = (t: string[]) =>
      queue.embed(t, signal).then(
        (v) => v.length,
        (e) => e,
      );
    const results = [submit(["first"])];
    await nextTurn();
    results.push(...[["x", "y"], ["bad"], ["z"]].map(submit));
    open();
    const settled = await Promise.all(results);
    expect(settled[0]).toBe(1);
    expect(settled[1]).toBe(2);
    expect((settled[2] as DocbatchError).code).toBe("EMBED_REJECTED");
    expect(settled[3]).toBe(1);
    expect(requests).toEqual([["first"], ["x", "y", "bad", "z"], ["x", "y"], ["bad"], ["z"]]);
  });
});

describe("the size of an embeddings answer", () => {
  let server: http.Server;
  let url: string;
  let mode: "announced" | "chunked" | "error" = "announced";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const big = JSON.stringify({ data: [{ index: 0, embedding: new Array(400_000).fill(0.123456) }] });
        if (mode === "announced") {
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(big),
          });
          res.end(big);
        } else if (mode === "chunked") {
          res.writeHead(200, { "content-type": "application/json" });
          // Sent in parts without a length, as a streaming proxy would.
          for (let i = 0; i < big.length; i += 65_536) res.write(big.slice(i, i + 65_536));
          res.end();
        } else {
          res.writeHead(500, { "content-type": "text/html" });
          res.end(`<html>${"oops ".repeat(2_000_000)}</html>`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/embeddings`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const how of ["announced", "chunked"] as const) {
    it(`refuses an answer past the limit (${how}): a clear, permanent error`, async () => {
      mode = how;
      const embedder = new HttpEmbedder({ url, model: "m", timeoutMs: 10_000 });
      try {
        const error = await embedder
          .embed(["one text"], new AbortController().signal)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DocbatchError);
        expect((error as DocbatchError).code).toBe("EMBED_RESPONSE_TOO_LARGE");
        expect((error as DocbatchError).message).toMatch(/limit is \d+ bytes/);
        expect(failureKind("EMBED_RESPONSE_TOO_LARGE")).toBe("permanent");
        // The same answer fits a larger limit.
        const roomy = new HttpEmbedder({ url, model: "m", timeoutMs: 10_000, maxResponseBytes: 64 << 20 });
        expect((await roomy.embed(["one text"], new AbortController().signal))[0]).toHaveLength(400_000);
        await roomy.close();
      } finally {
        await embedder.close();
      }
    });
  }

  it("reads only the start of a huge error answer", async () => {
    mode = "error";
    const embedder = new HttpEmbedder({ url, model: "m", timeoutMs: 10_000 });
    try {
      const error = (await embedder
        .embed(["x"], new AbortController().signal)
        .catch((e: unknown) => e)) as DocbatchError;
      expect(error.code).toBe("EMBED_UNAVAILABLE");
      expect(error.message.length).toBeLessThan(300);
    } finally {
      await embedder.close();
    }
  });
});
