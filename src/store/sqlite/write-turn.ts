import type Database from "better-sqlite3";

/** How often a write that found the file's write lock taken tries again. */
const RETRY_MS = 1;

/**
 * A write transaction of the run's hot path (a group commit, a cache write, a lease renewal, a
 * slice of the plan) that waits for the file's write lock without blocking the event loop.
 *
 * SQLite's own wait for a lock another connection holds (the planning thread writing a slice of
 * the plan, a second worker's commit) is its busy handler: the thread sleeps 1, 2, 5, 10, 15 ms…
 * between tries. On the main thread that sleep stops everything else (embedding answers wait to be
 * read, requests to be sent), and it overshoots: a 14 ms slice of the plan cost the main thread
 * 18 to 33 ms, about 0.25 s per 10,000 small documents. Here the lock is tried without waiting and,
 * while it is taken, tried again every millisecond from the event loop, which runs everything else
 * in between. Once `BEGIN IMMEDIATE` has succeeded, the body and the commit run without a pause:
 * nothing else on this connection can come between them.
 *
 * After `timeoutMs` of tries (the connection's busy timeout) the write fails as any other would,
 * with SQLite's own SQLITE_BUSY error.
 */
export async function writeTurn<T>(
  db: Database.Database,
  body: () => T,
  timeoutMs: number,
  around?: Around,
): Promise<T> {
  const started = performance.now();
  for (;;) {
    const result = tryWrite(db, body, timeoutMs, around);
    if (!(result instanceof Busy)) return result;
    if (performance.now() - started >= timeoutMs) throw result.error;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Statements that run before `BEGIN` and after the transaction ends (a pragma and its restore). */
export interface Around {
  before(): void;
  after(): void;
}

/** A try that found the write lock taken, with SQLite's error for it. */
class Busy {
  constructor(readonly error: unknown) {}
}

/**
 * One try, in better-sqlite3's own immediate transaction (which rolls back a body that throws):
 * Busy when another connection holds the write lock, and so nothing was written.
 */
function tryWrite<T>(db: Database.Database, body: () => T, timeoutMs: number, around?: Around): T | Busy {
  around?.before();
  db.pragma("busy_timeout = 0");
  try {
    return db.transaction(body).immediate();
  } catch (err) {
    if ((err as { code?: string }).code === "SQLITE_BUSY") return new Busy(err);
    throw err;
  } finally {
    db.pragma(`busy_timeout = ${timeoutMs}`);
    around?.after();
  }
}
