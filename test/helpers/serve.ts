import type { ChildProcess } from "node:child_process";
import { spawnCli } from "./cli.js";

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/** Starts `docbatch serve` on a free port and resolves once it prints its address. */
export function startServeProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawnCli(["serve", "--port", "0", ...args], { env });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) resolve({ child, url, exited, stderr: () => stderr });
    });
    void exited.then(({ code }) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)));
  });
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const response = await fetch(url);
  return (await response.json()) as T;
}

/** Polls the batch's status until nothing is pending or processing and the plan is complete. */
export async function waitUntilSettled(
  base: string,
  batchId: string,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  const start = Date.now();
  for (;;) {
    const status = await getJson<{
      counts: Record<string, number>;
      plan_complete: boolean;
      running: boolean;
    }>(`${base}/v1/batches/${encodeURIComponent(batchId)}/status`).catch(() => null);
    if (
      status?.plan_complete &&
      status.counts.pending === 0 &&
      status.counts.processing === 0 &&
      !status.running
    ) {
      return status;
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`batch ${batchId} did not settle: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
