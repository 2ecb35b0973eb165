import fs from "node:fs";
import path from "node:path";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { beforeAll, describe, expect, it } from "vitest";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";
import { makeDocx, makePdf } from "../helpers/documents.js";
import { testSeed } from "../helpers/seed.js";

/**
 * The acceptance folder, generated: 3 PDFs of 3 pages, 2 DOCX with paragraphs and a table,
 * a corrupt PDF, markdown with every construct, a long plain-text file. Marker words are drawn from
 * the seed, so a run can be replayed exactly.
 */
const seed = testSeed("documents/acceptance.test");
let state = seed;
const random = (): number => {
  state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
  return state / 2 ** 32;
};
const markers: string[] = [];
const marker = (): string => {
  const word = `mark${Math.floor(random() * 1e9).toString(36)}${markers.length}`;
  markers.push(word);
  return word;
};
const filler = (n: number): string =>
  Array.from(
    { length: n },
    () => ["alpha", "beta", "gamma", "delta", "omega"][Math.floor(random() * 5)],
  ).join(" ");

interface Row {
  doc_id: string;
  text: string;
  chunk_index: number;
  chunk_count: number;
  metadata: Record<string, unknown>;
}

let dir: string;
let db: string;
/** Per PDF: the text of each page, to check that every chunk's pages hold its text. */
const pdfPages = new Map<string, string[]>();

beforeAll(async () => {
  dir = tempDir("docbatch-docs-");
  db = path.join(tempDir(), "store.db");
  for (const n of [1, 2, 3]) {
    const pages = [1, 2, 3].map((p) => [
      [`Report ${n} page ${p} ${marker()} ${filler(12)}.`, `${filler(10)} ${marker()}.`],
      [`${filler(20)} ${marker()}.`],
    ]);
    fs.writeFileSync(path.join(dir, `report-${n}.pdf`), makePdf(pages, { title: `Report ${n}` }));
    pdfPages.set(
      `report-${n}.pdf`,
      pages.map((page) => page.map((para) => para.join(" ")).join(" ")),
    );
  }
  for (const n of [1, 2]) {
    const docx = await makeDocx([
      { heading: `Memo ${n}` },
      { paragraph: `${filler(15)} ${marker()}.` },
      { paragraph: `${filler(15)} ${marker()}.` },
      { heading: "Figures", level: 2 },
      {
        table: [
          ["Region", "Value"],
          [marker(), "12"],
          ["South", marker()],
        ],
      },
    ]);
    fs.writeFileSync(path.join(dir, `memo-${n}.docx`), docx);
  }
  fs.writeFileSync(
    path.join(dir, "broken.pdf"),
    Buffer.from("%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntruncated"),
  );
  const md = [
    `Guide ${marker()}`,
    "=====",
    "",
    `Intro with [a link ${marker()}](https://example.com) and \`code\`.`,
    "",
    "## Install",
    "",
    `- step ${marker()}`,
    `- step two`,
    "",
    "Setext section",
    "--------------",
    "",
    `    indented code ${marker()}`,
    "",
    "```sh",
    `npm   install ${marker()}`,
    "```",
    "",
    "| key | value |",
    "|-----|-------|",
    `| k | ${marker()} |`,
  ].join("\n");
  fs.writeFileSync(path.join(dir, "guide.md"), md);
  const long = Array.from(
    { length: 300 },
    (_, i) => `Paragraph ${i} ${filler(30)} ${i % 30 === 0 ? marker() : ""}.`,
  );
  fs.writeFileSync(path.join(dir, "long.txt"), long.join("\n\n"));
}, 60_000);

describe("a folder of real documents", () => {
  it("exports every marker word, PDF chunks within their pages, the corrupt PDF failed UNREADABLE", async () => {
    const run = await runCli(["run", dir, "--db", db, "--batch-id", "docs", "--json", "--no-progress"]);
    expect(run.stderr).toContain("built-in hashing embedder");
    expect(run.code, run.stderr).toBe(3); // 7 of 8 documents complete: below 99%
    const report = JSON.parse(run.stdout) as { counts: Record<string, number> };
    expect(report.counts).toMatchObject({ total: 8, done: 7, failed: 1 });
    const status = await runCli(["status", "--batch-id", "docs", "--db", db, "--json"]);
    const failed = (
      JSON.parse(status.stdout) as { failed_documents: { id: string; last_error: { code: string } }[] }
    ).failed_documents;
    expect(failed.map((f) => [f.id, f.last_error.code])).toEqual([["broken.pdf", "UNREADABLE"]]);

    const rows = jsonLines(
      (await runCli(["export", "--batch-id", "docs", "--db", db])).stdout,
    ) as unknown as Row[];
    const all = rows.map((r) => r.text).join("\n");
    for (const word of markers) expect(all, `marker ${word}`).toContain(word);
    for (const row of rows) {
      expect(row.metadata.title, row.doc_id).toEqual(expect.any(String));
      expect(row.metadata.headings, row.doc_id).toEqual(expect.any(Array));
      expect(row.metadata.modified_at, row.doc_id).toMatch(/^\d{4}-\d\d-\d\dT/);
      const pages = pdfPages.get(row.doc_id);
      if (!pages) continue;
      const { page_start: start, page_end: end } = row.metadata as { page_start: number; page_end: number };
      expect(start).toBeGreaterThanOrEqual(1);
      expect(end).toBeLessThanOrEqual(3);
      const span = pages.slice(start - 1, end).join(" ");
      for (const word of row.text.split(/\s+/))
        expect(span, `${row.doc_id} p${start}-${end}`).toContain(word);
    }
    expect(rows.filter((r) => r.doc_id === "report-1.pdf")[0]!.metadata.title).toBe("Report 1");
    const code = rows.find((r) => r.text.includes("npm   install"));
    expect(code, "code keeps its spacing").toBeDefined();
    expect(code!.metadata.headings).toEqual([expect.stringMatching(/^Guide/), "Setext section"]);
    expect(all).not.toContain("](https://");
  }, 120_000);

  it("cuts token-sized chunks: none over 64 tokens", async () => {
    const run = await runCli([
      "run",
      dir,
      "--db",
      db,
      "--batch-id",
      "tokens",
      "--chunk-unit",
      "tokens",
      "--chunk-size",
      "64",
      "--chunk-overlap",
      "8",
      "--json",
      "--no-progress",
    ]);
    expect(run.code, run.stderr).toBe(3);
    const rows = jsonLines(
      (await runCli(["export", "--batch-id", "tokens", "--db", db])).stdout,
    ) as unknown as Row[];
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows)
      expect(countTokens(row.text, { disallowedSpecial: new Set() })).toBeLessThanOrEqual(64);
    const all = rows.map((r) => r.text).join("\n");
    for (const word of markers) expect(all, `marker ${word}`).toContain(word);
  }, 120_000);

  it("takes binary documents inline as content_base64, and refuses bad base64 or UTF-8 before anything runs", async () => {
    const input = path.join(tempDir(), "inline.jsonl");
    const pdf = makePdf([[["inline pdf words"]], [["second page"]]]).toString("base64");
    fs.writeFileSync(
      input,
      [
        JSON.stringify({ id: "a", content_base64: pdf }),
        JSON.stringify({
          id: "b",
          content_base64: Buffer.from("plain text body").toString("base64"),
          format: "text",
        }),
        JSON.stringify({ id: "scan", content_base64: makePdf([[], []]).toString("base64") }),
      ].join("\n"),
    );
    const run = await runCli(["run", input, "--db", db, "--batch-id", "inline", "--json", "--no-progress"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).counts).toMatchObject({ total: 3, done: 2, degraded: 1 });
    const status = JSON.parse(
      (await runCli(["status", "--batch-id", "inline", "--db", db, "--json"])).stdout,
    ) as {
      degraded_documents: { id: string; reason: { code: string; message: string } }[];
    };
    expect(status.degraded_documents).toMatchObject([
      { id: "scan", reason: { code: "NO_TEXT", message: expect.stringMatching(/no extractable text/) } },
    ]);
    const rows = jsonLines(
      (await runCli(["export", "--batch-id", "inline", "--db", db])).stdout,
    ) as unknown as Row[];
    expect(rows.map((r) => r.text)).toEqual(["inline pdf words\n\nsecond page", "plain text body"]);
    expect(rows[0]!.metadata).toMatchObject({ page_start: 1, page_end: 2, title: "a" });

    const bad = path.join(tempDir(), "bad.jsonl");
    fs.writeFileSync(
      bad,
      [
        JSON.stringify({ id: "x", content_base64: "not base64!" }),
        JSON.stringify({ id: "y", content_base64: Buffer.from([0xff, 0xfe, 0x41]).toString("base64") }),
        JSON.stringify({ id: "z", content: "text", format: "pdf" }),
      ].join("\n"),
    );
    const refused = await runCli(["run", bad, "--db", db, "--batch-id", "bad", "--no-progress"]);
    expect(refused.code).toBe(2);
    const body = JSON.parse(refused.stderr.trim().split("\n").at(-1)!) as {
      error: { details: { path: string }[] };
    };
    expect(body.error.details.map((d) => d.path)).toEqual([
      "line 1.content_base64",
      "line 2.content_base64",
      "line 3.content",
    ]);
  }, 120_000);
});
