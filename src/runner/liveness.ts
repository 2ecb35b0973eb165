import fs from "node:fs";
import os from "node:os";
import type { RunInfo } from "../store/store.js";

/** How this process is told apart from every other, wherever the store is shared from. */
export interface ProcessIdentity {
  host: string;
  pid: number;
  /**
   * The kernel boot and pid namespace this process lives in (Linux), else the host name. Only
   * processes with the same locality can look at each other's pids: two containers may share a
   * host name and even a pid, but not a pid namespace.
   */
  locality: string;
  /** Start time of the process in clock ticks since boot (Linux), null elsewhere. */
  pidStart: number | null;
}

let self: ProcessIdentity | null = null;

export function currentProcess(): ProcessIdentity {
  self ??= {
    host: os.hostname(),
    pid: process.pid,
    locality: locality(),
    pidStart: pidStartTime(process.pid),
  };
  return self;
}

function locality(): string {
  try {
    const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const namespace = fs.readlinkSync("/proc/self/ns/pid");
    return `linux:${boot}:${namespace}`;
  } catch {
    // Without /proc (macOS, Windows) a host name is all there is; containers are Linux.
    return `host:${os.hostname()}`;
  }
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
export function pidStartTime(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/**
 * Which unfinished runs are gone. A run in this process's locality whose process no longer exists
 * (or whose pid now belongs to a process started at another time) is dead at once, so a local
 * resume never waits for a lease to expire. Any run is dead once it has been silent for longer
 * than a lease, as measured by the store's clock (`silentMs`), never by comparing clocks of two
 * machines. A run written without a locality (by an older version) is judged by silence only: the
 * safe direction, as waiting for a lease never takes work from a live process.
 */
export function deadRuns(runs: RunInfo[], selfRun: number, leaseMs: number): number[] {
  const me = currentProcess();
  return runs
    .filter((r) => r.run !== selfRun && r.endedAt === null)
    .filter(
      (r) => (r.locality === me.locality && !sameProcessAlive(r.pid, r.pidStart)) || r.silentMs > leaseMs,
    )
    .map((r) => r.run);
}

function sameProcessAlive(pid: number, pidStart: number | null): boolean {
  if (!processExists(pid)) return false;
  if (pidStart === null) return true;
  const now = pidStartTime(pid);
  return now === null || now === pidStart;
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
