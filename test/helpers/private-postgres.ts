import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";

/**
 * A Postgres cluster of a test's own (initdb into a temporary folder, on a free port), for tests
 * that restart or stop the database: the shared server of the other tests is never touched. The
 * server runs as the `postgres` user, so the test must run as root (as it does under CI).
 */
export class PrivatePostgres {
  private dir: string | null = null;
  private port = 0;

  /** Null when this machine cannot run one (not root, no Postgres 15 binaries); why otherwise. */
  static unavailable(): string | null {
    if (process.getuid?.() !== 0) return "needs root (to run the server as the postgres user)";
    if (!fs.existsSync(path.join(BIN, "pg_ctl"))) return `needs the Postgres 15 binaries in ${BIN}`;
    if (!fs.existsSync("/usr/sbin/runuser") && !fs.existsSync("/usr/bin/runuser")) return "needs runuser";
    return null;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "docbatch-pg-"));
    fs.chmodSync(this.dir, 0o700);
    await run("chown", ["postgres:postgres", this.dir]);
    this.port = await freePort();
    await this.asPostgres("initdb", [
      "-D",
      this.data,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    await this.ctl("start");
  }

  /** `pg_ctl restart -m fast`: every connection is terminated, the server is down for a moment. */
  async restart(): Promise<void> {
    const log = path.join(this.dir!, "server.log");
    const args = ["-D", this.data, "-l", log, "-m", "fast", "-w", "-t", "60", "restart", "-o", this.options];
    await this.asPostgres("pg_ctl", args);
  }

  /** Stops the server, keeping its data, until `resume`. */
  async halt(): Promise<void> {
    await this.asPostgres("pg_ctl", ["-D", this.data, "-m", "fast", "-w", "stop"]);
  }

  async resume(): Promise<void> {
    await this.ctl("start");
  }

  async stop(): Promise<void> {
    if (!this.dir) return;
    await this.asPostgres("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private get data(): string {
    return path.join(this.dir!, "data");
  }

  private get options(): string {
    return `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=60`;
  }

  private async ctl(action: "start"): Promise<void> {
    const log = path.join(this.dir!, "server.log");
    await this.asPostgres("pg_ctl", [
      "-D",
      this.data,
      "-l",
      log,
      "-w",
      "-t",
      "60",
      action,
      "-o",
      this.options,
    ]);
  }

  private async asPostgres(binary: string, args: string[]): Promise<void> {
    await run("runuser", ["-u", "postgres", "--", path.join(BIN, binary), ...args], { cwd: this.dir! });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
