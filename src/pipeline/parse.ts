import { Parser } from "htmlparser2";
import { DocbatchError } from "../core/errors.js";
import type { DocumentFormat } from "../core/types.js";

/**
 * Turns raw content of a format into text that keeps structure for the chunker: headings as
 * markdown `#` lines (h1..h6 give 1..6 `#`), paragraphs separated by a blank line.
 *
 * - text, markdown: returned as is (the chunker understands markdown).
 * - html: the visible text; `<title>` becomes a `# ` line at the top.
 * - json: one `path: value` line per primitive leaf; a top-level string is returned as is.
 *
 * @throws DocbatchError `MALFORMED_CONTENT` when JSON content does not parse.
 */
export function parseDocument(content: string, format: DocumentFormat): string {
  switch (format) {
    case "text":
    case "markdown":
      return content;
    case "html":
      return htmlToText(content);
    case "json":
      return jsonToText(content);
  }
}

// Their content is never page text. <head> is handled apart because <title> inside it is.
const HIDDEN = new Set(["script", "style", "noscript", "template"]);

const BLOCKS = new Set([
  ...["address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog"],
  ...["dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset"],
  ...["h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main"],
  ...["menu", "nav", "ol", "optgroup", "option", "p", "pre", "search", "section", "summary", "table"],
  ...["tbody", "tfoot", "thead", "tr", "ul"],
]);

// A browser ends <head> at the first element that cannot live in it, even without </head> or
// <body>; without this, a page with an unclosed <head> would lose all its text.
const HEAD_CONTENT = new Set(["base", "link", "meta", "noscript", "script", "style", "template", "title"]);

const HTML_SPACE = /[ \t\n\r\f]+/g;

/** Builds the text with separators decided lazily, so empty elements leave no blank lines behind. */
class TextBuilder {
  private readonly parts: string[] = [];
  /** 0 none, 1 line break, 2 paragraph break, written before the next text. */
  private pendingBreak = 0;
  /** Inline separator (" " or " | ") written before the next text on the same line. */
  private pendingSeparator = "";
  /** Written once at the start of the next text ("## ", "- "). */
  prefix = "";
  private atLineStart = true;

  lineBreak(level: 1 | 2): void {
    this.pendingBreak = Math.max(this.pendingBreak, level);
  }

  separator(separator: " " | " | "): void {
    if (this.pendingSeparator !== " | ") this.pendingSeparator = separator;
  }

  write(raw: string, preformatted: boolean): boolean {
    const text = preformatted ? raw : raw.replace(HTML_SPACE, " ");
    // Only the collapsed ASCII space is trimmed: String#trim would also eat a meaningful &nbsp;.
    const leading = !preformatted && text.startsWith(" ");
    const trailing = !preformatted && text.length > 1 && text.endsWith(" ");
    const body = preformatted ? text : text.slice(leading ? 1 : 0, trailing ? -1 : undefined);
    if (leading) this.separator(" ");
    if (body.length === 0) return false;
    if (this.parts.length > 0 && this.pendingBreak > 0) {
      this.parts.push(this.pendingBreak === 2 ? "\n\n" : "\n");
      this.atLineStart = true;
    } else if (!this.atLineStart && this.pendingSeparator !== "") {
      this.parts.push(this.pendingSeparator);
    }
    this.pendingBreak = 0;
    this.pendingSeparator = "";
    if (this.prefix !== "") this.parts.push(this.prefix);
    this.prefix = "";
    this.parts.push(body);
    this.atLineStart = preformatted && body.endsWith("\n");
    if (trailing) this.separator(" ");
    return true;
  }

  toString(): string {
    return this.parts.join("");
  }
}

function htmlToText(html: string): string {
  const out = new TextBuilder();
  const title: string[] = [];
  let hidden = 0;
  let inHead = false;
  let inTitle = false;
  let foreign = 0;
  let heading = 0;
  let pre = 0;
  // One flag per open table row: whether a cell of the row wrote text, so the next needs " | ".
  const rows: boolean[] = [];

  const parser = new Parser({
    onopentag(name) {
      if (name === "head") inHead = true;
      else if (inHead && !HEAD_CONTENT.has(name)) inHead = false;
      if (HIDDEN.has(name)) hidden++;
      if (name === "svg" || name === "math") foreign++;
      if (name === "title" && foreign === 0) inTitle = true;
      if (name === "pre") pre++;
      if (name === "br") {
        if (heading > 0) out.separator(" ");
        else out.lineBreak(1);
      } else if (name === "td" || name === "th") {
        if (rows.length === 0) rows.push(false);
        if (rows[rows.length - 1]) out.separator(" | ");
      } else if (heading === 0 && BLOCKS.has(name)) {
        out.lineBreak(2);
      }
      if (name === "tr") rows.push(false);
      if (name === "li") out.prefix = "- ";
      const level = /^h[1-6]$/.test(name) ? Number(name[1]) : 0;
      if (level > 0) {
        heading++;
        out.prefix = `${"#".repeat(level)} `;
      }
    },
    onclosetag(name) {
      if (name === "head") inHead = false;
      if (HIDDEN.has(name)) hidden = Math.max(0, hidden - 1);
      if (name === "svg" || name === "math") foreign = Math.max(0, foreign - 1);
      if (name === "title") inTitle = false;
      if (name === "pre") pre = Math.max(0, pre - 1);
      if (name === "tr") rows.pop();
      if (/^h[1-6]$/.test(name)) heading = Math.max(0, heading - 1);
      if (heading === 0 && BLOCKS.has(name)) out.lineBreak(2);
      // An item or heading that wrote nothing must not hand its prefix to the next element.
      if (name === "li" || /^h[1-6]$/.test(name)) out.prefix = "";
    },
    ontext(data) {
      if (hidden > 0) return;
      if (inTitle) {
        title.push(data);
        return;
      }
      if (inHead) {
        if (data.trim() === "") return;
        inHead = false;
      }
      if (out.write(data, pre > 0) && rows.length > 0) rows[rows.length - 1] = true;
    },
  });
  parser.end(html);

  const body = out.toString();
  const heading1 = title.join("").replace(HTML_SPACE, " ").trim();
  if (heading1 === "") return body;
  return body === "" ? `# ${heading1}` : `# ${heading1}\n\n${body}`;
}

/** A key that reads well after a dot, or else a quoted key in brackets. */
const PLAIN_KEY = /^[\p{L}\p{N}_$-]+$/u;

function jsonToText(content: string): string {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new DocbatchError("MALFORMED_CONTENT", malformedJsonMessage(content, err), { cause: err });
  }
  if (typeof value === "string") return value;
  const lines: string[] = [];
  // Iterative walk with a path of segments: deeply nested input must not overflow the call stack,
  // and building every node's full path eagerly would be quadratic in the depth.
  const path: string[] = [];
  const stack: Array<{ value: unknown; depth: number; segment: string }> = [{ value, depth: 0, segment: "" }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    path.length = Math.max(0, node.depth - 1);
    if (node.depth > 0) path.push(node.segment);
    const v = node.value;
    if (v !== null && typeof v === "object") {
      const children: Array<[string, unknown]> = Array.isArray(v)
        ? v.map((item, i) => [`[${i}]`, item])
        : Object.entries(v).map(([k, item]) => [
            PLAIN_KEY.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`,
            item,
          ]);
      for (let i = children.length - 1; i >= 0; i--) {
        const [segment, item] = children[i]!;
        stack.push({ value: item, depth: node.depth + 1, segment });
      }
      continue;
    }
    // Segments carry their own separator ("." or "["); a path never starts with a dot.
    const joined = path.join("");
    const key = joined.startsWith(".") ? joined.slice(1) : joined;
    const text = typeof v === "string" ? v : String(v);
    lines.push(key === "" ? text : `${key}: ${text}`);
  }
  return lines.join("\n");
}

function malformedJsonMessage(content: string, err: SyntaxError): string {
  const offset = jsonErrorOffset(content);
  if (offset < 0) return `Malformed JSON content: ${err.message}`;
  const before = content.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `Malformed JSON content at line ${line}, column ${column} (offset ${offset}): ${err.message}`;
}

const HEX_DIGIT = /^[0-9a-fA-F]$/;

/**
 * Offset of the first syntax error in `s`, or -1 if it is valid JSON. V8's messages give a position
 * for only some errors, and a user needs one to find the mistake.
 */
function jsonErrorOffset(s: string): number {
  let i = 0;
  const skipSpace = (): void => {
    while (i < s.length && " \t\n\r".includes(s[i]!)) i++;
  };
  // Each scanner stops at the offending character, which is where a reader should look.
  const string = (): boolean => {
    i++;
    while (i < s.length) {
      const c = s[i]!;
      i++;
      if (c === '"') return true;
      if (c < " ") {
        i--;
        return false;
      }
      if (c !== "\\") continue;
      if (s[i] === "u") {
        const end = i + 5;
        for (i++; i < end; i++) if (!HEX_DIGIT.test(s[i] ?? "")) return false;
      } else if (s[i] !== undefined && '"\\/bfnrt'.includes(s[i]!)) {
        i++;
      } else {
        return false;
      }
    }
    return false;
  };
  const digits = (): boolean => {
    if (!isDigit(s[i])) return false;
    while (isDigit(s[i])) i++;
    return true;
  };
  const number = (): boolean => {
    if (s[i] === "-") i++;
    if (s[i] === "0") i++;
    else if (!digits()) return false;
    if (s[i] === ".") {
      i++;
      if (!digits()) return false;
    }
    if (s[i] === "e" || s[i] === "E") {
      i++;
      if (s[i] === "+" || s[i] === "-") i++;
      if (!digits()) return false;
    }
    return true;
  };
  const literal = (word: string): boolean => {
    for (const ch of word) {
      if (s[i] !== ch) return false;
      i++;
    }
    return true;
  };
  const containers: string[] = [];
  for (;;) {
    // Expecting a value; an object member starts with its key first.
    skipSpace();
    const top = containers[containers.length - 1];
    if (top === "}") {
      if (s[i] !== '"' || !string()) return i;
      skipSpace();
      if (s[i] !== ":") return i;
      i++;
      skipSpace();
    }
    const c = s[i];
    if (c === "{" || c === "[") {
      i++;
      skipSpace();
      if (s[i] === (c === "{" ? "}" : "]")) i++;
      else {
        containers.push(c === "{" ? "}" : "]");
        continue;
      }
    } else if (c === '"') {
      if (!string()) return i;
    } else if (c === "-" || isDigit(c)) {
      if (!number()) return i;
    } else if (c === "t" || c === "f" || c === "n") {
      if (!literal(c === "t" ? "true" : c === "f" ? "false" : "null")) return i;
    } else {
      return i;
    }
    // After a value: close containers or move to the next element.
    for (;;) {
      skipSpace();
      const close = containers[containers.length - 1];
      if (close === undefined) return i < s.length ? i : -1;
      if (s[i] === ",") {
        i++;
        break;
      }
      if (s[i] !== close) return i;
      containers.pop();
      i++;
    }
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}
