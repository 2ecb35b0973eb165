import { createRequire } from "node:module";
import type Chardet from "chardet";
import { utf16Order } from "./file-types.js";

const require = createRequire(import.meta.url);
let detector: typeof Chardet | null = null;

/** The encoding detector, loaded with the first file that is neither UTF-8 nor UTF-16. */
function chardet(): typeof Chardet {
  detector ??= require("chardet") as typeof Chardet;
  return detector;
}

/** What a file's bytes read as, or why they cannot be read as text. */
export type Decoded = { text: string; encoding: string; problem?: undefined } | { problem: string };

/** The bytes the detector looks at: enough to tell Windows-1252 from Latin-2, cheap on large files. */
const DETECT_SAMPLE = 64 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes a file's bytes. UTF-8 (with or without a byte-order mark) first, because almost every
 * file is; UTF-16 by its byte-order mark or its NUL pattern; anything else with the encoding a
 * statistical detector (chardet, the ICU detector's port) finds most likely, among those the
 * platform can decode (Windows-1252, Latin-1, the other ISO-8859 and Windows code pages, Shift_JIS,
 * GB18030, ...). Bytes that decode only into control characters are binary, not text.
 */
export function decodeText(bytes: Uint8Array): Decoded {
  const order = utf16Order(bytes.subarray(0, 4096));
  if (order !== null) return decodeWith(bytes, order === "le" ? "UTF-16LE" : "UTF-16BE");
  // NUL is valid UTF-8 but no text has it: a binary format.
  if (bytes.subarray(0, 8192).includes(0)) return { problem: "binary, not text" };
  try {
    return { text: utf8.decode(bytes), encoding: "UTF-8" };
  } catch {
    // Not UTF-8: detect below.
  }
  const candidates = chardet()
    .analyse(bytes.subarray(0, DETECT_SAMPLE))
    .map((m) => m.name)
    .filter((name) => !/^(UTF|ASCII|ISO_2022|mbcs|sbcs)/i.test(name));
  for (const name of candidates) {
    const decoded = decodeWith(bytes, name);
    if (decoded.problem === undefined) return decoded;
  }
  return {
    problem: "not text in any encoding docbatch can detect (UTF-8, UTF-16, Windows and ISO code pages)",
  };
}

function decodeWith(bytes: Uint8Array, encoding: string): Decoded {
  if (/^(windows-1252|ISO-8859-1)$/i.test(encoding)) return decodeWindows1252(bytes);
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    return { problem: `the encoding ${encoding} is not supported here` };
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { problem: `not valid ${encoding}` };
  }
  if (looksBinary(text)) return { problem: "binary, not text" };
  return { text, encoding };
}

/** More than 1% control characters (other than tab, line and page breaks) in the first 64K. */
function looksBinary(text: string): boolean {
  const sample = text.length > DETECT_SAMPLE ? text.slice(0, DETECT_SAMPLE) : text;
  const controls = sample.match(/[\u0000-\u0008\u000e-\u001a\u001c-\u001f\u007f-\u009f]/g)?.length ?? 0;
  return controls > sample.length * 0.01;
}

/**
 * Windows-1252 (and Latin-1, which every browser reads as Windows-1252: its 0x80–0x9F are
 * unused control codes in practice). Decoded here because some Node versions' TextDecoder reads
 * windows-1252 as Latin-1, turning curly quotes, dashes and the euro sign into control characters.
 */
function decodeWindows1252(bytes: Uint8Array): Decoded {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  let special = false;
  const text = latin1.replace(/[\u0080-\u009f]/g, (c) => {
    special = true;
    return WINDOWS_1252_80_9F[c.charCodeAt(0) - 0x80] ?? c;
  });
  if (looksBinary(text)) return { problem: "binary, not text" };
  return { text, encoding: special ? "windows-1252" : "ISO-8859-1" };
}

/** 0x80–0x9F of Windows-1252; the five unassigned bytes keep their code point, as browsers do. */
const WINDOWS_1252_80_9F = [
  "\u20ac",
  "\u0081",
  "\u201a",
  "\u0192",
  "\u201e",
  "\u2026",
  "\u2020",
  "\u2021",
  "\u02c6",
  "\u2030",
  "\u0160",
  "\u2039",
  "\u0152",
  "\u008d",
  "\u017d",
  "\u008f",
  "\u0090",
  "\u2018",
  "\u2019",
  "\u201c",
  "\u201d",
  "\u2022",
  "\u2013",
  "\u2014",
  "\u02dc",
  "\u2122",
  "\u0161",
  "\u203a",
  "\u0153",
  "\u009d",
  "\u017e",
  "\u0178",
];
