import fs from "node:fs";
import path from "node:path";
import ignore, { type Ignore } from "ignore";
import { DocbatchError } from "../core/errors.js";

/** The file that chooses, in gitignore syntax, which files of a folder are left out. */
export const IGNORE_FILE = ".docbatchignore";

/**
 * Folders never read as documents: version control internals (thousands of compressed objects that
 * no one means to index) and docbatch's own folder.
 */
const NEVER_DESCEND = new Set([".git", ".hg", ".svn", ".docbatch"]);

export interface FileFilterOptions {
  /**
   * Only files matching one of these globs are documents. Globs follow gitignore syntax and match
   * the path relative to the folder: `**` for any depth, and a glob without a slash (`*.md`)
   * matches at any depth. @default every file
   */
  include?: string[];
  /** Files matching one of these globs are left out; they win over `include`. @default none */
  exclude?: string[];
}

/**
 * Which files of a folder docbatch reads: `--include`, `--exclude` and the folder's
 * `.docbatchignore`. One filter serves a folder input's listing and the `path` documents of a
 * JSON, JSON Lines or HTTP input (which resolve in the same folder), so `run`, `submit`, `serve`
 * and any later command that reads a folder choose files alike. Files it leaves out are absent
 * from the batch: not counted, not listed.
 */
export class FileFilter {
  private constructor(
    private readonly included: Ignore | null,
    private readonly excluded: Ignore,
    /** Everything the choice depends on, for the input's fingerprint. */
    readonly description: string,
    /**
     * No rule but the one leaving out the ignore file itself: files are then told apart by their
     * path's parts alone, without glob matching (a third of a large folder's listing time).
     */
    private readonly noRules: boolean,
  ) {}

  /** The filter of `root`, with its `.docbatchignore` when there is one. */
  static forFolder(root: string, options: FileFilterOptions = {}): FileFilter {
    const include = clean(options.include, "--include");
    const exclude = clean(options.exclude, "--exclude");
    let ignoreFile = "";
    try {
      ignoreFile = fs.readFileSync(path.join(root, IGNORE_FILE), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const excluded = ignore().add(exclude).add(ignoreFile).add(IGNORE_FILE);
    const included = include.length > 0 ? ignore().add(include) : null;
    const description = JSON.stringify({ include, exclude, ignoreFile });
    const noRules = include.length === 0 && exclude.length === 0 && ignoreFile.trim() === "";
    return new FileFilter(included, excluded, description, noRules);
  }

  /** Whether the file at `rel` (relative to the folder, `/`-separated) is read. */
  includes(rel: string): boolean {
    const parts = rel.split("/");
    if (parts.some((part) => NEVER_DESCEND.has(part))) return false;
    // The rule `.docbatchignore` has no slash, so it leaves out any file or folder of that name.
    if (this.noRules) return !parts.includes(IGNORE_FILE);
    if (this.excluded.ignores(rel)) return false;
    return this.included === null || this.included.ignores(rel);
  }

  /** Whether nothing below the folder `rel` can be read, so the listing need not enter it. */
  skipsFolder(rel: string): boolean {
    return NEVER_DESCEND.has(path.posix.basename(rel)) || this.excluded.ignores(`${rel}/`);
  }
}

function clean(globs: string[] | undefined, flag: string): string[] {
  const out: string[] = [];
  for (const glob of globs ?? []) {
    const trimmed = glob.trim();
    if (trimmed === "" || trimmed.includes("\0")) {
      throw new DocbatchError("USAGE", `${flag} expects a glob, got \`${glob}\``, {
        details: [{ path: flag, problem: "must be a non-empty glob" }],
        hints: ["Globs match the path relative to the folder, e.g. '**/*.md' or 'drafts/'."],
      });
    }
    // Globs are relative to the folder: a leading "./" means the folder itself.
    out.push(trimmed.replace(/^\.\//, "/"));
  }
  return out;
}
