/**
 * Racing submissions against a real `docbatch serve` process: two POSTs of one batch id with
 * different bodies, sent at the same moment, never both create the batch; the stored documents
 * are exactly the winner's; cancels right after submit leave no thread or embedder behind; and
 * SIGTERM afterwards stops the service promptly.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/cli.js";
import { sharedEmbeddings } from "../helpers/embeddings.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { type ServeProcess, startServeProcess, waitUntilSettled } from "../helpers/serve.js";

const ROUNDS = 20;

function body(prefix: string, count: number, json: boolean): string {
  const docs = Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    content: `Document ${prefix} ${i}. It is about racing submissions.\n\nA second paragraph ${i}.`,
  }));
  return json ? JSON.stringify({ documents: docs }) : docs.map((d) => JSON.stringify(d)).join("\n");
}

function post(url: string, batchId: string, payload: string, json: boolean) {
  return fetch(`${url}/v1/batches?batch_id=${encodeURIComponent(batchId)}`, {
    method: "POST",
    headers: { "content-type": json ? "application/json" : "application/x-ndjson" },
    body: payload,
  });
}

async function documentIds(url: string, batchId: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/batches/${encodeURIComponent(batchId)}/documents?limit=1000`);
  const page = (await res.json()) as { documents: { id: string }[] };
  return page.documents.map((d) => d.id).sort();
}

/** Threads of a process, from /proc (Linux). */
function threads(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^Threads:\s+(\d+)/m.exec(status)![1]);
}

async function sigterm(serve: ServeProcess): Promise<number> {
  const started = Date.now();
  serve.child.kill("SIGTERM");
  const exit = await Promise.race([
    serve.exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000)),
  ]);
  if (exit === null) serve.child.kill("SIGKILL");
  expect(exit, `serve did not stop within 30 s of SIGTERM; stderr: ${serve.stderr()}`).not.toBeNull();
  expect(exit!.code).toBe(0);
  const took = Date.now() - started;
  console.log(`SIGTERM to exit: ${took} ms`);
  return took;
}

describe("racing submissions of one batch id", () => {
  const embeddings = sharedEmbeddings({ latencyMs: 3 });
  /** `docbatch serve` on the SQLite store `db`, embedding with the shared test service, 4 at a time. */
  const serveWithEmbeddings = (db: string) =>
    startServeProcess(["--db", db, "--embed-url", embeddings.url, "--concurrency", "4"]);

  it(`${ROUNDS} rounds of two simultaneous POSTs with different bodies: never two 202s, the winner's documents stored; SIGTERM then stops within 10 s`, async () => {
    const random = seededRandom(testSeed("submit race"));
    const dir = tempDir("docbatch-race-");
    const serve = await serveWithEmbeddings(path.join(dir, "race.db"));
    try {
      const winners = new Map<string, string>();
      for (let round = 0; round < ROUNDS; round++) {
        const id = `race-${round}`;
        const json = random() < 0.5;
        const sizes = [1 + Math.floor(random() * 40), 1 + Math.floor(random() * 40)];
        const [a, b] = await Promise.all([
          post(serve.url, id, body(`${id}-a`, sizes[0]!, json), json),
          post(serve.url, id, body(`${id}-b`, sizes[1]!, !json), !json),
        ]);
        const statuses = [a.status, b.status].sort();
        expect(statuses, `round ${round}: ${await a.text()} / ${await b.text()}`).toEqual([202, 409]);
        winners.set(id, a.status === 202 ? `${id}-a` : `${id}-b`);
        const loser = a.status === 409 ? a : b;
        if (!loser.bodyUsed) {
          const error = ((await loser.json()) as { error: { code: string } }).error;
          expect(error.code).toBe("BATCH_CONFLICT");
        }
        // The same body as the winner's, again: 200, nothing new.
      }
      for (const [id, prefix] of winners) {
        await waitUntilSettled(serve.url, id, 60_000);
        const ids = await documentIds(serve.url, id);
        expect(ids.length).toBeGreaterThan(0);
        expect(
          ids.every((d) => d.startsWith(`${prefix}-`)),
          `${id}: ${ids.slice(0, 3).join(", ")}`,
        ).toBe(true);
      }
      // One more burst, left running: SIGTERM must still stop the service promptly.
      await Promise.all(
        Array.from({ length: ROUNDS }, (_, i) =>
          Promise.all([
            post(serve.url, `late-${i}`, body(`late-${i}-a`, 100, false), false),
            post(serve.url, `late-${i}`, body(`late-${i}-b`, 100, true), true),
          ]),
        ),
      );
      expect(await sigterm(serve)).toBeLessThan(10_000);
    } finally {
      serve.child.kill("SIGKILL");
    }
  }, 300_000);

  it("on the Postgres store too: of two simultaneous bodies under one id, one is stored, the other gets 409", async () => {
    const url = pgUrl();
    if (!url) return; // No Postgres here (outside CI): the SQLite rounds above still ran.
    const { url: schemaUrl, schema } = freshSchemaUrl(url, "race");
    const serve = await startServeProcess([
      "--store",
      schemaUrl,
      "--spool-dir",
      path.join(tempDir("docbatch-race-pg-"), "spool"),
    ]);
    try {
      for (let round = 0; round < 10; round++) {
        const id = `pg-${round}`;
        const [a, b] = await Promise.all([
          post(serve.url, id, body(`${id}-a`, 15, true), true),
          post(serve.url, id, body(`${id}-b`, 25, false), false),
        ]);
        expect([a.status, b.status].sort()).toEqual([202, 409]);
        const prefix = a.status === 202 ? `${id}-a` : `${id}-b`;
        await waitUntilSettled(serve.url, id, 60_000);
        const ids = await documentIds(serve.url, id);
        expect(ids).toHaveLength(prefix.endsWith("-a") ? 15 : 25);
        expect(ids.every((d) => d.startsWith(`${prefix}-`))).toBe(true);
      }
      await sigterm(serve);
    } finally {
      serve.child.kill("SIGKILL");
      await dropSchemas(url, [schema]);
    }
  }, 240_000);

  it("the same body twice at the same moment: one 202, one 200", async () => {
    const dir = tempDir("docbatch-race-same-");
    const serve = await startServeProcess(["--db", path.join(dir, "same.db")]);
    try {
      for (let round = 0; round < 5; round++) {
        const payload = body(`same-${round}`, 20, false);
        const answers = await Promise.all([
          post(serve.url, `same-${round}`, payload, false),
          post(serve.url, `same-${round}`, payload, false),
        ]);
        expect(answers.map((r) => r.status).sort()).toEqual([200, 202]);
      }
      await sigterm(serve);
    } finally {
      serve.child.kill("SIGKILL");
    }
  });

  it("submit then cancel at once, many times: threads come back down, and SIGTERM stops within 10 s", async () => {
    const dir = tempDir("docbatch-cancel-");
    const serve = await serveWithEmbeddings(path.join(dir, "cancel.db"));
    try {
      const pid = serve.child.pid!;
      // A first batch warms everything up (pools of the store, the HTTP agent) and settles.
      expect((await post(serve.url, "warm", body("warm", 50, false), false)).status).toBe(202);
      await waitUntilSettled(serve.url, "warm", 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const baseline = threads(pid);
      for (let i = 0; i < 8; i++) {
        const id = `cancel-${i}`;
        expect((await post(serve.url, id, body(id, 300, i % 2 === 0), i % 2 === 0)).status).toBe(202);
        const cancelled = await fetch(`${serve.url}/v1/batches/${id}/cancel`, { method: "POST" });
        expect(cancelled.status).toBe(200);
      }
      // Worker threads end asynchronously after their pool closes.
      let now = threads(pid);
      for (let waited = 0; now > baseline && waited < 10_000; waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        now = threads(pid);
      }
      expect(now, `threads: ${baseline} before, ${now} after 8 submit+cancel cycles`).toBeLessThanOrEqual(
        baseline,
      );
      expect(await sigterm(serve)).toBeLessThan(10_000);
    } finally {
      serve.child.kill("SIGKILL");
    }
  });
});
