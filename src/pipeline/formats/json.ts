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
