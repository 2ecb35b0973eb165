import { createHash } from "node:crypto";
import fs from "node:fs";
import { DocbatchError } from "../core/errors.js";

export interface SpoolLimits {
  /** Largest body in bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
}

/**
 * Streams a request body to a file, never holding it in memory, while enforcing the body limit and
 * the JSON nesting limit (JSON.parse has none, and a deep enough document overflows the stack).
 * Returns the body's sha256, which identifies the submission. `lines` resets the depth at every
 * newline (JSON Lines).
 */
export async function spoolBody(
  body: ReadableStream<Uint8Array> | null,
  file: string,
  limits: SpoolLimits,
  lines: boolean,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const depth = new DepthScanner(limits.maxDepth, lines);
  // A file handle, not a write stream: a stream opens its file in the background, and a body
  // rejected early would leave the file behind after the cleanup below.
  const out = await fs.promises.open(file, "w");
  let bytes = 0;
  try {
    if (body) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read().catch((err: unknown) => {
          // The connection closed (or broke) before the body was complete: the client's doing.
          throw new DocbatchError("REQUEST_ABORTED", "The connection closed before the body was complete.", {
            details: [{ path: "body", problem: `incomplete after ${bytes} bytes` }],
            cause: err,
          });
        });
        if (done) break;
        bytes += value.byteLength;
        if (bytes > limits.maxBytes) {
          await reader.cancel();
          throw new DocbatchError("PAYLOAD_TOO_LARGE", `The body is larger than ${limits.maxBytes} bytes.`, {
            details: [{ path: "body", problem: `more than ${limits.maxBytes} bytes` }],
          });
        }
        depth.scan(value);
        hash.update(value);
        await out.write(value);
      }
    }
    await out.close();
    return { bytes, sha256: hash.digest("hex") };
  } catch (err) {
    await out.close().catch(() => {});
    fs.rmSync(file, { force: true });
    throw err;
  }
}

/** Tracks nesting depth over a byte stream, outside strings. */
class DepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;

  constructor(
    private readonly max: number,
    private readonly lines: boolean,
  ) {}

  scan(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0x0a) {
        this.line += 1;
        if (this.lines) {
          this.depth = 0;
          this.inString = false;
        }
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) {
        this.depth += 1;
        if (this.depth > this.max) {
          throw new DocbatchError("INVALID_INPUT", `The body nests deeper than ${this.max} levels.`, {
            details: [
              {
                path: "body",
                ...(this.lines ? { line: this.line } : {}),
                problem: `nesting deeper than ${this.max}`,
              },
            ],
            hints: ["Flatten the metadata; documents need only shallow objects."],
          });
        }
      } else if (b === 0x7d || b === 0x5d) this.depth = Math.max(0, this.depth - 1);
    }
  }
}
