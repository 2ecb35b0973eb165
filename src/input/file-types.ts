import path from "node:path";
import type { DocumentFormat } from "../core/types.js";

/**
 * Which files are documents. A file's extension decides first: a document extension makes it a
 * document whatever its bytes (a DOCX is a zip; a `.txt` that turns out binary fails UNREADABLE,
 * as the user named it a document), and a known non-document extension skips it. Any other file is
 * judged by its first bytes: the signatures of images, archives, executables, fonts and media,
 * or NUL bytes of a binary format, skip it; text is a document.
 */

/**
 * The document extensions and the format each one is read as: the single list to extend when a
 * format is added. An extension here wins over NON_DOCUMENT_EXTENSIONS and over sniffing.
 */
export const DOCUMENT_EXTENSIONS: Readonly<Record<string, DocumentFormat>> = {
  ".txt": "text",
  ".text": "text",
  ".md": "markdown",
  ".markdown": "markdown",
  ".mdx": "markdown",
  ".html": "html",
  ".htm": "html",
  ".xhtml": "html",
  ".json": "json",
  ".pdf": "pdf",
  ".docx": "docx",
};

/** What a skipped file is, as listed by `status`. */
export type NonDocumentKind = "image" | "archive" | "executable" | "font" | "media" | "binary";

const kinds: Record<NonDocumentKind, string[]> = {
  image: [
    ...[".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ico", ".icns"],
    ...[".heic", ".heif", ".avif", ".psd", ".svg", ".svgz", ".xcf", ".raw", ".cr2", ".nef"],
  ],
  archive: [
    ...[".zip", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz", ".lzma", ".z", ".7z"],
    ...[".rar", ".tar", ".jar", ".war", ".ear", ".whl", ".egg", ".deb", ".rpm", ".apk", ".dmg"],
    ...[".iso", ".cab", ".msi", ".crx", ".xpi", ".nupkg", ".gem"],
  ],
  executable: [
    ...[".exe", ".dll", ".so", ".dylib", ".o", ".a", ".obj", ".lib", ".class", ".pyc", ".pyo"],
    ...[".wasm", ".node", ".bin", ".elf", ".out", ".com"],
  ],
  font: [".ttf", ".otf", ".woff", ".woff2", ".eot", ".ttc", ".pfb", ".pfm"],
  media: [
    ...[".mp3", ".mp4", ".m4a", ".m4v", ".wav", ".ogg", ".oga", ".ogv", ".flac", ".aac", ".opus"],
    ...[".avi", ".mov", ".mkv", ".webm", ".wmv", ".flv", ".mpg", ".mpeg", ".mid", ".midi"],
  ],
  binary: [
    ...[".db", ".sqlite", ".sqlite3", ".mdb", ".dat", ".pdb", ".idx", ".pack", ".pickle", ".pkl"],
    ...[".npy", ".npz", ".parquet", ".arrow", ".feather", ".h5", ".hdf5", ".onnx", ".pt", ".safetensors"],
    ...[".doc", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".epub"],
  ],
};

/** Known extensions of files that are not documents (until their format joins DOCUMENT_EXTENSIONS). */
export const NON_DOCUMENT_EXTENSIONS: ReadonlyMap<string, NonDocumentKind> = new Map(
  (Object.entries(kinds) as [NonDocumentKind, string[]][]).flatMap(([kind, exts]) =>
    exts.map((ext) => [ext, kind] as const),
  ),
);

/** The format of a document file from its extension; `text` for any other. */
export function formatOfExtension(file: string): DocumentFormat {
  return DOCUMENT_EXTENSIONS[path.extname(file).toLowerCase()] ?? "text";
}

/** `document` or `non-document` when the name decides, `unknown` when the bytes must. */
export function classifyName(file: string): "document" | NonDocumentKind | "unknown" {
  const ext = path.extname(file).toLowerCase();
  if (Object.hasOwn(DOCUMENT_EXTENSIONS, ext)) return "document";
  return NON_DOCUMENT_EXTENSIONS.get(ext) ?? "unknown";
}

/** How many first bytes `sniff` wants (tar's signature is at 257). */
export const SNIFF_BYTES = 8192;

const SIGNATURES: { kind: NonDocumentKind; at?: number; bytes: number[] | string }[] = [
  { kind: "image", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { kind: "image", bytes: [0xff, 0xd8, 0xff] },
  { kind: "image", bytes: "GIF87a" },
  { kind: "image", bytes: "GIF89a" },
  { kind: "image", bytes: [0x49, 0x49, 0x2a, 0x00] },
  { kind: "image", bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { kind: "image", bytes: [0x00, 0x00, 0x01, 0x00] },
  { kind: "image", bytes: "8BPS" },
  { kind: "image", at: 8, bytes: "WEBP" },
  { kind: "archive", bytes: [0x50, 0x4b, 0x03, 0x04] },
  { kind: "archive", bytes: [0x50, 0x4b, 0x05, 0x06] },
  { kind: "archive", bytes: [0x1f, 0x8b] },
  { kind: "archive", bytes: [0x42, 0x5a, 0x68] },
  { kind: "archive", bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { kind: "archive", bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { kind: "archive", bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { kind: "archive", bytes: "Rar!\u001a\u0007" },
  { kind: "archive", at: 257, bytes: "ustar" },
  { kind: "executable", bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { kind: "executable", bytes: [0xfe, 0xed, 0xfa, 0xce] },
  { kind: "executable", bytes: [0xfe, 0xed, 0xfa, 0xcf] },
  { kind: "executable", bytes: [0xce, 0xfa, 0xed, 0xfe] },
  { kind: "executable", bytes: [0xcf, 0xfa, 0xed, 0xfe] },
  { kind: "executable", bytes: [0xca, 0xfe, 0xba, 0xbe] },
  { kind: "executable", bytes: [0x00, 0x61, 0x73, 0x6d] },
  { kind: "font", bytes: [0x00, 0x01, 0x00, 0x00, 0x00] },
  { kind: "font", bytes: "OTTO" },
  { kind: "font", bytes: "wOFF" },
  { kind: "font", bytes: "wOF2" },
  { kind: "font", bytes: "ttcf" },
  { kind: "media", bytes: "ID3" },
  { kind: "media", bytes: "OggS" },
  { kind: "media", bytes: "fLaC" },
  { kind: "media", at: 4, bytes: "ftyp" },
  { kind: "media", bytes: [0x1a, 0x45, 0xdf, 0xa3] },
  { kind: "binary", bytes: "%PDF-" },
  { kind: "binary", bytes: "SQLite format 3\u0000" },
];

function startsWith(head: Uint8Array, at: number, bytes: number[] | string): boolean {
  const want = typeof bytes === "string" ? [...bytes].map((c) => c.charCodeAt(0)) : bytes;
  if (head.length < at + want.length) return false;
  return want.every((b, i) => head[at + i] === b);
}

/**
 * The kind of a file that is not a document, from its first bytes; null for text. Signatures that
 * text could start with by chance (`MZ`, `BM`) are not used: such files are caught by their NUL
 * bytes. UTF-16 text is text although half its bytes are NUL.
 */
export function sniff(head: Uint8Array): NonDocumentKind | null {
  if (utf16Order(head) !== null) return null;
  for (const s of SIGNATURES) if (startsWith(head, s.at ?? 0, s.bytes)) return s.kind;
  return head.includes(0) ? "binary" : null;
}

/**
 * `le` or `be` when the bytes are UTF-16: a byte-order mark, or (without one) NUL bytes on one
 * side of nearly every pair, as Latin-script text in UTF-16 has.
 */
export function utf16Order(head: Uint8Array): "le" | "be" | null {
  if (head[0] === 0xff && head[1] === 0xfe && !(head[2] === 0 && head[3] === 0)) return "le";
  if (head[0] === 0xfe && head[1] === 0xff) return "be";
  const pairs = Math.floor(Math.min(head.length, 4096) / 2);
  if (pairs < 8) return null;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (head[i] === 0) evenNul++;
    if (head[i + 1] === 0) oddNul++;
  }
  if (oddNul >= pairs * 0.9 && evenNul === 0) return "le";
  if (evenNul >= pairs * 0.9 && oddNul === 0) return "be";
  return null;
}
