// A throwaway PostgreSQL cluster for tests and development: Debian's `postgresql` binaries, a data directory of
// its own, listening on 127.0.0.1 on a free port, with a password (scram-sha-256) so that connection strings are
// real ones. The test run starts one (test/global-setup.ts) unless TOOLCTL_TEST_DATABASE_URL names a server.
//
//   npm run pg            starts a cluster in .pg/ (kept between runs) and prints its URL
//   npm run pg -- stop    stops it
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PASSWORD = "toolctl-test";

/** The directory of Debian's PostgreSQL binaries (the newest installed), or undefined. */
export function postgresBin() {
  const fromPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  if (fromPath) return path.dirname(fromPath);
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(path.join(root, name, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root (initdb and postgres refuse to run as root). */
function run(bin, tool, args) {
  const command = path.join(bin, tool);
  const asRoot = process.getuid?.() === 0;
  const result = asRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", command, ...args], { encoding: "utf8" })
    : spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed: ${result.stderr || result.stdout || result.error?.message}`);
  return result.stdout;
}

function own(dir) {
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  chownSync(dir, uid, gid);
}

/**
 * Starts a cluster in `dir` (created with initdb when empty) on a free port. Returns the superuser's URL, `stop()`
 * and `restart()`.
 */
export async function startCluster(dir = mkdtempSync(path.join(os.tmpdir(), "toolctl-pg-")), { durable = false } = {}) {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed: apt-get install -y postgresql");
  mkdirSync(dir, { recursive: true });
  own(dir);
  const data = path.join(dir, "data");
  if (!existsSync(path.join(data, "PG_VERSION"))) {
    mkdirSync(data, { recursive: true });
    own(data);
    const pwfile = path.join(dir, "pwfile");
    writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
    run(bin, "initdb", ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--no-sync"]);
    rmSync(pwfile);
  }
  const port = await freePort();
  const socketDir = path.join(dir, "socket");
  mkdirSync(socketDir, { recursive: true });
  own(socketDir);
  // Fast and not crash-safe by default (tests throw the cluster away); `durable` keeps PostgreSQL's own guarantees,
  // for a test that kills the server and counts on every acknowledged commit surviving it.
  const speed = durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1${speed} -c max_connections=300`;
  run(bin, "pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
  own(path.join(dir, "server.log"));
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    url,
    dir,
    port,
    stop({ remove = false } = {}) {
      try {
        run(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        if (remove) rmSync(dir, { recursive: true, force: true });
      }
    },
    /** Stops and starts the server again on the same port (a database restart, as a team sees one). */
    restart() {
      run(bin, "pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-o", options, "-m", "immediate", "-w", "-t", "60", "restart"]);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(".pg");
  const bin = postgresBin();
  if (process.argv[2] === "stop") {
    if (bin && existsSync(path.join(dir, "data", "postmaster.pid"))) run(bin, "pg_ctl", ["-D", path.join(dir, "data"), "-m", "fast", "-w", "stop"]);
    console.log("stopped");
  } else {
    if (bin && existsSync(path.join(dir, "data", "postmaster.pid"))) run(bin, "pg_ctl", ["-D", path.join(dir, "data"), "-m", "fast", "-w", "stop"]);
    const cluster = await startCluster(dir);
    console.log(`PostgreSQL is running in ${dir} (npm run pg -- stop to stop it):`);
    console.log(`  export TOOLCTL_TEST_DATABASE_URL=${cluster.url}`);
  }
}
