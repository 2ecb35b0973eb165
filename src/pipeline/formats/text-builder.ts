/**
 * A run of HTML whitespace that collapsing changes: two or more characters, or one that is not the
 * ASCII space. Text of single spaces between words has no match and is not copied.
 */
const HTML_SPACE = /[ \t\n\r\f]{2,}|[\t\n\r\f]/g;

/** Every run of HTML whitespace (space, tab, line feed, carriage return, form feed) as one space. */
export function collapseHtmlSpace(text: string): string {
  return text.replace(HTML_SPACE, " ");
}

/**
 * Builds structured text (the chunker's input) with separators decided lazily, so empty elements
 * leave no blank lines behind: `#` heading lines, `- ` list items, ` | ` between table cells, a
 * blank line between blocks, and code in ``` fences whose content is written as it is.
 */
export class TextBuilder {
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

  /** Writes text; outside code, runs of HTML whitespace collapse to one space. True if it wrote. */
  write(raw: string, preformatted: boolean): boolean {
    const text = preformatted ? raw : collapseHtmlSpace(raw);
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

  /**
   * A code block as a fence of its own, content untouched: the fence is longer than any run of
   * backticks inside, so the code cannot close it.
   */
  code(content: string, language = ""): void {
    const body = content.replace(/^\n+|\s+$/g, "");
    if (body.trim() === "") return;
    let longest = 0;
    for (const run of body.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
    const fence = "`".repeat(Math.max(3, longest + 1));
    this.lineBreak(2);
    // A fence must start its line: a list item's "- " would hide it from the chunker.
    this.prefix = "";
    this.write(`${fence}${language}\n${body}\n${fence}`, true);
    this.lineBreak(2);
  }

  toString(): string {
    return this.parts.join("");
  }
}

export function collapseSpace(text: string): string {
  return collapseHtmlSpace(text).trim();
}
