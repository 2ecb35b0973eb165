import type { ChildNode, Element } from "domhandler";
import { parseDocument } from "htmlparser2";
import type { ParsedDocument } from "./parsed.js";
import { collapseSpace, TextBuilder } from "./text-builder.js";

/**
 * HTML to structured text: the visible text of the page's main content, headings as `#` lines,
 * list items as `- `, table cells separated by ` | `, `<pre>` as code fences; `<title>` becomes the
 * document's title.
 *
 * The main content, a stated rule (the fallback path still strips the whole page, so nothing is
 * ever lost for good):
 * 1. the `<main>` elements (or `role="main"`) when the page has any, else the whole body;
 * 2. without `nav`, `aside`, `menu`, the roles navigation, complementary, search, banner and
 *    contentinfo, hidden elements, and `header`/`footer` that belong to the page rather than to an
 *    article or section;
 * 3. without link-dense blocks: a block (not a heading) with links whose link text is at least
 *    half of its text (menus, tables of contents, link lists, "see also" lines);
 * 4. when all that leaves no text, the whole body is taken instead.
 */
export function parseHtml(html: string): ParsedDocument {
  const dom = parseDocument(html);
  const title = findTitle(dom.children);
  const facts = measure(dom.children);
  let text = render(dom.children, facts, true);
  if (text === "") text = render(dom.children, facts, false);
  if (text === "" && title !== null) text = title;
  return { text, title };
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

const BOILERPLATE = new Set(["nav", "aside", "menu"]);
const BOILERPLATE_ROLES = new Set(["navigation", "complementary", "search", "banner", "contentinfo"]);
const SECTIONING = new Set(["article", "section", "main"]);
const TABLE_PARTS = new Set(["table", "tbody", "thead", "tfoot", "tr"]);
const HEADING = /^h[1-6]$/;

interface Facts {
  /** Non-whitespace characters of text below the element, and of them inside links. */
  chars: Map<Element, number>;
  linkChars: Map<Element, number>;
  links: Map<Element, number>;
  /** The page's main elements, if it has any. */
  mains: Set<Element>;
}

function isElement(node: ChildNode): node is Element {
  return "name" in node && "attribs" in node;
}

function findTitle(nodes: ChildNode[]): string | null {
  const stack = [...nodes].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!isElement(node)) continue;
    // An SVG or MathML <title> is a tooltip, not the page's.
    if (node.name === "svg" || node.name === "math") continue;
    if (node.name === "title") {
      const title = collapseSpace(textOf(node));
      return title === "" ? null : title;
    }
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!);
  }
  return null;
}

function textOf(node: Element): string {
  const out: string[] = [];
  const stack: ChildNode[] = [...node.children].reverse();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.type === "text") out.push((n as unknown as { data: string }).data);
    else if (isElement(n)) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return out.join("");
}

/** Text and link sizes of every element, bottom-up without recursion (pages can nest deeply). */
function measure(nodes: ChildNode[]): Facts {
  const facts: Facts = { chars: new Map(), linkChars: new Map(), links: new Map(), mains: new Set() };
  const order: Element[] = [];
  const stack: ChildNode[] = [...nodes];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!isElement(node) || HIDDEN.has(node.name)) continue;
    order.push(node);
    if (node.name === "main" || node.attribs.role === "main") facts.mains.add(node);
    for (const child of node.children) stack.push(child);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const el = order[i]!;
    let chars = 0;
    let linkChars = 0;
    let links = el.name === "a" ? 1 : 0;
    for (const child of el.children) {
      if (child.type === "text") {
        chars += countVisible((child as unknown as { data: string }).data);
      } else if (isElement(child) && !HIDDEN.has(child.name)) {
        chars += facts.chars.get(child) ?? 0;
        linkChars += facts.linkChars.get(child) ?? 0;
        links += facts.links.get(child) ?? 0;
      }
    }
    if (el.name === "a") linkChars = chars;
    facts.chars.set(el, chars);
    facts.linkChars.set(el, linkChars);
    facts.links.set(el, links);
  }
  return facts;
}

function countVisible(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d && c !== 0x0c) n++;
  }
  return n;
}

function isBoilerplate(el: Element, facts: Facts, insideSection: boolean): boolean {
  if (BOILERPLATE.has(el.name) || BOILERPLATE_ROLES.has(el.attribs.role ?? "")) return true;
  if ("hidden" in el.attribs || el.attribs["aria-hidden"] === "true") return true;
  if ((el.name === "header" || el.name === "footer") && !insideSection) return true;
  // Only blocks: an inline element that is all link is part of its paragraph's sentence.
  if (!BLOCKS.has(el.name) || HEADING.test(el.name) || el.name === "html" || el.name === "body") return false;
  if (facts.mains.has(el)) return false;
  const links = facts.links.get(el) ?? 0;
  const chars = facts.chars.get(el) ?? 0;
  return links >= 1 && (facts.linkChars.get(el) ?? 0) * 2 >= chars;
}

interface Frame {
  node: ChildNode;
  /** Set once the element's children were pushed: its closing work is left. */
  closing: boolean;
  insideSection: boolean;
  /** True when the node is inside the content kept (a main element, or no main at all). */
  inMain: boolean;
  /** Inside SVG or MathML, where <title> is a tooltip and part of the text. */
  foreign: boolean;
}

/**
 * Replays the tree as open/text/close events into a TextBuilder, in document order and without
 * recursion. With `extract`, boilerplate subtrees are skipped (the rule above).
 */
function render(nodes: ChildNode[], facts: Facts, extract: boolean): string {
  const out = new TextBuilder();
  const state: RenderState = { inHead: false, heading: 0, cell: 0, rows: [] };
  const noMain = facts.mains.size === 0;
  const stack: Frame[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    stack.push({ node: nodes[i]!, closing: false, insideSection: false, inMain: noMain, foreign: false });
  }
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { node } = frame;
    if (node.type === "text") {
      if (!extract || frame.inMain) onText(out, state, (node as unknown as { data: string }).data);
      continue;
    }
    if (!isElement(node) || HIDDEN.has(node.name)) continue;
    // The page's <title> is the document's title, not text of the body.
    if (node.name === "title" && !frame.foreign) continue;
    if (frame.closing) {
      onClose(out, state, node.name);
      continue;
    }
    const inMain = frame.inMain || facts.mains.has(node);
    if (extract && inMain && isBoilerplate(node, facts, frame.insideSection)) continue;
    if (node.name === "pre") {
      if (!extract || inMain) out.code(textOf(node));
      continue;
    }
    onOpen(out, state, node.name);
    stack.push({ ...frame, closing: true });
    const insideSection = frame.insideSection || SECTIONING.has(node.name);
    const foreign = frame.foreign || node.name === "svg" || node.name === "math";
    for (let i = node.children.length - 1; i >= 0; i--) {
      stack.push({ node: node.children[i]!, closing: false, insideSection, inMain, foreign });
    }
  }
  return out.toString();
}

interface RenderState {
  inHead: boolean;
  heading: number;
  /** Open table cells: blocks inside a cell (Word puts a <p> in each) stay on the row's line. */
  cell: number;
  /** One flag per open table row: whether a cell of the row wrote text, so the next needs " | ". */
  rows: boolean[];
}

function onOpen(out: TextBuilder, s: RenderState, name: string): void {
  if (name === "head") s.inHead = true;
  else if (s.inHead && !HEAD_CONTENT.has(name)) s.inHead = false;
  if (name === "br") {
    if (s.heading > 0) out.separator(" ");
    else out.lineBreak(1);
  } else if (name === "td" || name === "th") {
    if (s.rows.length === 0) s.rows.push(false);
    if (s.rows[s.rows.length - 1]) out.separator(" | ");
  } else if (s.cell > 0 && BLOCKS.has(name) && !TABLE_PARTS.has(name)) {
    out.separator(" ");
  } else if (s.heading === 0 && BLOCKS.has(name)) {
    out.lineBreak(2);
  }
  if (name === "td" || name === "th") s.cell++;
  if (name === "tr") s.rows.push(false);
  if (name === "li") out.prefix = "- ";
  if (HEADING.test(name)) {
    s.heading++;
    out.prefix = `${"#".repeat(Number(name[1]))} `;
  }
}

function onClose(out: TextBuilder, s: RenderState, name: string): void {
  if (name === "head") s.inHead = false;
  if (name === "tr") s.rows.pop();
  if (name === "td" || name === "th") s.cell = Math.max(0, s.cell - 1);
  if (HEADING.test(name)) s.heading = Math.max(0, s.heading - 1);
  if (s.cell > 0 && BLOCKS.has(name) && !TABLE_PARTS.has(name)) out.separator(" ");
  else if (s.heading === 0 && BLOCKS.has(name)) out.lineBreak(2);
  // An item or heading that wrote nothing must not hand its prefix to the next element.
  if (name === "li" || HEADING.test(name)) out.prefix = "";
}

function onText(out: TextBuilder, s: RenderState, data: string): void {
  if (s.inHead) {
    if (data.trim() === "") return;
    s.inHead = false;
  }
  if (out.write(data, false) && s.rows.length > 0) s.rows[s.rows.length - 1] = true;
}
