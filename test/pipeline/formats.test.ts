import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DocbatchError } from "../../src/core/errors.js";
import { cleanText } from "../../src/pipeline/clean.js";
import { parseHtml } from "../../src/pipeline/formats/html.js";
import { parseMarkdown } from "../../src/pipeline/formats/markdown.js";
import { collapseHtmlSpace } from "../../src/pipeline/formats/text-builder.js";
import { parseDocument } from "../../src/pipeline/parse.js";
import { prepareChunks } from "../../src/pipeline/prepare.js";
import { makeDocx, makePdf } from "../helpers/documents.js";

const b64 = (bytes: Buffer): string => bytes.toString("base64");

async function failure(work: Promise<unknown>): Promise<DocbatchError> {
  try {
    await work;
  } catch (err) {
    expect(err).toBeInstanceOf(DocbatchError);
    return err as DocbatchError;
  }
  return expect.fail("parsed");
}

describe("markdown", () => {
  const doc = [
    "---",
    "title: The Guide",
    "layout: page",
    "---",
    "Install",
    "=======",
    "",
    "Read [the docs](https://example.com/docs) and **then** run `npm ci` &amp; wait.",
    "",
    "From source",
    "-----------",
    "",
    "1. clone",
    "2. build",
    "   - nested item",
    "",
    "Then:",
    "",
    "    indented  code",
    "        deeper",
    "",
    "```js",
    "function f() {",
    "    return   1;",
    "",
    "",
    "}",
    "```",
    "",
    "### Table ###",
    "",
    "| name | value |",
    "|------|-------|",
    "| a    | 1     |",
    "",
    "- [one](#one)",
    "- [two](#two)",
    "- [three](#three)",
    "",
    "![badge](https://img/badge.svg) <kbd>Ctrl</kbd>",
  ].join("\n");

  it("keeps every construct as structure, links reduced to their text", () => {
    const parsed = parseMarkdown(doc);
    expect(parsed.title).toBe("The Guide");
    const text = cleanText(parsed.text);
    expect(text).toContain("# Install");
    expect(text).toContain("## From source");
    expect(text).toContain("### Table");
    expect(text).toContain("Read the docs and then run `npm ci` & wait.");
    expect(text).toContain("1. clone\n2. build\n- nested item");
    expect(text).toContain("```\nindented  code\n    deeper\n```");
    expect(text).toContain("```js\nfunction f() {\n    return   1;\n\n\n}\n```");
    expect(text).toContain("name | value\na | 1");
    // A list of links only (a table of contents) and images are no text to retrieve.
    expect(text).not.toContain("three");
    expect(text).not.toContain("badge");
    expect(text).not.toContain("layout");
    expect(text).not.toContain("](");
  });

  it("gives every chunk the document's title and the heading path of its content", async () => {
    const { texts, metadata } = await prepareChunks(doc, "markdown", { size: 120, overlap: 0 }, "guide", {});
    for (const m of metadata) expect(m.title).toBe("The Guide");
    const code = texts.findIndex((t) => t.includes("return   1;"));
    expect(metadata[code]!.headings).toEqual(["Install", "From source"]);
    const table = texts.findIndex((t) => t.includes("name | value"));
    expect(metadata[table]!.headings).toEqual(["Install", "From source", "Table"]);
    for (const [i, m] of metadata.entries())
      expect(texts[i]).toBe(cleanText(parseMarkdown(doc).text).slice(m.char_start, m.char_end));
  });
});

describe("html main content", () => {
  it("drops page navigation, banners, footers, asides and link lists, keeps the article", () => {
    const page = `<html><head><title>API</title></head><body>
      <header><a href="/">Home</a><a href="/a">A</a><a href="/b">B</a> site banner</header>
      <nav><ul><li><a href="#x">x</a></li></ul></nav>
      <div class="toc"><a href="#1">One</a> <a href="#2">Two</a> <a href="#3">Three</a></div>
      <article><header><h1>fs.readFile</h1></header><p>Reads a file. See <a href="#o">options</a>.</p>
      <pre>fs.readFile(path,   cb)</pre><aside>Related: stuff</aside></article>
      <footer>© 2024 <a href="/t">Terms</a></footer></body></html>`;
    const parsed = parseHtml(page);
    expect(parsed.title).toBe("API");
    expect(cleanText(parsed.text)).toBe(
      "# fs.readFile\n\nReads a file. See options.\n\n```\nfs.readFile(path,   cb)\n```",
    );
  });

  it("takes only <main> when the page has one, and the whole body when extraction leaves nothing", () => {
    expect(cleanText(parseHtml("<div>menu menu</div><main><p>the content</p></main>").text)).toBe(
      "the content",
    );
    expect(cleanText(parseHtml("<nav><p>only nav text</p></nav>").text)).toBe("only nav text");
  });

  it("collapses every run of HTML whitespace to one space, and leaves single spaces alone", () => {
    const spaced = fc
      .array(
        fc.oneof(
          fc.string({ maxLength: 4 }),
          fc.constantFrom(" ", "  ", "\t", "\n", "\r\n", "\f", "\u00a0", "\v"),
        ),
      )
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(spaced, (text) => {
        expect(collapseHtmlSpace(text)).toBe(text.replace(/[ \t\n\r\f]+/g, " "));
      }),
      { numRuns: 2_000 },
    );
    const prose = "One space between words, as prose has.";
    expect(collapseHtmlSpace(prose)).toBe(prose);
  });
});

describe("pdf", () => {
  it("reads text page by page, with paragraphs and the title", async () => {
    const pdf = makePdf(
      [[["First page alpha", "still alpha"], ["beta paragraph"]], [["Second page gamma"]]],
      {
        title: "Annual report",
      },
    );
    const parsed = await parseDocument(b64(pdf), "pdf");
    expect(parsed.title).toBe("Annual report");
    expect(parsed.pages).toEqual(["First page alpha\nstill alpha\n\nbeta paragraph", "Second page gamma"]);
    const { texts, metadata } = await prepareChunks(b64(pdf), "pdf", { size: 40, overlap: 0 }, "r", {});
    expect(texts).toEqual(["First page alpha\nstill alpha", "beta paragraph\n\nSecond page gamma"]);
    expect(metadata.map((m) => [m.page_start, m.page_end])).toEqual([
      [1, 1],
      [1, 2],
    ]);
  });

  it("fails a corrupt, truncated or encrypted file as UNREADABLE, and one without text as NO_TEXT", async () => {
    const pdf = makePdf([[["text"]]]);
    expect((await failure(parseDocument(b64(Buffer.from("%PDF-1.7 not really")), "pdf"))).code).toBe(
      "UNREADABLE",
    );
    expect((await failure(parseDocument(b64(pdf.subarray(0, 60)), "pdf"))).code).toBe("UNREADABLE");
    const encrypted = await failure(parseDocument(b64(makePdf([[["secret"]]], { encrypted: true })), "pdf"));
    expect(encrypted.code).toBe("UNREADABLE");
    expect(encrypted.message).toMatch(/encrypted/);
    const scan = await failure(parseDocument(b64(makePdf([[], []])), "pdf"));
    expect(scan.code).toBe("NO_TEXT");
    expect(scan.message).toMatch(/2 pages and no extractable text/);
    expect(scan.kind).toBe("permanent");
  });
});

describe("docx", () => {
  it("goes through HTML: headings, paragraphs and tables become structure", async () => {
    const docx = await makeDocx([
      { heading: "Quarterly report" },
      { paragraph: "Revenue grew." },
      { heading: "Figures", level: 2 },
      {
        table: [
          ["Region", "Sales"],
          ["North", "10"],
        ],
      },
    ]);
    const { texts, metadata } = await prepareChunks(b64(docx), "docx", { size: 1000, overlap: 0 }, "q", {});
    expect(texts).toEqual([
      "# Quarterly report\n\nRevenue grew.",
      "## Figures\n\nRegion | Sales\n\nNorth | 10",
    ]);
    expect(metadata[1]).toMatchObject({
      title: "Quarterly report",
      headings: ["Quarterly report", "Figures"],
    });
  });

  it("fails a file that is not a DOCX as UNREADABLE", async () => {
    expect((await failure(parseDocument(b64(Buffer.from("PK\u0003\u0004 broken zip")), "docx"))).code).toBe(
      "UNREADABLE",
    );
  });
});

describe("cleanText in code", () => {
  it("keeps indentation, spacing and blank lines inside fences, and stays idempotent", () => {
    const text = "a   b\n\n```py\ndef f():\n\tif  x:\n        return 1   \n\n\n\n```\n\n\n\nc\t\td";
    const cleaned = cleanText(text);
    expect(cleaned).toBe("a b\n\n```py\ndef f():\n\tif  x:\n        return 1\n\n\n\n```\n\nc d");
    expect(cleanText(cleaned)).toBe(cleaned);
  });
});
