import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DomUtils, parseDocument } from "htmlparser2";
import { describe, expect, it } from "vitest";
import { renderHtmlReport } from "../../src/report/html.js";
import { type BatchAnalysis, LATENCY_BUCKETS_MS, REPORT_STAGES } from "../../src/report/report.js";
import { guardedPage, launchChromium, requireChromium } from "../helpers/chromium.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { makeCorpus } from "../helpers/corpus.js";
import { killWhen, startCli } from "../helpers/processes.js";
import { countDone } from "../helpers/store.js";

const HOSTILE = `<img src=x onerror=alert(1)>"'&`;
const CHARTS = ["timeline", "latency", "failures", "states"] as const;

/** A synthetic analysis: two runs (the first crashed), failures, and hostile strings everywhere. */
function analysis(options: { empty?: boolean } = {}): BatchAnalysis {
  const empty = options.empty ?? false;
  const q = { p50: 12, p95: 40, p99: 90 };
  const histogram = (n: number) => {
    const counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    counts[4] = n;
    return { counts, sumMs: n * 20, count: n };
  };
  const n = empty ? 0 : 90;
  const counts = empty
    ? { total: 0, done: 0, degraded: 0, failed: 0, pending: 0, processing: 0 }
    : { total: 100, done: 88, degraded: 2, failed: 3, pending: 7, processing: 0 };
  const run = (no: number, ended: boolean) => ({
    run: no,
    started_at: new Date(1_700_000_000_000 + no * 60_000).toISOString(),
    ended_at: ended ? new Date(1_700_000_030_000 + no * 60_000).toISOString() : null,
    resumed: no > 1,
    processed: 45,
    skipped_done: no > 1 ? 40 : 0,
    recovered_in_flight: no > 1 ? 3 : 0,
    worker_id: HOSTILE,
    host: HOSTILE,
    pid: 1,
    command: "run",
    exit_reason: ended ? HOSTILE : "crashed",
    first_claim_at: null,
    resume_time_ms: no > 1 ? 250 : null,
    checkpoint_hit_rate: 0.4,
    fenced_commits: 0,
    texts_embedded: 0,
    cache_hits: 0,
  });
  return {
    report: {
      batch_id: HOSTILE,
      checkpoint: `checkpoint:${HOSTILE}`,
      counts: {
        ...counts,
        duplicates_skipped: 1,
        unchanged_skipped: 40,
        skipped_unsupported: 0,
        changed: 0,
        deleted: 0,
      },
      completion_rate: empty ? 1 : 0.9,
      fail_rate: empty ? 0 : 0.03,
      dup_rate: 0,
      retries: empty ? 0 : 5,
      texts_embedded: empty ? 0 : 40,
      cache_hits: empty ? 0 : 10,
      cache_hit_rate: empty ? null : 0.2,
      throughput_docs_per_min: empty ? 0 : 120,
      latency_ms: { ...q, mean: 20, max: 95, count: n },
      resume_time_ms: empty ? null : 250,
      failure_reasons: empty ? {} : { [HOSTILE]: 3 },
      sinks: [],
      runs: empty ? [] : [run(1, false), run(2, true)],
      stage_latency_ms: Object.fromEntries(
        REPORT_STAGES.map((s) => [s, q]),
      ) as BatchAnalysis["report"]["stage_latency_ms"],
      duplicate_executions: 0,
      executions: n,
      checkpoint_hit_rate: 0.4,
      breaker_openings: 0,
      degraded_by_reason: empty ? {} : { [HOSTILE]: 2 },
      processing_ms: 45_000,
      reclaimed_documents: 0,
      reclaim_delay_ms: { p50: 0, max: 0, count: 0 },
      reclaims: [],
      fenced_commits: 0,
      workers: [],
      plan: { generation: 1, records: counts.total, complete: true, input: `/tmp/${HOSTILE}.json` },
    },
    series: {
      bucketsMs: LATENCY_BUCKETS_MS,
      latency: Object.fromEntries(
        ["total", ...REPORT_STAGES].map((s) => [s, histogram(n)]),
      ) as BatchAnalysis["series"]["latency"],
      timeline: empty
        ? []
        : [
            {
              run: 1,
              points: [
                [1_000, 1],
                [20_000, 45],
              ],
            },
            {
              run: 2,
              points: [
                [62_000, 46],
                [90_000, 90],
              ],
            },
          ],
      runs: empty
        ? []
        : [
            { run: 1, start: 0, end: 21_000, crashed: true, exitReason: "crashed" },
            { run: 2, start: 60_000, end: 90_000, crashed: false, exitReason: HOSTILE },
          ],
      origin: 1_700_000_060_000,
      failures: empty
        ? []
        : [{ code: HOSTILE, count: 3, exampleDocId: HOSTILE, exampleMessage: `${HOSTILE}</title>` }],
    },
  };
}

describe("renderHtmlReport", () => {
  it("escapes every string from the data: no element, attribute or script can be injected", () => {
    const html = renderHtmlReport(analysis());
    const dom = parseDocument(html);
    const elements = DomUtils.findAll(() => true, dom.children);
    expect(elements.filter((e) => e.name === "img" || e.name === "script")).toEqual([]);
    for (const e of elements) {
      for (const name of Object.keys(e.attribs)) expect(name, `<${e.name} ${name}>`).not.toMatch(/^on/);
      // Nothing may be fetched: no URLs in src/href, and a CSP that forbids every fetch.
      expect(e.attribs.src ?? e.attribs.href).toBeUndefined();
    }
    expect(html).toContain("default-src 'none'");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;");
    expect(DomUtils.textContent(DomUtils.findOne((e) => e.name === "h1", dom.children)!)).toContain(HOSTILE);
  });

  it("draws the four charts with a line per run, a crash marker, and one bar per failure code", () => {
    const html = renderHtmlReport(analysis());
    const dom = parseDocument(html);
    const chart = (name: string) =>
      DomUtils.findOne((e) => e.name === "svg" && e.attribs["data-chart"] === name, dom.children)!;
    const marks = (name: string, tag?: string) =>
      DomUtils.findAll(
        (e) => (e.attribs.class ?? "").split(" ").includes("mark") && (!tag || e.name === tag),
        [chart(name)],
      );
    for (const name of CHARTS) expect(chart(name), name).toBeTruthy();
    expect(marks("timeline", "polyline").map((e) => e.attribs["data-run"])).toEqual(["1", "2"]);
    expect(DomUtils.findAll((e) => e.attribs.class === "crash", [chart("timeline")])).toHaveLength(1);
    expect(html).toContain("run 2 · resumed");
    expect(marks("failures", "rect")).toHaveLength(1);
    expect(marks("latency").length).toBe(1 + REPORT_STAGES.length);
    expect(marks("states").map((e) => e.attribs["data-state"])).toEqual([
      "done",
      "degraded",
      "failed",
      "pending",
    ]);
    expect(renderHtmlReport(analysis())).toBe(html);
  });

  it("renders an empty batch with explicit messages instead of charts", () => {
    const html = renderHtmlReport(analysis({ empty: true }));
    for (const name of CHARTS) expect(html).toContain(`data-chart="${name}"`);
    expect(html).toContain("No failures");
    expect(html).toContain("No runs yet.");
    expect(html).toContain("Empty batch");
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
  });
});

describe("docbatch report --html in Chromium", () => {
  it("shows a crashed and resumed batch with failures, fetching nothing", async (ctx) => {
    requireChromium("the HTML report", (note) => ctx.skip(note));
    const dir = tempDir();
    const db = path.join(dir, "store.db");
    const input = path.join(dir, "corpus.json");
    const documents: Record<string, unknown>[] = makeCorpus({ count: 600, seed: 5 }).map((d) => ({
      id: d.id,
      source: d.source,
      format: d.format,
      content: d.content,
      metadata: d.metadata,
    }));
    // A document whose file is missing fails for good, under an id that would inject HTML if unescaped.
    documents.push({ id: "<img src=x onerror=alert(1)>", path: "nope.txt" });
    fs.writeFileSync(input, JSON.stringify({ batch_id: "html", documents }));
    const base = ["run", input, "--db", db, "--no-progress", "--json"];

    const killed = await killWhen(startCli(base), () => countDone(db, "html") >= 250, { timeoutMs: 60_000 });
    expect(killed, "the first run finished before it could be killed").toBe(true);
    const resumed = await runCli([...base, "--inject", "parse=0.05", "--seed", "3"]);
    expect(resumed.code, resumed.stderr).toBe(0);

    const out = path.join(dir, "nested", "report.html");
    const result = await runCli(["report", "--batch-id", "html", "--db", db, "--html", out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`wrote ${out}`);
    expect(result.stdout).toContain("batch html");
    const report = JSON.parse((await runCli(["report", "--batch-id", "html", "--db", db, "--json"])).stdout);
    expect(report.runs).toHaveLength(2);
    expect(report.runs[0].ended_at).toBeNull();
    expect(report.counts.failed).toBeGreaterThanOrEqual(1);

    const browser = await launchChromium();
    try {
      const { page, blocked, errors } = await guardedPage(browser, (url) => url.startsWith("file://"));
      await page.goto(pathToFileURL(out).href, { waitUntil: "load" });

      for (const name of CHARTS) {
        const svg = page.locator(`svg[data-chart="${name}"]`);
        expect(await svg.count(), name).toBe(1);
        const box = await svg.boundingBox();
        expect(box && box.width > 0 && box.height > 0, `${name} has a size`).toBe(true);
        const sizes = await svg.locator(".mark").evaluateAll((els) =>
          els.map((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0;
          }),
        );
        expect(sizes.filter(Boolean).length, `${name} has a visible mark`).toBeGreaterThan(0);
      }
      const lines = page.locator('svg[data-chart="timeline"] polyline.mark');
      expect(await lines.count()).toBeGreaterThanOrEqual(2);
      const lineSizes = await lines.evaluateAll((els) =>
        els.map((e) => e.getBoundingClientRect().width > 0 || e.getBoundingClientRect().height > 0),
      );
      expect(lineSizes.every(Boolean)).toBe(true);
      const crash = page.locator('svg[data-chart="timeline"] .crash');
      expect(await crash.count()).toBe(1);
      expect((await crash.boundingBox())?.height ?? 0).toBeGreaterThan(0);
      expect(await page.locator('svg[data-chart="timeline"]').textContent()).toContain("run 2 · resumed");
      expect(await page.locator('svg[data-chart="failures"]').textContent()).toContain(
        "<img src=x onerror=alert(1)>",
      );
      const bars = page.locator('svg[data-chart="failures"] rect.mark');
      expect(await bars.count()).toBe(Object.keys(report.failure_reasons).length);
      expect(await page.locator("img, script").count()).toBe(0);

      fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, "test-artifacts", "report.png"), fullPage: true });
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
