import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { replayLog } from "../../src/sinks/jsonl/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import {
  assertNoLayoutOverflow,
  launchChromium,
  requireChromium,
  startDashboardServer,
} from "../helpers/chromium.js";
import { ROOT, tempDir } from "../helpers/cli.js";

const TOKEN = "dash-token-2";

const DOCUMENTS = [
  { id: "leases", content: "A worker holds a lease on each document it processes and renews it." },
  { id: "outbox", content: "Every commit records its changes in the outbox, in the same transaction." },
  { id: "breaker", content: "A failing sink is retried with backoff behind a circuit breaker of its own." },
  {
    id: "search",
    content: "Search embeds the query with the batch's own embedder and layer.",
    metadata: { team: "index" },
  },
];

describe("the dashboard's sinks panel and search box, in Chromium", () => {
  it("shows the batch's jsonl sink catching up, finds a chunk by its text, and shows an error's hint", async (ctx) => {
    requireChromium("the dashboard's index panels", (note) => ctx.skip(note));
    const browser = await launchChromium();
    const dir = tempDir();
    const log = path.join(dir, "changes.jsonl");
    const store = new SqliteStore({ file: path.join(dir, "store.db") });
    await store.open();
    let server: RunningServer | null = null;
    try {
      server = await startDashboardServer(dir, store, TOKEN, {
        process: { concurrency: 2, sinks: [`jsonl:${log}`] },
      });
      const origin = server.url;
      const submitted = await fetch(`${origin}/v1/batches?batch_id=idx`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ documents: DOCUMENTS }),
      });
      expect(submitted.status).toBeLessThan(300);

      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${origin}/?access_token=${TOKEN}#batch=idx`, { waitUntil: "load" });

      // The sink's row follows the progress events until everything committed is delivered.
      const sink = page.locator("#sinks-body tr").first();
      await sink.waitFor();
      expect(await sink.locator("td").first().textContent()).toBe(`jsonl${log}`);
      await expect.poll(() => sink.locator("[data-field=lag]").textContent(), { timeout: 30_000 }).toBe("0");
      await expect.poll(() => page.textContent("#sinks-count"), { timeout: 5_000 }).toBe("1 sink, caught up");
      const delivered = await sink.locator("[data-field=cursor]").textContent();
      expect(delivered).toMatch(/^(\d+) of \1$/);
      expect(Number(delivered!.split(" ")[0])).toBeGreaterThanOrEqual(DOCUMENTS.length);
      expect((await replayLog(log)).size).toBeGreaterThanOrEqual(DOCUMENTS.length);
      expect(await sink.locator("[data-field=error]").textContent()).toBe("");

      // A query equal to a chunk's text finds that chunk first, with its score, text and metadata.
      await page.fill("#search-q", DOCUMENTS[3]!.content);
      await page.click("#search-button");
      const first = page.locator("#search-results li").first();
      await first.waitFor();
      expect(await first.getAttribute("data-doc-id")).toBe("search");
      expect(Number(await first.locator("[data-field=score]").textContent())).toBeGreaterThan(0.99);
      expect(await first.locator("[data-field=text]").textContent()).toBe(DOCUMENTS[3]!.content);
      expect(await first.locator("[data-field=metadata]").textContent()).toContain("team: index");
      expect(await page.locator("#search-results li").count()).toBe(4);
      expect(await page.textContent("#search-summary")).toMatch(/^4 chunks for “Search embeds/);

      fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({
        path: path.join(ROOT, "test-artifacts", "dashboard-index.png"),
        fullPage: true,
      });

      // The server says what is wrong and what to do: the error body's message and hint.
      await page.fill("#search-k", "5000");
      await page.click("#search-button");
      await page.locator("#search-error").waitFor();
      expect(await page.textContent("#search-error-text")).toBe(
        "INVALID_INPUT: Invalid query parameters. (k: an integer from 1 to 1000)",
      );
      expect(await page.textContent("#search-error-hint")).toBe(
        "Fix the problems listed in details and run again.",
      );
      expect(await page.locator("#search-results li").count()).toBe(0);

      expect(fs.readFileSync(log, "utf8")).not.toContain(TOKEN);
      expect(errors).toEqual([]);
      await assertNoLayoutOverflow(page);
    } finally {
      await browser.close();
      if (server) await server.close();
      else await store.close();
    }
  }, 120_000);
});
