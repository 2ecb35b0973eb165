/**
 * The service under abuse: a foreign Host (DNS rebinding) and cross-site requests that change
 * state are refused on loopback; the token is compared by digest, read from DOCBATCH_TOKEN, kept
 * out of links and caches, and challenged with WWW-Authenticate; errors name no internal file and
 * no place outside the root; a client that aborts its upload is not an internal error.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/runner/logger.js";
import { createApp } from "../../src/server/app.js";
import { LOOPBACK_HOSTS } from "../../src/server/guards.js";
import { BatchService } from "../../src/server/service.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { tempDir } from "../helpers/cli.js";
import { startServeProcess } from "../helpers/serve.js";
import {
  expectError,
  getJson,
  jsonInit,
  serveForBlock,
  startTestServer,
  type TestServer,
  waitSettled,
} from "../helpers/server.js";

const DOCS = [{ id: "a", content: "A document about guards." }];

/** The app as `serve` builds it on loopback without a token. */
async function loopbackApp(dir: string, extra: { token?: string } = {}) {
  const store = new SqliteStore({ file: path.join(dir, "g.db"), durability: "normal" });
  await store.open();
  const service = new BatchService({
    store,
    spoolDir: path.join(dir, "spool"),
    limits: { maxBytes: 1 << 20, maxDepth: 16 },
    process: { concurrency: 2 },
    output: {},
    logger: createLogger(undefined),
  });
  const app = createApp(service, {
    maxBodyBytes: 1 << 20,
    ...(extra.token ? { token: extra.token } : { allowedHosts: LOOPBACK_HOSTS }),
  });
  return { app, service, store };
}

describe("Host and Origin on loopback without a token", () => {
  let dir = "";
  let ctx: Awaited<ReturnType<typeof loopbackApp>>;
  beforeAll(async () => {
    dir = tempDir("docbatch-guards-");
    ctx = await loopbackApp(dir);
    const res = await ctx.app.request("/v1/batches?batch_id=g", jsonInit({ documents: DOCS }));
    expect(res.status).toBe(202);
    await waitSettled(ctx.app, "g");
  });
  afterAll(async () => {
    await ctx.service.shutdown();
    await ctx.store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a foreign Host on every route (a DNS-rebound page reads nothing), accepts loopback names", async () => {
    for (const route of ["/v1/batches", "/v1/batches/g/export", "/metrics", "/"]) {
      const error = await expectError(
        await ctx.app.request(route, { headers: { host: "evil.example:8080" } }),
        403,
        "HOST_NOT_ALLOWED",
      );
      expect(error.details[0]!.path).toBe("Host");
    }
    for (const host of ["localhost:8080", "127.0.0.1:9", "[::1]:8080", "LOCALHOST", "127.0.0.2"]) {
      const res = await ctx.app.request("/v1/batches", { headers: { host } });
      expect(res.status, host).toBe(200);
    }
  });

  it("refuses a cross-site POST (Origin or Sec-Fetch-Site) and changes nothing", async () => {
    const evil = { host: "127.0.0.1:8080", origin: "https://evil.example" };
    await expectError(
      await ctx.app.request("/v1/batches/g/cancel", { method: "POST", headers: evil }),
      403,
      "CROSS_SITE_REQUEST",
    );
    await expectError(
      await ctx.app.request("/v1/batches?batch_id=x", jsonInit({ documents: DOCS }, { headers: evil })),
      403,
      "CROSS_SITE_REQUEST",
    );
    for (const site of ["cross-site", "same-site"]) {
      await expectError(
        await ctx.app.request("/v1/batches/g/retry", {
          method: "POST",
          headers: { host: "127.0.0.1:8080", "sec-fetch-site": site },
        }),
        403,
        "CROSS_SITE_REQUEST",
      );
    }
    await expectError(
      await ctx.app.request("/v1/batches/g/resume", { method: "POST", headers: { origin: "null" } }),
      403,
      "CROSS_SITE_REQUEST",
    );
    expect((await getJson<{ cancelled: boolean }>(ctx.app, "/v1/batches/g/status")).cancelled).toBe(false);
    expect(await ctx.store.getBatch("x")).toBeNull();
    // The dashboard's own requests (same origin) and tools (no Origin) pass; GETs are never refused for their origin.
    const same = await ctx.app.request("/v1/batches/g/resume", {
      method: "POST",
      headers: { host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", "sec-fetch-site": "same-origin" },
    });
    expect(same.status).toBe(202);
    const read = await ctx.app.request("/v1/batches", { headers: { origin: "https://evil.example" } });
    expect(read.status).toBe(200);
  });
});

describe("the token", () => {
  let server: TestServer;
  serveForBlock(
    (started) => {
      server = started;
    },
    { token: "s3cret-token" },
  );

  it("401 carries WWW-Authenticate; a token of another length is simply wrong", async () => {
    const none = await server.app.request("/v1/batches");
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="docbatch"');
    await expectError(none, 401, "UNAUTHORIZED");
    for (const wrong of ["s", "s3cret-tokeN", "s3cret-token-and-more"]) {
      const res = await server.app.request("/v1/batches", { headers: { authorization: `Bearer ${wrong}` } });
      expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
      await expectError(res, 401, "UNAUTHORIZED");
    }
  });

  it("refuses cross-site state changes even with the right token", async () => {
    await expectError(
      await server.app.request("/v1/batches/x/cancel", {
        method: "POST",
        headers: { authorization: "Bearer s3cret-token", origin: "https://evil.example" },
      }),
      403,
      "CROSS_SITE_REQUEST",
    );
  });

  it("a URL with the token is never cached, and no link in an answer carries it", async () => {
    const auth = { authorization: "Bearer s3cret-token" };
    const res = await server.app.request(
      "/v1/batches?batch_id=t",
      jsonInit({ documents: DOCS }, { headers: auth }),
    );
    expect(res.status).toBe(202);
    await waitSettled(server.app, "t", { headers: auth });
    for (const route of ["/?access_token=s3cret-token", "/v1/batches?access_token=s3cret-token"]) {
      const page = await server.app.request(route);
      expect(page.status).toBe(200);
      expect(page.headers.get("cache-control")).toBe("no-store");
      const text = await page.text();
      if (route.startsWith("/v1")) expect(text).not.toContain("s3cret-token");
    }
    const docs = await server.app.request("/v1/batches/t/documents?limit=1&access_token=s3cret-token");
    expect(await docs.text()).not.toContain("s3cret-token");
  });
});

describe("no internal detail in errors", () => {
  let server: TestServer;
  let outside = "";
  beforeAll(async () => {
    server = await startTestServer({ root: true });
    outside = tempDir("docbatch-outside-");
    fs.writeFileSync(path.join(outside, "secret.txt"), "secret");
    fs.symlinkSync(outside, path.join(server.root!, "link"));
    fs.symlinkSync(path.join(outside, "nothing-here.txt"), path.join(server.root!, "dangling.txt"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(server.root!, "direct.txt"));
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it("a path through a symlink that leaves the root: one answer whether the file exists or not, no target named", async () => {
    const answers: string[] = [];
    for (const file of ["link/secret.txt", "link/missing.txt", "direct.txt", "dangling.txt"]) {
      const error = await expectError(
        await server.app.request("/v1/batches", jsonInit([{ id: "p", path: file }])),
        400,
        "INVALID_INPUT",
      );
      const text = JSON.stringify(error);
      expect(text).not.toContain(outside);
      answers.push(error.details[0]!.problem);
    }
    expect(new Set(answers).size).toBe(1);
  });

  it("INVALID_JSON names the body, not the spool file", async () => {
    const error = await expectError(
      await server.app.request("/v1/batches", jsonInit('{"documents": [}')),
      400,
      "INVALID_JSON",
    );
    expect(error.message).toMatch(/^The body is not valid JSON at line 1/);
    expect(JSON.stringify(error)).not.toMatch(/upload-|spool|\.json\b/);
  });
});

describe("a real serve process", () => {
  it("reads the token from DOCBATCH_TOKEN (not on its command line) and refuses a foreign Host and a cross-site POST", async () => {
    const dir = tempDir("docbatch-env-token-");
    const serve = await startServeProcess(["--db", path.join(dir, "t.db")], { DOCBATCH_TOKEN: "from-env" });
    try {
      expect(fs.readFileSync(`/proc/${serve.child.pid}/cmdline`, "utf8")).not.toContain("from-env");
      expect((await fetch(`${serve.url}/v1/batches`)).status).toBe(401);
      const ok = await fetch(`${serve.url}/v1/batches`, { headers: { authorization: "Bearer from-env" } });
      expect(ok.status).toBe(200);
    } finally {
      serve.child.kill("SIGKILL");
    }
    const open = await startServeProcess(["--db", path.join(dir, "o.db")]);
    try {
      const raw = (headers: Record<string, string>, method = "GET", route = "/v1/batches") =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const u = new URL(open.url);
          const req = http.request(
            { host: u.hostname, port: u.port, path: route, method, headers },
            (res) => {
              let body = "";
              res.setEncoding("utf8").on("data", (d: string) => {
                body += d;
              });
              res.on("end", () => resolve({ status: res.statusCode!, body }));
            },
          );
          req.on("error", reject);
          req.end();
        });
      const rebound = await raw({ host: "evil.example" });
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body).error.code).toBe("HOST_NOT_ALLOWED");
      const csrf = await raw(
        { host: new URL(open.url).host, origin: "https://evil.example" },
        "POST",
        "/v1/batches/x/cancel",
      );
      expect(csrf.status).toBe(403);
      expect(JSON.parse(csrf.body).error.code).toBe("CROSS_SITE_REQUEST");
      expect((await raw({ host: new URL(open.url).host })).status).toBe(200);
    } finally {
      open.child.kill("SIGKILL");
    }
  });

  it("a client that aborts its upload is not logged as an internal error", async () => {
    const dir = tempDir("docbatch-abort-");
    const log = path.join(dir, "serve.log");
    const serve = await startServeProcess(["--db", path.join(dir, "a.db"), "--log-file", log]);
    try {
      const u = new URL(serve.url);
      await new Promise<void>((resolve) => {
        const req = http.request({
          host: u.hostname,
          port: u.port,
          path: "/v1/batches",
          method: "POST",
          headers: { "content-type": "application/x-ndjson", "transfer-encoding": "chunked" },
        });
        req.on("error", () => resolve());
        req.write(`${JSON.stringify(DOCS[0])}\n{"id": "half`);
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
      const logged = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
      expect(logged).not.toMatch(/INTERNAL|http\.internal/);
      expect(serve.stderr()).not.toMatch(/\n\s+at\s/);
      expect(fs.readdirSync(path.join(dir, "a.db-spool")).filter((f) => f !== ".owner")).toEqual([]);
    } finally {
      serve.child.kill("SIGKILL");
    }
  });
});
