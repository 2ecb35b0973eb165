import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { currentProcess, deadRuns, pidStartTime } from "../../src/runner/liveness.js";
import type { RunInfo } from "../../src/store/store.js";

const LEASE = 30_000;

function runInfo(over: Partial<RunInfo>): RunInfo {
  return {
    run: 2,
    workerId: "w",
    host: currentProcess().host,
    pid: process.pid,
    command: "run",
    processStartedAt: 0,
    startedAt: 0,
    firstClaimAt: null,
    lastSeenAt: Date.now(),
    silentMs: 0,
    locality: currentProcess().locality,
    pidStart: currentProcess().pidStart,
    endedAt: null,
    exitReason: null,
    resumed: false,
    processed: 0,
    skippedDone: 0,
    recoveredInFlight: 0,
    fencedCommits: 0,
    textsEmbedded: 0,
    cacheHits: 0,
    ...over,
  };
}

/** A pid that belonged to a process that has exited (and was reaped). */
async function goneProcess(): Promise<{ pid: number; start: number | null }> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 200)"]);
  const start = pidStartTime(child.pid!);
  await new Promise((resolve) => child.on("exit", resolve));
  return { pid: child.pid!, start };
}

describe("liveness of the runs sharing a batch", () => {
  it("knows this process by its locality (boot and pid namespace) and its start time", () => {
    const me = currentProcess();
    expect(me.pid).toBe(process.pid);
    if (process.platform === "linux") {
      expect(me.locality).toMatch(/^linux:[0-9a-f-]+:pid:\[\d+\]$/);
      expect(me.pidStart).toBeGreaterThan(0);
    }
  });

  it("a live process elsewhere with the same host name and pid is not dead (two containers, one hostname)", () => {
    const twin = runInfo({ locality: "linux:other-boot:pid:[4026532000]", pid: 999_999, silentMs: 1_000 });
    expect(deadRuns([twin], 1, LEASE)).toEqual([]);
    // Its silence beyond a lease, by the store's clock, is what makes it dead.
    expect(deadRuns([{ ...twin, silentMs: LEASE + 1 }], 1, LEASE)).toEqual([2]);
  });

  it("clock skew does not make a live worker look dead: only the store-measured silence counts", () => {
    // Its own clock is an hour behind: the last_seen_at it wrote is an hour old by ours.
    const skewed = runInfo({
      locality: "linux:other:pid:[1]",
      lastSeenAt: Date.now() - 3_600_000,
      silentMs: 500,
    });
    expect(deadRuns([skewed], 1, LEASE)).toEqual([]);
  });

  it("a run of this locality whose process is gone is dead at once", async () => {
    const gone = await goneProcess();
    expect(deadRuns([runInfo({ pid: gone.pid, pidStart: gone.start })], 1, LEASE)).toEqual([2]);
  });

  it("a reused pid (another start time) is not the run's process", () => {
    const reused = runInfo({ pid: process.pid, pidStart: (currentProcess().pidStart ?? 0) + 12_345 });
    if (process.platform === "linux") expect(deadRuns([reused], 1, LEASE)).toEqual([2]);
    expect(deadRuns([runInfo({})], 1, LEASE)).toEqual([]);
  });

  it("a run without a locality (an older version) is judged by silence only; ended runs and this one never", () => {
    expect(deadRuns([runInfo({ locality: null, pid: 999_999 })], 1, LEASE)).toEqual([]);
    expect(deadRuns([runInfo({ endedAt: 1, silentMs: LEASE * 10 })], 1, LEASE)).toEqual([]);
    expect(deadRuns([runInfo({ run: 1, silentMs: LEASE * 10 })], 1, LEASE)).toEqual([]);
  });
});
