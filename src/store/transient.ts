import { DocbatchError } from "../core/errors.js";

/**
 * What a failed store call means for a caller that wants to try again. Both stores' drivers are
 * recognised by the codes on their errors (SQLSTATE for Postgres, `SQLITE_*` for SQLite, errno
 * for sockets), without importing them:
 *
 * - `not-applied`: transient, and the call certainly had no effect (the connection was refused or
 *   not accepted yet, the transaction was rolled back as a serialization failure or a deadlock,
 *   SQLite was busy). Any call may be retried.
 * - `unknown`: transient, but the connection was lost while the call ran, so it may have committed
 *   (a COMMIT whose answer never arrived). Only calls that are idempotent or fenced may be retried.
 * - `fatal`: retrying cannot help (a constraint, a full disk, a bad URL, a bug).
 */
export type StoreFailure = "not-applied" | "unknown" | "fatal";

/** SQLSTATEs and errnos raised before a statement ran, or after it was rolled back. */
const NOT_APPLIED = new Set([
  "57P03", // cannot_connect_now: the server is starting up or shutting down
  "53300", // too_many_connections
  "40001", // serialization_failure: the transaction was rolled back
  "40P01", // deadlock_detected: the transaction was rolled back
  "ECONNREFUSED",
  "EAI_AGAIN",
  "SQLITE_BUSY",
  "SQLITE_BUSY_RECOVERY",
  "SQLITE_BUSY_SNAPSHOT",
  "SQLITE_BUSY_TIMEOUT",
  "SQLITE_LOCKED",
  "SQLITE_LOCKED_SHAREDCACHE",
]);

/** The connection went away while a statement may have been running. */
const UNKNOWN = new Set([
  "57P01", // admin_shutdown: a restart or pg_terminate_backend
  "57P02", // crash_shutdown
  "57P05", // idle_session_timeout
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

/** Messages of the Postgres client that carry no code. */
const NOT_APPLIED_MESSAGES = [/timeout exceeded when trying to connect/i, /connection timeout/i];
const UNKNOWN_MESSAGES = [
  /connection terminated/i,
  /not queryable/i,
  /server closed the connection unexpectedly/i,
  /terminating connection/i,
];

const FULL = new Set(["SQLITE_FULL", "ENOSPC", "53100" /* disk_full */]);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function classifyStoreError(err: unknown): StoreFailure {
  // Errors of docbatch itself were classified where they were raised (a store that gave up after
  // its own retries must not be retried again by an outer caller).
  if (err instanceof DocbatchError) return "fatal";
  const code = codeOf(err);
  if (NOT_APPLIED.has(code)) return "not-applied";
  // Class 08: connection exceptions.
  if (UNKNOWN.has(code) || /^08/.test(code)) return "unknown";
  const message = messageOf(err);
  if (NOT_APPLIED_MESSAGES.some((re) => re.test(message))) return "not-applied";
  if (UNKNOWN_MESSAGES.some((re) => re.test(message))) return "unknown";
  return "fatal";
}

/** A short description of a store failure for logs and status lines: its code and first line. */
export function describeStoreError(err: unknown): string {
  const code = codeOf(err);
  const first = messageOf(err).split("\n")[0]!.slice(0, 200);
  return code && !first.includes(code) ? `${first} (${code})` : first;
}

/**
 * A store failure as the user-facing error, or null when `err` is not one the stores know: a full
 * disk (STORE_FULL) and transient failures that outlived their retries (STORE_UNAVAILABLE). The
 * driver's error object stays the `cause`; only its code and first line reach the message.
 */
export function storeError(err: unknown): DocbatchError | null {
  if (err instanceof DocbatchError) return null;
  const code = codeOf(err);
  if (FULL.has(code) || /disk is full|no space left/i.test(messageOf(err))) {
    return new DocbatchError("STORE_FULL", `The store's disk is full: ${describeStoreError(err)}.`, {
      cause: err,
    });
  }
  if (classifyStoreError(err) !== "fatal") {
    return new DocbatchError("STORE_UNAVAILABLE", `The store is unreachable: ${describeStoreError(err)}.`, {
      cause: err,
    });
  }
  return null;
}
