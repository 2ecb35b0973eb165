import fs from "node:fs";
import path from "node:path";
import { marked } from "marked";
import { beforeAll, describe, expect, it } from "vitest";
import { jsonLines, ROOT, runCli, tempDir } from "../helpers/cli.js";

/**
 * Real manuals: the READMEs that node_modules ships, as markdown, and the same READMEs rendered as
 * pages of a documentation site (banner, navigation, a table of contents, a sidebar, a footer), plus
 * the HTML files node_modules ships. Link text is marked with two private-use characters (they
 * survive cleaning), so the share of link text in each chunk is measured exactly.
 */
const OPEN = "\ue000";
const CLOSE = "\ue001";

function markLinks(markdown: string): string {
  // Links only (not images, not a badge image inside a link): `[text](url)` and `[text][ref]`.
  return markdown.replace(/(?<![!\]])\[([^\][\n!][^\][\n]*)\](?=[([])/g, `[${OPEN}$1${CLOSE}]`);
}

function markAnchors(html: string): string {
  return html.replace(/(<a\b[^>]*>)/gi, `$1${OPEN}`).replace(/<\/a>/gi, `${CLOSE}</a>`);
}

function sitePage(title: string, body: string, headings: string[]): string {
  const toc = headings.map((h, i) => `<li><a href="#h${i}">${h}</a></li>`).join("");
  return `<!doctype html><html><head><title>${title}</title></head><body>
    <header><a href="/">Docs</a> <a href="/api">API</a> <a href="/blog">Blog</a> <a href="/gh">GitHub</a></header>
    <nav class="sidebar"><ul>${toc}</ul></nav>
    <div class="menu"><a href="/v1">v1</a> | <a href="/v2">v2</a> | <a href="/v3">v3</a> | <a href="/next">next</a></div>
    <main><article>${body}</article></main>
    <aside><h3>On this page</h3><ul>${toc}</ul></aside>
    <footer><p>Copyright <a href="/license">License</a> <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></p></footer>
  </body></html>`;
}

let dir: string;
let db: string;

beforeAll(() => {
  dir = tempDir("docbatch-manuals-");
  db = path.join(tempDir(), "store.db");
  const readmes: string[] = [];
  const walk = (d: string, depth: number): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory() && depth < 3 && entry.name !== ".bin" && entry.name !== ".cache")
        walk(full, depth + 1);
      else if (entry.isFile() && /^readme\.md$/i.test(entry.name) && fs.statSync(full).size > 2_000)
        readmes.push(full);
    }
  };
  walk(path.join(ROOT, "node_modules"), 0);
  readmes.sort();
  const chosen = readmes
    .filter((_, i) => i % Math.max(1, Math.floor(readmes.length / 60)) === 0)
    .slice(0, 60);
  expect(chosen.length).toBeGreaterThan(30);
  chosen.forEach((file, i) => {
    const markdown = fs.readFileSync(file, "utf8");
    const name = path.relative(path.join(ROOT, "node_modules"), path.dirname(file)).replace(/[/@]/g, "_");
    fs.writeFileSync(path.join(dir, `${name}.md`), markLinks(markdown));
    if (i % 3 === 0) {
      const body = marked.parse(markdown, { async: false }) as string;
      const headings = [...body.matchAll(/<h[23][^>]*>(.*?)<\/h[23]>/g)].map((m) =>
        m[1]!.replace(/<[^>]+>/g, ""),
      );
      fs.writeFileSync(path.join(dir, `${name}.html`), markAnchors(sitePage(name, body, headings)));
    }
  });
  for (const shipped of ["pino/index.html", "uglify-js/tools/domprops.html"]) {
    const file = path.join(ROOT, "node_modules", shipped);
    if (fs.existsSync(file))
      fs.writeFileSync(
        path.join(dir, shipped.replace(/\//g, "_")),
        markAnchors(fs.readFileSync(file, "utf8")),
      );
  }
});

describe("real manuals", () => {
  it("has no bare heading chunk, no mostly-link chunk, and title and headings on every chunk", async () => {
    const run = await runCli(["run", dir, "--db", db, "--batch-id", "manuals", "--json", "--no-progress"]);
    expect(run.code, run.stderr).toBe(0);
    const rows = jsonLines((await runCli(["export", "--batch-id", "manuals", "--db", db])).stdout) as {
      doc_id: string;
      text: string;
      metadata: { title?: unknown; headings?: unknown };
    }[];
    expect(rows.length).toBeGreaterThan(300);
    const bare: string[] = [];
    const linky: string[] = [];
    for (const row of rows) {
      expect(typeof row.metadata.title, row.doc_id).toBe("string");
      expect(Array.isArray(row.metadata.headings), row.doc_id).toBe(true);
      const lines = row.text.split("\n").filter((l) => l.trim() !== "");
      if (lines.every((l) => /^#{1,6}\s/.test(l))) bare.push(`${row.doc_id}: ${row.text}`);
      let link = 0;
      let inside = false;
      let visible = 0;
      for (const ch of row.text) {
        if (ch === OPEN) inside = true;
        else if (ch === CLOSE) inside = false;
        else if (!/\s/.test(ch)) {
          visible += 1;
          if (inside) link += 1;
        }
      }
      if (visible > 0 && link / visible >= 0.5) linky.push(`${row.doc_id}: ${row.text.slice(0, 120)}`);
    }
    expect(bare, "bare heading chunks").toEqual([]);
    expect(linky, "mostly-link chunks").toEqual([]);
  }, 300_000);
});
