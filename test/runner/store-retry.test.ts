import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { DocbatchError } from "../../src/core/errors.js";
import { createLogger } from "../../src/runner/logger.js";
import { type StoreOutage, StoreRetry } from "../../src/runner/store-retry.js";
import { classifyStoreError, storeError } from "../../src/store/transient.js";

const failure = (code: string, message = `failed: ${code}`) => Object.assign(new Error(message), { code });

/** A StoreRetry on a virtual clock: sleeping advances time, nothing waits. */
function virtual(budgetMs: number) {
  let now = 1_000_000;
  const outages: (StoreOutage | null)[] = [];
  const retry = new StoreRetry({
    budgetMs,
    logger: createLogger(undefined),
    clock: () => now,
    random: seededRandom(3),
    sleep: async (ms) => {
      now += ms;
    },
    onChange: (o) => outages.push(o),
  });
  return { retry, outages, elapsed: () => now - 1_000_000 };
}

describe("store errors", () => {
  it("tells failures that had no effect from those of unknown outcome and from fatal ones", () => {
    for (const code of [
      "57P03",
      "53300",
      "40001",
      "40P01",
      "ECONNREFUSED",
      "SQLITE_BUSY",
      "SQLITE_BUSY_SNAPSHOT",
    ]) {
      expect(classifyStoreError(failure(code)), code).toBe("not-applied");
    }
    for (const code of ["57P01", "57P02", "08006", "08003", "ECONNRESET", "EPIPE"]) {
      expect(classifyStoreError(failure(code)), code).toBe("unknown");
    }
    expect(classifyStoreError(new Error("Connection terminated unexpectedly"))).toBe("unknown");
    expect(classifyStoreError(new Error("timeout exceeded when trying to connect"))).toBe("not-applied");
    for (const code of ["23505", "42P01", "SQLITE_FULL", "SQLITE_CORRUPT", "28P01"]) {
      expect(classifyStoreError(failure(code)), code).toBe("fatal");
    }
    expect(classifyStoreError(new DocbatchError("STORE_UNAVAILABLE", "given up"))).toBe("fatal");
  });

  it("maps a full disk to STORE_FULL and a transient failure to STORE_UNAVAILABLE, keeping only code and first line", () => {
    const full = storeError(failure("SQLITE_FULL", "database or disk is full"))!;
    expect(full.code).toBe("STORE_FULL");
    expect(full.hints.join(" ")).toMatch(/Free disk space/);
    const lost = storeError(
      Object.assign(failure("57P01", "terminating connection\nDETAIL: x"), { severity: "FATAL" }),
    )!;
    expect(lost.code).toBe("STORE_UNAVAILABLE");
    expect(lost.message).not.toContain("DETAIL");
    expect(storeError(failure("23505"))).toBeNull();
  });
});

describe("StoreRetry", () => {
  it("retries a transient failure until the call succeeds, and tells the outage's start and end", async () => {
    const { retry, outages, elapsed } = virtual(60_000);
    let calls = 0;
    const result = await retry.run("commit", async () => {
      calls += 1;
      if (calls <= 5) throw failure("ECONNREFUSED");
      return "ok";
    });
    expect(result).toBe("ok");
    expect(calls).toBe(6);
    expect(elapsed()).toBeGreaterThan(0);
    expect(elapsed()).toBeLessThan(10_000);
    expect(outages[0]).toMatchObject({ error: expect.stringContaining("ECONNREFUSED") });
    expect(outages.at(-1)).toBeNull();
    expect(retry.current).toBeNull();
  });

  it("marks every attempt after an unknown outcome as a replay", async () => {
    const { retry } = virtual(60_000);
    const replays: boolean[] = [];
    await retry.run("commit", async (replay) => {
      replays.push(replay);
      if (replays.length === 1) throw failure("ECONNREFUSED");
      if (replays.length === 2) throw failure("57P01");
      if (replays.length === 3) throw failure("57P03");
      return 1;
    });
    expect(replays).toEqual([false, false, true, true]);
  });

  it("gives up after its budget with STORE_UNAVAILABLE, resumable, and never past the budget", async () => {
    const { retry, elapsed } = virtual(5_000);
    const error = await retry
      .run("claim", async () => {
        throw failure("57P03", "the database system is starting up");
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DocbatchError);
    expect((error as DocbatchError).code).toBe("STORE_UNAVAILABLE");
    expect((error as DocbatchError).message).toMatch(/unreachable for 5 s .*run the same command again/);
    expect(elapsed()).toBe(5_000);
  });

  it("does not retry fatal failures, nor a call of unknown outcome that may not run twice", async () => {
    const { retry } = virtual(60_000);
    let calls = 0;
    await expect(
      retry.run("x", async () => {
        calls += 1;
        throw failure("23505");
      }),
    ).rejects.toMatchObject({ code: "23505" });
    await expect(
      retry.run(
        "events",
        async () => {
          calls += 1;
          throw failure("ECONNRESET");
        },
        "once",
      ),
    ).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(calls).toBe(2);
    let once = 0;
    await retry.run(
      "events",
      async () => {
        once += 1;
        if (once === 1) throw failure("ECONNREFUSED");
      },
      "once",
    );
    expect(once).toBe(2);
  });
});
