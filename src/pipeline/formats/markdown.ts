import { decodeHTML } from "entities";
import { Lexer, type Token, type Tokens } from "marked";
import { parseHtml } from "./html.js";
import type { ParsedDocument } from "./parsed.js";

/**
 * Markdown (CommonMark with GitHub tables) to structured text, through marked's lexer:
 * - ATX and setext headings become `#` lines (the chunker's section marks);
 * - links become their text and images are dropped (badges, screenshots: no text to retrieve);
 * - fenced and indented code become ``` fences with their content untouched, indentation kept;
 * - list items become `- ` (or `1. `) lines, table rows `cell | cell` lines;
 * - link-dense paragraphs, lists and tables (link text at least half of their text: tables of
 *   contents, link collections, sponsor lists, "see the docs" lines) are dropped, as in HTML;
 * - inline and block HTML is reduced to its text; YAML front matter is not text, its `title:`
 *   is the document's title, else the first level-1 heading is.
 */
export function parseMarkdown(content: string): ParsedDocument {
  const { body, title: frontTitle } = splitFrontMatter(content);
  const tokens = new Lexer({ gfm: true }).lex(body);
  const out: string[] = [];
  let title = frontTitle;
  for (const token of tokens) {
    if (title === null && token.type === "heading" && (token as Tokens.Heading).depth === 1) {
      title = inline((token as Tokens.Heading).tokens).text.trim() || null;
    }
    const block = renderBlock(token);
    if (block !== "") out.push(block);
  }
  return { text: out.join("\n\n"), title };
}

interface Inline {
  text: string;
  /** Characters of link text, and links, for the link-density rule. */
  linkChars: number;
  links: number;
}

const FRONT_MATTER = /^---[ \t]*\n([\s\S]*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)/;
const TITLE_LINE = /^title:[ \t]*(.+?)[ \t]*$/m;

function splitFrontMatter(content: string): { body: string; title: string | null } {
  const match = FRONT_MATTER.exec(content);
  if (!match) return { body: content, title: null };
  const title = TITLE_LINE.exec(match[1]!)?.[1]?.replace(/^(["'])(.*)\1$/, "$2") ?? null;
  return { body: content.slice(match[0].length), title: title === "" ? null : title };
}

function renderBlock(token: Token): string {
  switch (token.type) {
    case "heading": {
      const t = token as Tokens.Heading;
      const text = inline(t.tokens).text.replace(/\s+/g, " ").trim();
      return text === "" ? "" : `${"#".repeat(t.depth)} ${text}`;
    }
    case "paragraph":
    case "text": {
      const t = token as Tokens.Paragraph | Tokens.Text;
      if (!t.tokens) return decodeHTML(t.text).trim();
      const r = inline(t.tokens);
      return isLinkDense(r.links, r.linkChars, r.text) ? "" : r.text.trim();
    }
    case "code":
      return fence((token as Tokens.Code).text, (token as Tokens.Code).lang ?? "");
    case "blockquote":
      return blocks((token as Tokens.Blockquote).tokens);
    case "list":
      return list(token as Tokens.List);
    case "table":
      return table(token as Tokens.Table);
    case "html":
      return parseHtml((token as Tokens.HTML).text).text;
    default:
      // space, hr, def (link reference definitions), and anything unknown: no text.
      return "";
  }
}

function blocks(tokens: Token[]): string {
  return tokens
    .map(renderBlock)
    .filter((b) => b !== "")
    .join("\n\n");
}

function fence(code: string, lang: string): string {
  const body = code.replace(/^\n+|\s+$/g, "");
  if (body.trim() === "") return "";
  let longest = 0;
  for (const run of body.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const marks = "`".repeat(Math.max(3, longest + 1));
  return `${marks}${lang.split(/\s/)[0] ?? ""}\n${body}\n${marks}`;
}

function isLinkDense(links: number, linkChars: number, text: string): boolean {
  return links >= 1 && linkChars * 2 >= text.replace(/\s/g, "").length;
}

function list(t: Tokens.List): string {
  let links = 0;
  let linkChars = 0;
  const items: string[] = [];
  t.items.forEach((item, i) => {
    const marker = t.ordered ? `${Number(t.start || 1) + i}. ` : "- ";
    const task = item.task ? (item.checked ? "[x] " : "[ ] ") : "";
    const parts: string[] = [];
    for (const child of item.tokens) {
      if (child.type === "text" && "tokens" in child && child.tokens) {
        const r = inline(child.tokens);
        links += r.links;
        linkChars += r.linkChars;
        parts.push(r.text.trim());
      } else if (child.type === "paragraph") {
        const r = inline((child as Tokens.Paragraph).tokens);
        links += r.links;
        linkChars += r.linkChars;
        parts.push(r.text.trim());
      } else {
        // A nested list was judged on its own links; a dropped one renders nothing.
        parts.push(renderBlock(child));
      }
    }
    const body = parts.filter((p) => p !== "").join("\n");
    if (body !== "" || task !== "") items.push(`${marker}${task}${body}`);
  });
  const text = items.join("\n");
  return isLinkDense(links, linkChars, text) ? "" : text;
}

function table(t: Tokens.Table): string {
  let links = 0;
  let linkChars = 0;
  const row = (cells: Tokens.TableCell[]): string =>
    cells
      .map((cell) => {
        const r = inline(cell.tokens);
        links += r.links;
        linkChars += r.linkChars;
        return r.text.replace(/\s+/g, " ").trim();
      })
      .filter((c) => c !== "")
      .join(" | ");
  const rows = [row(t.header), ...t.rows.map(row)].filter((r) => r !== "");
  const text = rows.join("\n");
  return isLinkDense(links, linkChars, text) ? "" : text;
}

/** Inline tokens to plain text: emphasis and link syntax reduced to their text. */
function inline(tokens: Token[]): Inline {
  const result: Inline = { text: "", linkChars: 0, links: 0 };
  const parts: string[] = [];
  for (const token of tokens) {
    switch (token.type) {
      case "link": {
        const inner = inline((token as Tokens.Link).tokens);
        parts.push(inner.text);
        result.links += 1 + inner.links;
        result.linkChars += inner.text.replace(/\s/g, "").length;
        break;
      }
      case "image":
        break;
      case "codespan":
        parts.push(`\`${decodeHTML((token as Tokens.Codespan).text)}\``);
        break;
      case "br":
        parts.push("\n");
        break;
      case "html":
        // Inline tags (<kbd>, <sup>, <br>) carry no text of their own.
        if (/^<br\s*\/?>$/i.test(token.raw.trim())) parts.push("\n");
        break;
      case "strong":
      case "em":
      case "del": {
        const inner = inline((token as Tokens.Strong).tokens);
        parts.push(inner.text);
        result.links += inner.links;
        result.linkChars += inner.linkChars;
        break;
      }
      default: {
        const t = token as Tokens.Text;
        if (t.tokens && t.tokens.length > 0) {
          const inner = inline(t.tokens);
          parts.push(inner.text);
          result.links += inner.links;
          result.linkChars += inner.linkChars;
        } else {
          parts.push(decodeHTML(t.text ?? token.raw));
        }
      }
    }
  }
  result.text = parts.join("");
  return result;
}
