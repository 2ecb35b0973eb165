/**
 * Preloaded with `node --import ./bench/thread-cpu.mjs …` and THREAD_CPU_DIR set: the CPU time of
 * every thread of the process, read from /proc (Linux; elsewhere it records nothing). Each
 * JavaScript thread (the main thread, every worker) writes its own user and system time to
 * `<THREAD_CPU_DIR>/<pid>-<thread id>.json` every 20 ms and when it ends (a terminated worker runs
 * no exit handler: its last record is at most 20 ms old), with what it is: `main`, `cpu` (a CPU
 * pool thread: no workerData), `input` (a thread that validates or plans the input: a run starts
 * one for each, validation first), `facts` (report facts), else `worker`; and when it started. The main thread also records the whole process's time; what no
 * JavaScript thread accounts for is V8's and libuv's own threads (garbage collection, compilers,
 * file system).
 */
import fs from "node:fs";
import path from "node:path";
import { isMainThread, threadId, workerData } from "node:worker_threads";

const dir = process.env.THREAD_CPU_DIR;
const TICK_MS = 10; // clock ticks of /proc/*/stat (USER_HZ 100)

function ownTime() {
  const stat = fs.readFileSync("/proc/thread-self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user_ms: Number(fields[11]) * TICK_MS, system_ms: Number(fields[12]) * TICK_MS };
}

function kind() {
  if (isMainThread) return "main";
  if (workerData === undefined || workerData === null) return "cpu";
  if (typeof workerData.job === "string") return "input";
  if ("buffers" in workerData && "origin" in workerData) return "facts";
  return "worker";
}

if (dir && fs.existsSync("/proc/thread-self/stat")) {
  const file = path.join(dir, `${process.pid}-${threadId}.json`);
  const started = performance.now();
  const startedAt = Date.now();
  const label = kind();
  const record = () => {
    const life = Math.round(performance.now() - started);
    const entry = { thread: label, started_at: startedAt, life_ms: life, ...ownTime() };
    if (isMainThread) {
      const usage = process.resourceUsage();
      entry.process = {
        user_ms: Math.round(usage.userCPUTime / 1000),
        system_ms: Math.round(usage.systemCPUTime / 1000),
      };
    }
    fs.writeFileSync(file, JSON.stringify(entry));
  };
  setInterval(record, 20).unref();
  process.on("exit", record);
}
