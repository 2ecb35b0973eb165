import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DocbatchError } from "../../src/core/errors.js";
import { cleanText } from "../../src/pipeline/clean.js";
import { parseHtml } from "../../src/pipeline/formats/html.js";
import { parseJson } from "../../src/pipeline/formats/json.js";
import { parseDocument } from "../../src/pipeline/parse.js";
import { itGives } from "../helpers/examples.js";

const html = (content: string): string => cleanText(parseHtml(content).text);
const json = (content: string): string => parseJson(content).text;

function malformed(content: string): DocbatchError {
  try {
    parseJson(content);
  } catch (err) {
    expect(err).toBeInstanceOf(DocbatchError);
    return err as DocbatchError;
  }
  return expect.fail(`${JSON.stringify(content)} parsed`);
}

describe("parseDocument: text", () => {
  it("returns it as it is, without a title", async () => {
    const content = "# Title\n\n  some *text*  \r\n<b>not html</b>";
    expect(await parseDocument(content, "text")).toEqual({ text: content, title: null });
  });
});

describe("parseDocument: html", () => {
  it("keeps the main text with its structure, the title apart, and drops everything else", () => {
    const page = `<!doctype html><html><head><meta charset="utf-8"><title>My &amp; Page</title>
      <style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
      <body><!-- a comment --><nav><a href="/">Home</a> | <a>About</a></nav>
      <h1>Main   title</h1><p>Hello <b>world</b>,&nbsp;caf&eacute; &lt;3<br>second line</p>
      <noscript>Enable JavaScript</noscript><template><p>template</p></template>
      <h3>Small</h3><div>Last <span>words</span>.</div></body></html>`;
    expect(parseHtml(page).title).toBe("My & Page");
    expect(html(page)).toBe(
      ["# Main title", "Hello world, café <3\nsecond line", "### Small", "Last words."].join("\n\n"),
    );
  });

  it("prefixes list items, including nested ones", () => {
    const list =
      "<ul><li>one</li><li>two<ol><li>two.a</li><li><p>two.b</p></li><li></li></ol></li><li>three</ul>";
    expect(html(list)).toBe("- one\n\n- two\n\n- two.a\n\n- two.b\n\n- three");
  });

  it("separates table cells and rows", () => {
    const table =
      "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td></td><td>30</td></tr></table>";
    expect(html(table)).toBe("Name | Age\n\nAnn | 30");
  });

  it("maps h1..h6 to markdown headings and keeps a heading on one line", () => {
    const headings = [1, 2, 3, 4, 5, 6].map((n) => `<h${n}>T${n}</h${n}>`).join("");
    expect(html(headings)).toBe("# T1\n\n## T2\n\n### T3\n\n#### T4\n\n##### T5\n\n###### T6");
    expect(html("<h2>Two<br>lines</h2><h2></h2><p>body</p>")).toBe("## Two lines\n\nbody");
  });

  itGives(html, [
    [
      "keeps <pre> as a code fence, spacing and all",
      [
        ["<p>code:</p><pre>a  = 1\n    b = 2</pre>", "code:\n\n```\na  = 1\n    b = 2\n```"],
        ["<pre>has ``` inside</pre>", "````\nhas ``` inside\n````"],
      ],
    ],
    [
      "does not lose the body of a page whose <head> is never closed",
      [
        ["<html><head><title>T</title><p>no body tag</p>", "no body tag"],
        ["<head><meta charset=utf-8>stray text", "stray text"],
      ],
    ],
    [
      "does not take an SVG <title> for the page title",
      [["<p>chart</p><svg><title>tooltip</title></svg>", "chart\n\ntooltip"]],
    ],
    [
      "copes with malformed HTML",
      [
        ["<p>a<p>b</div></span>c < d <<>", "a\n\nbc < d <<>"],
        ["<div><p>unclosed <b>bold", "unclosed bold"],
        ["", ""],
        ["<title>Only title</title>", "Only title"],
      ],
    ],
  ]);

  it("never throws and never keeps script or style content, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (junk) => {
        const out = parseHtml(`<script>SECRET</script>${junk}<style>.x{}</style>`).text;
        expect(typeof out).toBe("string");
        if (!junk.includes("<") && !junk.includes("&")) expect(out.includes("SECRET")).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps every word of the body once and in order, whatever the nesting", () => {
    type Tree = string | { tag: string; close: boolean; children: Tree[] };
    const word = fc.stringMatching(/^[a-z]{1,8}$/);
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        word,
        fc.record({
          tag: fc.constantFrom(
            "p",
            "div",
            "span",
            "b",
            "li",
            "ul",
            "h2",
            "td",
            "tr",
            "table",
            "em",
            "pre",
            "br",
          ),
          close: fc.boolean(),
          children: fc.array(tie("tree"), { maxLength: 4 }),
        }),
      ),
    }));
    const words: string[] = [];
    const render = (t: Tree): string => {
      if (typeof t !== "string")
        return `<${t.tag}>${t.children.map(render).join("")}${t.close ? `</${t.tag}>` : ""}`;
      words.push(t);
      return ` ${t} `;
    };
    fc.assert(
      fc.property(fc.array(tree, { maxLength: 6 }), (trees) => {
        words.length = 0;
        const out = parseHtml(`<body>${trees.map(render).join("")}</body>`).text;
        const tokens = out.split(/\s+/).filter((t) => t !== "" && !/^(-|\||#+|`{3,})$/.test(t));
        expect(tokens).toEqual(words);
      }),
      { numRuns: 300 },
    );
  });
});

describe("parseDocument: json", () => {
  it("flattens to one `path: value` line per leaf", () => {
    const doc = {
      title: "Guide",
      meta: { tags: ["a", "b"], draft: false, n: 1.5, none: null },
      "odd key": { "": 1 },
    };
    expect(json(JSON.stringify(doc))).toBe(
      [
        "title: Guide",
        "meta.tags[0]: a",
        "meta.tags[1]: b",
        "meta.draft: false",
        "meta.n: 1.5",
        "meta.none: null",
        '["odd key"][""]: 1',
      ].join("\n"),
    );
  });

  itGives(json, [
    [
      "handles top-level values",
      [
        ['"just a string"', "just a string"],
        ["42", "42"],
        ["[[1], {}, []]", "[0][0]: 1"],
        ["{}", ""],
      ],
    ],
  ]);

  it("survives very deep nesting", () => {
    const depth = 50_000;
    const out = json(`${"[".repeat(depth)}1${"]".repeat(depth)}`);
    expect(out).toBe(`${"[0]".repeat(depth)}: 1`);
  });

  it("reports malformed JSON as MALFORMED_CONTENT with its position", () => {
    const err = malformed('{"a": 1,\n "b": tru}');
    expect(err.code).toBe("MALFORMED_CONTENT");
    expect(err.kind).toBe("permanent");
    expect(err.message).toMatch(/^Malformed JSON content at line 2, column 10 \(offset 18\)/);
    expect(malformed("").message).toMatch(/line 1, column 1 \(offset 0\)/);
    expect(malformed('{"a":"x').message).toMatch(/offset 7/);
    expect(malformed("[1,]").message).toMatch(/offset 3/);
    expect(malformed('"\\u12G4"').message).toMatch(/offset 5/);
  });

  it("gives one line per leaf for any JSON value", () => {
    const leaves = (v: unknown): number =>
      v !== null && typeof v === "object" ? Object.values(v).reduce((n: number, c) => n + leaves(c), 0) : 1;
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const content = JSON.stringify(value);
        fc.pre(!content.includes("\\n") && !content.includes("\\r") && !content.includes("\\u2028"));
        const out = json(content);
        if (typeof value === "string") expect(out).toBe(value);
        else expect(out === "" ? 0 : out.split("\n").length).toBe(leaves(value));
      }),
      { numRuns: 300 },
    );
  });

  it("points at the same offset as V8 when V8 gives one", () => {
    const broken = fc
      .tuple(
        fc.jsonValue(),
        fc.nat(),
        fc.constantFrom("", "}", "]", ",", ":", '"', "x", "-", ".", "e", "\\", "\n"),
      )
      .map(([value, at, insert]) => {
        const text = JSON.stringify(value);
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + (insert === "" ? 1 : 0));
      });
    fc.assert(
      fc.property(broken, (content) => {
        let position: string | undefined;
        try {
          JSON.parse(content);
          return;
        } catch (err) {
          position = /at position (\d+)/.exec((err as Error).message)?.[1];
        }
        const { message } = malformed(content);
        expect(message).toMatch(/^Malformed JSON content at line \d+, column \d+ \(offset \d+\)/);
        if (position !== undefined) expect(message).toContain(`(offset ${position})`);
      }),
      { numRuns: 500 },
    );
  });
});
