import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DomUtils, parseDocument } from "htmlparser2";
import { describe, expect, it } from "vitest";
import { renderDashboard } from "../../src/server/dashboard.js";
import type { RunningServer } from "../../src/server/serve.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";
import {
  assertNoLayoutOverflow,
  guardedPage,
  launchChromium,
  requireChromium,
  startDashboardServer,
} from "../helpers/chromium.js";
import { ROOT, tempDir } from "../helpers/cli.js";
import { makeCorpus } from "../helpers/corpus.js";

const TOKEN = "dash-token-1";
const HOSTILE = `<img src=x onerror=alert(1)>"'&`;

describe("renderDashboard", () => {
  it("fetches nothing but this server: no external URL, and a CSP that admits only its own script", () => {
    const html = renderDashboard();
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/(src|href|action)\s*=\s*["']?\s*\/\//i);
    expect(html).not.toMatch(/url\(|@import/i);
    const dom = parseDocument(html);
    const elements = DomUtils.findAll(() => true, dom.children);
    for (const e of elements) {
      for (const name of ["src", "href", "action"]) {
        const value = e.attribs[name];
        if (value !== undefined) expect(value, `<${e.name} ${name}>`).toMatch(/^(\/(?!\/)|data:,$)/);
      }
    }
    const scripts = elements.filter((e) => e.name === "script");
    expect(scripts).toHaveLength(1);
    expect(scripts[0]!.attribs.src).toBeUndefined();
    const csp = DomUtils.findOne(
      (e) => e.name === "meta" && e.attribs["http-equiv"] === "Content-Security-Policy",
      dom.children,
    )?.attribs.content;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const hash = createHash("sha256").update(DomUtils.textContent(scripts[0]!)).digest("base64");
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    // Settings travel in the page, so the script (and its hash) is the same for every server.
    const other = parseDocument(renderDashboard({ refreshMs: 1_000 }));
    const body = DomUtils.findOne((e) => e.name === "body", other.children);
    expect(JSON.parse(body!.attribs["data-config"]!)).toEqual({ refreshMs: 1000 });
    const otherScript = DomUtils.findOne((e) => e.name === "script", other.children);
    expect(DomUtils.textContent(otherScript!)).toBe(DomUtils.textContent(scripts[0]!));
  });
});

describe("the dashboard in Chromium", () => {
  it("submits a batch, follows it live over SSE, and retries a failed document", async (ctx) => {
    requireChromium("the dashboard", (note) => ctx.skip(note));
    const dir = tempDir();
    const root = path.join(dir, "root");
    fs.mkdirSync(root);
    const embeddings = new EmbeddingTestServer({ latencyMs: 15 });
    const embedUrl = await embeddings.start();
    const store = new SqliteStore({ file: path.join(dir, "store.db") });
    await store.open();
    let server: RunningServer | null = null;
    const browser = await launchChromium();
    try {
      server = await startDashboardServer(dir, store, TOKEN, {
        root,
        output: { embedUrl },
        // Requests of 4 texts, one at a time: the batch lasts several of the stream's 200 ms
        // intervals however fast the machine (requests of 64 took two).
        process: { concurrency: 2, embedBatchSize: 4, embedConcurrency: 1 },
      });
      const origin = server.url;

      const { page, blocked, errors } = await guardedPage(
        browser,
        (url) => url === origin || url.startsWith(`${origin}/`),
      );
      const requests: { method: string; url: string; type: string; auth: string | undefined }[] = [];
      page.on("request", (r) =>
        requests.push({
          method: r.method(),
          url: r.url(),
          type: r.resourceType(),
          auth: r.headers().authorization,
        }),
      );

      await page.goto(`${origin}/?access_token=${TOKEN}`, { waitUntil: "load" });
      await page.locator("#batch-list").getByText("No batches yet").waitFor();

      // Short texts: filling the form with a megabyte takes Chromium longer than the batch itself.
      const documents: Record<string, unknown>[] = makeCorpus({ count: 300, seed: 11, largeShare: 0 }).map(
        (d) => ({ id: d.id, source: d.source, content: d.markers.join(" "), metadata: d.metadata }),
      );
      // Two files that do not exist: one under a name that would inject HTML if the page used innerHTML.
      documents.push({ id: "missing-file", path: "nope.txt" }, { id: HOSTILE, path: `${HOSTILE}.txt` });
      // Content that is not the JSON it claims to be: completed by the fallback path, degraded.
      documents.push({ id: "not-json", content: "{ this is not json", format: "json" });
      await page.fill("#submit-json", JSON.stringify({ batch_id: "dash", documents }));
      await page.click("#submit-form button[type=submit]");

      const seen: string[] = [];
      const start = Date.now();
      for (;;) {
        const text = (await page.textContent("#progress-text")) ?? "";
        if (seen.at(-1) !== text) seen.push(text);
        if (text === "100.0%") break;
        if (Date.now() - start > 60_000) throw new Error(`never reached 100.0%; saw ${seen.join(", ")}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Several values on the way, in order: the page followed the stream rather than loading once.
      const values = seen.filter((t) => /^\d+\.\d%$/.test(t)).map((t) => Number.parseFloat(t));
      expect(values.filter((v) => v > 0 && v < 100).length, seen.join(" → ")).toBeGreaterThanOrEqual(3);
      expect(values, seen.join(" → ")).toEqual([...values].sort((a, b) => a - b));
      expect(await page.locator("[data-batch-id=dash]").getAttribute("aria-pressed")).toBe("true");
      expect(await page.locator("#progress-bar").getAttribute("aria-valuenow")).toBe("100.0");

      // Live numbers come over the event stream, carrying the token as a query; fetches carry a header.
      const api = requests.filter((r) => r.url.startsWith(`${origin}/v1/`));
      const streams = api.filter((r) => r.url.includes("/v1/batches/dash/events"));
      expect(streams.length).toBeGreaterThanOrEqual(1);
      expect(streams.every((r) => r.url.endsWith(`/events?access_token=${TOKEN}`))).toBe(true);
      const fetches = api.filter((r) => r.type === "fetch");
      expect(fetches.length).toBeGreaterThan(0);
      expect(fetches.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
      expect(api.filter((r) => r.url.includes("/status"))).toEqual([]);
      const reports = api.filter((r) => new URL(r.url).pathname === "/v1/batches/dash");
      expect(reports.length).toBeLessThanOrEqual(3);

      const count = (state: string) => page.locator(`[data-count=${state}]`).textContent();
      await expect.poll(() => count("failed"), { timeout: 10_000 }).toBe("2");
      expect(await count("done")).toBe("300");
      expect(await count("degraded")).toBe("1");
      expect(await count("total")).toBe("303");

      // Degraded documents are listed beside the failed ones, with their reason, which no label cuts.
      const degraded = page.locator('#degraded-table tbody tr[data-doc-id="not-json"]');
      await degraded.waitFor();
      expect(await degraded.locator("[data-field=code]").textContent()).toBe("MALFORMED_CONTENT");
      expect(await degraded.locator("[data-field=message]").textContent()).toMatch(/JSON/);
      await expect
        .poll(() => page.locator("#failure-reasons [data-reason=MALFORMED_CONTENT]").textContent(), {
          timeout: 10_000,
        })
        .toBe("1");
      const cut = await page
        .locator(".reasons .code, td[data-field=code] .pill")
        .evaluateAll((labels) =>
          labels
            .filter((e) => (e.scrollWidth as number) > (e.clientWidth as number) + 1)
            .map((e) => e.textContent as string),
        );
      expect(cut).toEqual([]);
      await expect
        .poll(() => page.locator("#failure-reasons [data-reason=NOT_FOUND]").textContent(), {
          timeout: 10_000,
        })
        .toBe("2");

      const row = page.locator('#failed-table tbody tr[data-doc-id="missing-file"]');
      const field = (name: string) => row.locator(`[data-field=${name}]`).textContent();
      await row.waitFor();
      expect(await row.locator("td").first().textContent()).toBe("missing-fileinline");
      expect(await field("code")).toBe("NOT_FOUND");
      expect(await field("attempts")).toBe("1");
      const hostile = page.locator("#failed-table tbody tr").filter({ hasText: "onerror" });
      expect(await hostile.getAttribute("data-doc-id")).toBe(HOSTILE);
      expect(await hostile.locator("td").first().textContent()).toContain(HOSTILE);
      expect(await page.locator("img").count()).toBe(0);

      const retry = async () => {
        const answered = page.waitForResponse(
          (r) =>
            r.request().method() === "POST" &&
            r.url().startsWith(`${origin}/v1/batches/dash/retry?doc_id=missing-file&source=inline`),
        );
        await row.locator("button[data-action=retry-doc]").click();
        const response = await answered;
        expect(response.status()).toBe(202);
        expect(((await response.json()) as { requeued: number }).requeued).toBe(1);
        expect(response.request().headers().authorization).toBe(`Bearer ${TOKEN}`);
      };

      // Still missing: the document fails again, and its row comes back with a second attempt.
      await retry();
      const attempts = async () => ((await row.count()) === 1 ? await field("attempts") : null);
      await expect.poll(attempts, { timeout: 15_000 }).toBe("2");
      expect(await field("code")).toBe("NOT_FOUND");
      expect(await field("message")).toBe("the file nope.txt does not exist");
      const reason = page.locator("#failure-reasons [data-reason=NOT_FOUND]");
      await expect.poll(() => reason.textContent(), { timeout: 15_000 }).toBe("3");
      fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, "test-artifacts", "dashboard.png"), fullPage: true });

      // Created since: a retry reads the file again, and the document completes.
      fs.writeFileSync(path.join(root, "nope.txt"), "Now the file exists.");
      await retry();
      await expect.poll(() => count("done"), { timeout: 15_000 }).toBe("301");
      expect(await count("degraded")).toBe("1");
      await expect.poll(() => row.count(), { timeout: 5_000 }).toBe(0);
      expect(await count("failed")).toBe("1");
      expect(await page.locator("#failed-table tbody tr").count()).toBe(1);
      const docs = (await (
        await fetch(`${origin}/v1/batches/dash/documents?state=done&limit=1000`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).json()) as { documents: { id: string; attempts: number; chunk_count: number }[] };
      expect(docs.documents.find((d) => d.id === "missing-file")).toMatchObject({
        attempts: 3,
        chunk_count: 1,
      });

      // "Retry failed" re-queues the rest: the hostile document, which fails again.
      const all = page.waitForResponse(
        (r) => r.request().method() === "POST" && r.url() === `${origin}/v1/batches/dash/retry`,
      );
      await page.click("button[data-action=retry-failed]");
      expect((await all).status()).toBe(202);
      const hostileAttempts = async () =>
        (await hostile.count()) === 1 ? await hostile.locator("[data-field=attempts]").textContent() : null;
      await expect.poll(hostileAttempts, { timeout: 15_000 }).toBe("2");
      expect(await page.locator("img").count()).toBe(0);

      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
      await assertNoLayoutOverflow(page);
    } finally {
      await browser.close();
      if (server) await server.close();
      else await store.close();
      await embeddings.stop();
    }
  }, 120_000);
});
