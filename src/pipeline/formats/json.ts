import { DocbatchError } from "../../core/errors.js";
import type { ParsedDocument } from "./parsed.js";

/**
 * JSON to text: one `path: value` line per primitive leaf; a top-level string is returned as is.
 *
 * @throws DocbatchError `MALFORMED_CONTENT` when the content does not parse, with its position.
 */
export function parseJson(content: string): ParsedDocument {
  return { text: jsonToText(content), title: null };
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
  return new SyntaxScanner(s).errorOffset();
}

/**
 * A JSON syntax checker that only moves a position. Each scanner method stops at the offending
 * character, which is where a reader should look, and says whether what it scanned was valid.
 */
class SyntaxScanner {
  private i = 0;
  /** The closing character of each open container, innermost last. */
  private readonly containers: string[] = [];

  constructor(private readonly s: string) {}

  errorOffset(): number {
    for (;;) {
      // Expecting a value; an object member starts with its key first.
      this.skipSpace();
      if (this.containers.at(-1) === "}" && !this.memberKey()) return this.i;
      const opened = this.openContainer();
      if (opened === "opened") continue;
      if (opened === "no" && !this.scalar()) return this.i;
      const after = this.afterValue();
      if (after !== "next") return after;
    }
  }

  /** `"key":` of an object member. */
  private memberKey(): boolean {
    const { s } = this;
    if (s[this.i] !== '"' || !this.string()) return false;
    this.skipSpace();
    if (s[this.i] !== ":") return false;
    this.i++;
    this.skipSpace();
    return true;
  }

  /** `{` or `[`: "opened" a container, "empty" for `{}` and `[]` (a whole value), or "no". */
  private openContainer(): "opened" | "empty" | "no" {
    const c = this.s[this.i];
    if (c !== "{" && c !== "[") return "no";
    this.i++;
    this.skipSpace();
    const close = c === "{" ? "}" : "]";
    if (this.s[this.i] === close) {
      this.i++;
      return "empty";
    }
    this.containers.push(close);
    return "opened";
  }

  private scalar(): boolean {
    const c = this.s[this.i];
    if (c === '"') return this.string();
    if (c === "-" || isDigit(c)) return this.number();
    if (c === "t") return this.literal("true");
    if (c === "f") return this.literal("false");
    if (c === "n") return this.literal("null");
    return false;
  }

  /** After a value: close containers, then "next" for the next element, or the final offset. */
  private afterValue(): number | "next" {
    const { s } = this;
    for (;;) {
      this.skipSpace();
      const close = this.containers.at(-1);
      if (close === undefined) return this.i < s.length ? this.i : -1;
      if (s[this.i] === ",") {
        this.i++;
        return "next";
      }
      if (s[this.i] !== close) return this.i;
      this.containers.pop();
      this.i++;
    }
  }

  private skipSpace(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  private string(): boolean {
    const { s } = this;
    this.i++;
    while (this.i < s.length) {
      const c = s[this.i]!;
      this.i++;
      if (c === '"') return true;
      if (c < " ") {
        this.i--;
        return false;
      }
      if (c === "\\" && !this.escape()) return false;
    }
    return false;
  }

  /** The rest of an escape sequence, after its backslash. */
  private escape(): boolean {
    const { s } = this;
    if (s[this.i] === "u") {
      const end = this.i + 5;
      for (this.i++; this.i < end; this.i++) if (!HEX_DIGIT.test(s[this.i] ?? "")) return false;
      return true;
    }
    if (s[this.i] !== undefined && '"\\/bfnrt'.includes(s[this.i]!)) {
      this.i++;
      return true;
    }
    return false;
  }

  private digits(): boolean {
    if (!isDigit(this.s[this.i])) return false;
    while (isDigit(this.s[this.i])) this.i++;
    return true;
  }

  private number(): boolean {
    const { s } = this;
    if (s[this.i] === "-") this.i++;
    if (s[this.i] === "0") this.i++;
    else if (!this.digits()) return false;
    if (s[this.i] === ".") {
      this.i++;
      if (!this.digits()) return false;
    }
    if (s[this.i] === "e" || s[this.i] === "E") {
      this.i++;
      if (s[this.i] === "+" || s[this.i] === "-") this.i++;
      if (!this.digits()) return false;
    }
    return true;
  }

  private literal(word: string): boolean {
    for (const ch of word) {
      if (this.s[this.i] !== ch) return false;
      this.i++;
    }
    return true;
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}
