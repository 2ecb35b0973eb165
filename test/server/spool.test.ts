/**
 * The spool folder: one per database and one server at a time; files that no unfinished plan
 * needs (left by a crash after planning, or by requests that died with the process) are removed
 * at start and whenever a plan completes. Bodies with invalid UTF-8 are refused with their line.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.js";
import { expectCliError } from "../helpers/fixtures.js";
import { startServeProcess, waitUntilSettled } from "../helpers/serve.js";
import { expectError, jsonInit, jsonlInit, startTestServer } from "../helpers/server.js";

const body = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, content: `Text ${i}.` })).join(
    "\n",
  );

function post(url: string, id: string, payload: string) {
  return fetch(`${url}/v1/batches?batch_id=${id}`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: payload,
  });
}

const files = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f !== ".owner")
    .sort();

describe("the spool folder", () => {
  it("orphans are removed at start and when a plan completes", async () => {
    const dir = tempDir("docbatch-spool-");
    const db = path.join(dir, "s.db");
    const spool = `${db}-spool`;
    const first = await startServeProcess(["--db", db]);
    expect((await post(first.url, "done", body("d", 20))).status).toBe(202);
    await waitUntilSettled(first.url, "done");
    expect(files(spool)).toEqual([]);
    first.child.kill("SIGKILL");
    await first.exited;
    // What a crash leaves: an upload in flight, and the body of a batch whose plan had completed
    // (the crash came between the plan's end and the removal).
    const orphans = [
      "upload-1b2c.json",
      "0123456789abcdef0123456789abcdef-0123456789abcdef0123456789abcdef.jsonl",
    ];
    for (const name of orphans) fs.writeFileSync(path.join(spool, name), "[]");

    const second = await startServeProcess(["--db", db]);
    try {
      expect(files(spool)).toEqual([]);
      // Left while the server runs: gone once the next plan completes.
      fs.writeFileSync(path.join(spool, orphans[1]!), "[]");
      expect((await post(second.url, "next", body("n", 20))).status).toBe(202);
      await waitUntilSettled(second.url, "next");
      expect(files(spool)).toEqual([]);
    } finally {
      second.child.kill("SIGKILL");
    }
  });

  it("the body of a plan left unfinished (cancelled while planning) survives a sweep at start", async () => {
    const server = await startTestServer();
    try {
      expect((await server.app.request("/v1/batches?batch_id=p", jsonlInit(body("p", 3_000)))).status).toBe(
        202,
      );
      expect((await server.app.request("/v1/batches/p/cancel", { method: "POST" })).status).toBe(200);
      if ((await server.store.getBatch("p"))!.planComplete) return; // planned before the cancel: nothing to check
      await server.service.resumeOwned(); // what a restart does first: sweep, then resume
      expect(files(server.spoolDir)).toHaveLength(1);
      expect((await server.app.request("/v1/batches/p/resume", { method: "POST" })).status).toBe(202);
      for (
        let waited = 0;
        !(await server.store.getBatch("p"))!.planComplete && waited < 60_000;
        waited += 50
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(files(server.spoolDir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("two servers with databases in one folder have a spool folder each; a folder in use is refused", async () => {
    const dir = tempDir("docbatch-spool-two-");
    const a = await startServeProcess(["--db", path.join(dir, "a.db")]);
    const b = await startServeProcess(["--db", path.join(dir, "b.db")]);
    try {
      const posts = await Promise.all([post(a.url, "x", body("a", 30)), post(b.url, "x", body("b", 30))]);
      expect(posts.map((r) => r.status)).toEqual([202, 202]);
      await Promise.all([waitUntilSettled(a.url, "x"), waitUntilSettled(b.url, "x")]);
      expect(fs.existsSync(path.join(dir, "a.db-spool"))).toBe(true);
      expect(fs.existsSync(path.join(dir, "b.db-spool"))).toBe(true);
      const shared = await runCli([
        "serve",
        "--port",
        "0",
        "--db",
        path.join(dir, "c.db"),
        "--spool-dir",
        path.join(dir, "a.db-spool"),
      ]);
      const error = expectCliError(shared, "USAGE");
      expect(error.message).toMatch(/in use by process/);
    } finally {
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
    }
  });
});

describe("bodies with invalid UTF-8", () => {
  it("are 400 INVALID_INPUT with the line of each bad byte, as JSON Lines and as JSON; nothing is kept", async () => {
    const server = await startTestServer();
    try {
      const bad = Buffer.concat([
        Buffer.from('{"id":"a","content":"fine"}\n{"id":"b","content":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('"}\n'),
      ]);
      const lines = await expectError(
        await server.app.request("/v1/batches", jsonlInit(new Uint8Array(bad))),
        400,
        "INVALID_INPUT",
      );
      expect(lines.details).toEqual([expect.objectContaining({ line: 2, path: "line 2" })]);
      const jsonBody = Buffer.concat([
        Buffer.from('{"documents": [\n{"id": "a", "content": "x"},\n{"id": "b'),
        Buffer.from([0xff]),
        Buffer.from('", "content": "y"}]}'),
      ]);
      const error = await expectError(
        await server.app.request("/v1/batches", { ...jsonInit(""), body: new Uint8Array(jsonBody) }),
        400,
        "INVALID_INPUT",
      );
      expect(error.details[0]).toMatchObject({ path: "documents[1]", line: 3 });
      expect(await server.store.listBatches()).toEqual([]);
      expect(files(server.spoolDir)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
