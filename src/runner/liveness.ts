import fs from "node:fs";
import os from "node:os";
import type { RunInfo } from "../store/store.js";

/**
 * Which unfinished runs are gone. A run on this host whose process no longer exists is dead at
 * once, so a local resume never waits for a lease to expire; a run elsewhere is dead when it has
 * not been seen for longer than a lease. A live process may have reused the pid, which only makes
 * us wait for the lease: the safe direction.
 */
export function deadRuns(runs: RunInfo[], self: number, leaseMs: number, now: number): number[] {
  const host = os.hostname();
  return runs
    .filter((r) => r.run !== self && r.endedAt === null)
    .filter((r) => (r.host === host && !processExists(r.pid)) || now - r.lastSeenAt > leaseMs)
    .map((r) => r.run);
}

export function processExists(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/**
 * A killed process that nobody reaped yet (a container without an init, a parent that does not
 * wait) still answers signal 0, but it will never commit again.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}
