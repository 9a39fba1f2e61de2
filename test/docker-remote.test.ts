/**
 * Docker tools on the engine DOCKER_HOST names, against a second, real dockerd started here: its own unix socket,
 * a TCP port with TLS (certificates made with openssl in a temp dir) and, through a real sshd on a loopback port,
 * `docker system dial-stdio` on that socket. Every run must land on the second engine (its own events and
 * containers), never on the default one. Bad DOCKER_HOST values, missing certificates, plain TCP, unknown or
 * changed SSH host keys and bind mounts on a remote engine each end with a one-line error and their exit code.
 *
 * Gated like the other Docker tests: skipped locally without an engine (or dockerd, sshd, openssl), failing in CI.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, existsSync, openSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runJson, tempDir, writeFiles, type CliResult } from "./helpers.js";
import { BUSYBOX_IMAGE, engineEvents, engineNow, engineUp, ensureImages, inCI, shellTool, type EngineEvent } from "./fixtures/docker/engine.js";

const have = (program: string) => spawnSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).status === 0;
const SSHD = "/usr/sbin/sshd";
const toolsPresent = have("dockerd") && have("openssl") && have("ssh-keygen") && existsSync(SSHD);
const runnable = engineUp && toolsPresent && process.getuid?.() === 0;
const skip = !runnable && !inCI;
if (!runnable)
  console.warn(
    `second dockerd cannot be started here (engine up: ${engineUp}, dockerd/openssl/sshd present: ${toolsPresent}, root: ${process.getuid?.() === 0}): ${inCI ? "FAILING" : "skipping the remote-engine tests"}`,
  );

/** Short: unix socket paths (containerd's among them, under --exec-root) are limited to 107 bytes. */
let root = "";
let socket = "";
let tlsPort = 0;
let sshPort = 0;
let clientCerts = "";
let sshHome = "";
let home = "";
let dir = "";
const daemons: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function sh(command: string, cwd = root): string {
  return execFileSync("sh", ["-c", command], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The docker CLI on the second engine. */
function second(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("docker", ["-H", `unix://${socket}`, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function secondEvents(since: string, filters: string[]): EngineEvent[] {
  const args = ["events", "--since", since, "--until", engineNow(), "--format", "{{json .}}"];
  for (const filter of filters) args.push("--filter", filter);
  const result = second(args);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as EngineEvent);
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as dockerd --tlsverify wants. */
function makeCertificates(): { server: string; client: string } {
  const server = path.join(root, "server");
  const client = path.join(root, "client");
  mkdirSync(server);
  mkdirSync(client);
  const q = (command: string) => sh(`${command} 2>/dev/null`);
  q(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=toolctl-test-ca`);
  q(`openssl req -newkey rsa:2048 -nodes -keyout server/key.pem -out server.csr -subj /CN=localhost`);
  writeFileSync(path.join(root, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  q(`openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server/cert.pem -days 2 -extfile server.ext`);
  q(`openssl req -newkey rsa:2048 -nodes -keyout client/key.pem -out client.csr -subj /CN=toolctl-test-client`);
  writeFileSync(path.join(root, "client.ext"), "extendedKeyUsage=clientAuth\n");
  q(`openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client/cert.pem -days 2 -extfile client.ext`);
  sh(`cp ca.pem server/ca.pem && cp ca.pem client/ca.pem`);
  return { server, client };
}

async function waitFor(what: string, check: () => boolean, log: string, limitMs = 60_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} did not start:\n${existsSync(log) ? readFileSync(log, "utf8").slice(-3000) : "(no log)"}`);
}

/**
 * The second engine's own bridge. With `--bridge=none` dockerd deletes the default engine's `docker0` when it
 * starts, breaking every container the default engine starts afterwards: the second one gets a bridge of its own.
 */
let bridge: string | undefined;

async function startSecondEngine(): Promise<void> {
  bridge = `tdr${randomBytes(4).toString("hex")}`;
  for (const command of [`ip link add name ${bridge} type bridge`, `ip link set ${bridge} up`]) {
    const made = spawnSync("sh", ["-c", command], { encoding: "utf8" });
    expect(made.status, `${command}: ${made.stderr}`).toBe(0);
  }
  const certs = makeCertificates();
  clientCerts = certs.client;
  tlsPort = await freePort();
  const log = path.join(root, "dockerd.log");
  const output = openSync(log, "a");
  const daemon = spawn(
    "dockerd",
    [
      "--host",
      `unix://${socket}`,
      "--host",
      `tcp://127.0.0.1:${tlsPort}`,
      "--tlsverify",
      "--tlscacert",
      path.join(certs.server, "ca.pem"),
      "--tlscert",
      path.join(certs.server, "cert.pem"),
      "--tlskey",
      path.join(certs.server, "key.pem"),
      "--data-root",
      path.join(root, "data"),
      "--exec-root",
      path.join(root, "x"),
      "--pidfile",
      path.join(root, "dockerd.pid"),
      `--bridge=${bridge}`,
      "--iptables=false",
      "--ip-masq=false",
    ],
    // Its output goes to a file the error below can show.
    { stdio: ["ignore", output, output] },
  );
  closeSync(output);
  daemons.push(daemon);
  await waitFor("the second dockerd", () => second(["info", "--format", "{{.ServerVersion}}"]).status === 0, log);
  const loaded = spawnSync("sh", ["-c", `docker save ${BUSYBOX_IMAGE} | docker -H unix://${socket} load`], { encoding: "utf8", timeout: 120_000 });
  expect(loaded.status, loaded.stderr).toBe(0);
}

/** A real sshd on a loopback port, whose one authorized key may only run `docker system dial-stdio` on the second engine. */
async function startSshd(): Promise<void> {
  const ssh = path.join(root, "ssh");
  mkdirSync(ssh, { mode: 0o700 });
  sshHome = mkdtempSync(path.join(os.tmpdir(), "tdr-home-"));
  mkdirSync(path.join(sshHome, ".ssh"), { mode: 0o700 });
  sh(`ssh-keygen -q -t ed25519 -N '' -f ${ssh}/host_key`);
  sh(`ssh-keygen -q -t ed25519 -N '' -f ${sshHome}/.ssh/id_ed25519`);
  const publicKey = readFileSync(path.join(sshHome, ".ssh", "id_ed25519.pub"), "utf8").trim();
  writeFileSync(path.join(ssh, "authorized_keys"), `command="docker -H unix://${socket} system dial-stdio",no-pty,no-port-forwarding ${publicKey}\n`);
  sshPort = await freePort();
  const hostKey = readFileSync(path.join(ssh, "host_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  writeFileSync(path.join(sshHome, ".ssh", "known_hosts"), `[127.0.0.1]:${sshPort} ${hostKey}\n`);
  writeFileSync(
    path.join(ssh, "sshd_config"),
    [
      `Port ${sshPort}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${ssh}/host_key`,
      `AuthorizedKeysFile ${ssh}/authorized_keys`,
      `PidFile ${ssh}/sshd.pid`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const log = path.join(ssh, "sshd.log");
  const daemon = spawn(SSHD, ["-D", "-e", "-f", path.join(ssh, "sshd_config"), "-E", log], { stdio: "ignore" });
  daemons.push(daemon);
  await waitFor("sshd", () => existsSync(log) && readFileSync(log, "utf8").includes("Server listening"), log);
}

const MANIFESTS: Record<string, string> = {
  "rm-hello.yaml": shellTool("rm-hello", "{ storageMb: 0, timeoutSeconds: 30 }"),
  "rm-state.yaml": shellTool("rm-state", "{ storageMb: 5, timeoutSeconds: 30 }"),
  "rm-refused.yaml": shellTool("rm-refused", "{ storageMb: 0, timeoutSeconds: 30 }"),
  "rm-proc.yaml": `apiVersion: toolctl/v1
name: rm-proc
description: a process tool that names an image
runtime: process
image: ${BUSYBOX_IMAGE}
process: { env: [PATH], timeoutSeconds: 20 }
actions:
  look:
    description: reads its own files
    kind: read
    stdin: none
    output: text
    command: [sh, -c, "cat {{ tool.dir }}/hello.txt"]
`,
  "hello.txt": "hello from the tool dir\n",
};

function why(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

const tlsEnv = () => ({ DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: clientCerts });
const sshEnv = () => ({ DOCKER_HOST: `ssh://${os.userInfo().username}@127.0.0.1:${sshPort}`, HOME: sshHome, SSH_AUTH_SOCK: undefined });

/** No inherited DOCKER_* from the developer's shell: each test says which engine it means. */
function json(args: string[], env: Record<string, string | undefined>) {
  return runJson(args, { home, env: { DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined, ...env }, timeoutMs: 110_000 });
}
function cli(args: string[], env: Record<string, string | undefined>) {
  return runCli(args, { home, env: { DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined, ...env }, timeoutMs: 60_000 });
}

/** Ran on the second engine, and only there: one container created and destroyed there, none on the default one. */
async function ranOnSecond(result: CliResult & { json: any }, since: string, word: string): Promise<void> {
  expect(result.code, why(result)).toBe(0);
  expect(result.json.output).toBe(word);
  const id = result.json.executionId as string;
  const label = `label=io.toolctl.execution=${id}`;
  const actions = secondEvents(since, [label, "type=container"]).map((e) => e.Action);
  expect(
    actions.filter((a) => a === "create"),
    actions.join(", "),
  ).toHaveLength(1);
  expect(
    actions.filter((a) => a === "destroy"),
    actions.join(", "),
  ).toHaveLength(1);
  expect(second(["ps", "-a", "-q", "--filter", label]).stdout.trim()).toBe("");
  expect(await engineEvents(since, [label])).toEqual([]);
}

/** The one error line on stderr (without --json); a recorded execution adds only its "execution ID …" summary. */
function errorLine(result: CliResult): string {
  const lines = result.stderr.trim().split("\n").filter(Boolean);
  expect(lines[0], result.stderr).toMatch(/^error: /);
  expect(
    lines.slice(1).every((line) => /^execution ex_\w+ (failed|declined) \(\w+\)$/.test(line)),
    result.stderr,
  ).toBe(true);
  return lines[0]!;
}

describe("remote engine prerequisites", () => {
  it.runIf(inCI)("are here in CI: an engine, dockerd, openssl and sshd, as root", () => {
    expect(runnable, "the remote-engine tests need a running engine, dockerd, openssl, openssh-server and root").toBe(true);
  });
});

describe.skipIf(skip)("Docker tools on the engine DOCKER_HOST names", () => {
  beforeAll(async () => {
    await ensureImages();
    root = mkdtempSync("/tmp/tdr-");
    socket = path.join(root, "d.sock");
    chmodSync(root, 0o755);
    await startSecondEngine();
    await startSshd();
    home = tempDir("toolctl-remote-home-");
    dir = writeFiles(MANIFESTS);
    // The sandbox user reads the process tool's files at /tool.
    chmodSync(dir, 0o755);
    const imported = await runCli(
      [
        "import",
        ...Object.keys(MANIFESTS)
          .filter((f) => f.endsWith(".yaml"))
          .map((f) => path.join(dir, f)),
      ],
      { home },
    );
    expect(imported.code, why(imported)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    for (const daemon of daemons.reverse()) {
      if (daemon.exitCode !== null) continue;
      daemon.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          daemon.kill("SIGKILL");
          resolve();
        }, 15_000);
        daemon.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (root) {
      spawnSync("sh", ["-c", `grep ' ${root}/' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
      rmSync(root, { recursive: true, force: true });
    }
    if (sshHome) rmSync(sshHome, { recursive: true, force: true });
    if (bridge) spawnSync("ip", ["link", "delete", bridge]);
  }, 60_000);

  it("unix://: a tool runs on the second engine's socket, and a dry run names it", async () => {
    const env = { DOCKER_HOST: `unix://${socket}` };
    const dry = await json(["run", "rm-hello.sh", "-p", "script=echo x", "--dry-run"], env);
    expect(dry.code, why(dry)).toBe(0);
    expect(dry.json.request.engine).toBe(`unix://${socket}`);
    const since = engineNow();
    const result = await json(["run", "rm-hello.sh", "-p", "script=echo on-the-socket"], env);
    await ranOnSecond(result, since, "on-the-socket");
  });

  it("tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: a tool runs there over verified TLS, its state volume too", async () => {
    const since = engineNow();
    const result = await json(["run", "rm-hello.sh", "-p", "script=echo over-tls"], tlsEnv());
    await ranOnSecond(result, since, "over-tls");
    const state = await json(["run", "rm-state.sh", "-p", "script=echo kept > /state/f; cat /state/f"], tlsEnv());
    expect(state.code, why(state)).toBe(0);
    expect(state.json.output).toBe("kept");
    expect(second(["volume", "ls", "-q"]).stdout).toMatch(/^toolctl-state-rm-state-/m);
    const doctor = await json(["doctor"], tlsEnv());
    const check = doctor.json.checks.find((c: { name: string }) => c.name === "docker");
    expect(check.level, JSON.stringify(check)).toBe("ok");
    expect(check.message).toContain(`at tcp://127.0.0.1:${tlsPort} (DOCKER_HOST, TCP with TLS`);
    expect(check.details).toMatchObject({ endpoint: `tcp://127.0.0.1:${tlsPort}`, remote: true });
  });

  it("ssh://: a tool runs on the engine behind sshd (docker system dial-stdio), the host key checked against known_hosts", async () => {
    const since = engineNow();
    const result = await json(["run", "rm-hello.sh", "-p", "script=echo over-ssh"], sshEnv());
    await ranOnSecond(result, since, "over-ssh");
    const doctor = await cli(["doctor"], sshEnv());
    expect(doctor.stdout + doctor.stderr).toMatch(new RegExp(`docker: engine .* at ssh://\\S+@127\\.0\\.0\\.1:${sshPort} \\(DOCKER_HOST, SSH`));
  }, 120_000);

  it("ssh:// to a host not in known_hosts, or with another key: refused before anything is sent, exit 6", async () => {
    const stranger = tempDir("tdr-stranger-");
    mkdirSync(path.join(stranger, ".ssh"));
    sh(`cp ${sshHome}/.ssh/id_ed25519 ${stranger}/.ssh/`);
    const since = engineNow();
    const unknown = await cli(["run", "rm-refused.sh", "-p", "script=echo no"], { ...sshEnv(), HOME: stranger });
    expect(unknown.code, why(unknown)).toBe(6);
    const line = errorLine(unknown);
    expect(line).toContain(`ssh://`);
    expect(line).toContain("(DOCKER_HOST)");
    expect(line).toMatch(new RegExp(`SSH host key of \\[127\\.0\\.0\\.1\\]:${sshPort} is not in .*known_hosts.*SHA256:`));
    // Another key for the same host: a replaced server, or someone in the middle.
    sh(`ssh-keygen -q -t ed25519 -N '' -f ${stranger}/other`);
    const other = readFileSync(path.join(stranger, "other.pub"), "utf8").split(/\s+/).slice(0, 2).join(" ");
    writeFileSync(path.join(stranger, ".ssh", "known_hosts"), `[127.0.0.1]:${sshPort} ${other}\n`);
    const changed = await cli(["run", "rm-refused.sh", "-p", "script=echo no"], { ...sshEnv(), HOME: stranger });
    expect(changed.code, why(changed)).toBe(6);
    expect(errorLine(changed)).toMatch(/is NOT the one in known_hosts/);
    // A key the server does not accept: the login is refused.
    sh(`cp ${stranger}/other ${stranger}/.ssh/id_ed25519`);
    writeFileSync(path.join(stranger, ".ssh", "known_hosts"), readFileSync(path.join(sshHome, ".ssh", "known_hosts")));
    const login = await cli(["run", "rm-refused.sh", "-p", "script=echo no"], { ...sshEnv(), HOME: stranger });
    expect(login.code, why(login)).toBe(6);
    expect(errorLine(login)).toMatch(/SSH login refused/);
    expect(secondEvents(since, ["type=container", "label=io.toolctl.tool=rm-refused"])).toEqual([]);
  });

  it("a process tool run with --sandbox docker on a remote engine: its directory cannot be bind-mounted, exit 3", async () => {
    const since = engineNow();
    for (const env of [tlsEnv(), sshEnv()]) {
      const result = await json(["run", "rm-proc.look", "--sandbox", "docker"], env);
      expect(result.code, why(result)).toBe(3);
      expect(result.json.error.message).toMatch(
        /^tool rm-proc's directory .* cannot be mounted at \/tool: the engine at DOCKER_HOST=(tcp|ssh):\/\/\S+ is remote/,
      );
      const human = await cli(["run", "rm-proc.look", "--sandbox", "docker"], env);
      expect(human.code, why(human)).toBe(3);
      expect(errorLine(human)).toMatch(/cannot be mounted at \/tool/);
    }
    expect(secondEvents(since, ["type=container"])).toEqual([]);
    // On the second engine's local socket the directory is this machine's: it runs.
    const local = await json(["run", "rm-proc.look", "--sandbox", "docker"], { DOCKER_HOST: `unix://${socket}` });
    expect(local.code, why(local)).toBe(0);
    expect(local.json.output).toBe("hello from the tool dir");
  });

  it("bad DOCKER_HOST values and missing certificates: one line naming DOCKER_HOST, exit 2; nothing runs", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { DOCKER_HOST: "http://127.0.0.1:2375" },
        /^error: DOCKER_HOST=http:\/\/127\.0\.0\.1:2375: unsupported scheme "http": use unix:\/\/\/PATH, tcp:\/\/HOST:PORT or ssh:\/\//,
      ],
      [{ DOCKER_HOST: "npipe:////./pipe/docker_engine" }, /^error: DOCKER_HOST=npipe:.*unsupported scheme "npipe"/],
      [{ DOCKER_HOST: "unix://relative.sock" }, /^error: DOCKER_HOST=unix:\/\/relative\.sock: a unix socket needs an absolute path/],
      [{ DOCKER_HOST: "tcp://127.0.0.1:2376/v1.41" }, /^error: DOCKER_HOST=tcp:.*a path, query or fragment after the host is not supported/],
      [{ DOCKER_HOST: "ssh://me:secret@127.0.0.1" }, /^error: DOCKER_HOST=ssh:.*a password in the address is not supported/],
      [
        { DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/nonexistent-certs" },
        /^error: DOCKER_HOST=tcp:\/\/127\.0\.0\.1:\d+: TLS needs ca\.pem, cert\.pem, key\.pem in \/nonexistent-certs \(DOCKER_CERT_PATH\)/,
      ],
    ];
    const since = engineNow();
    for (const [env, message] of cases) {
      const result = await cli(["run", "rm-hello.sh", "-p", "script=echo no"], env);
      expect(result.code, `${JSON.stringify(env)}: ${why(result)}`).toBe(2);
      expect(errorLine(result)).toMatch(message);
      expect(result.stdout).toBe("");
    }
    // A certificate directory missing only the key says which file.
    const partial = tempDir("tdr-certs-");
    sh(`cp ${clientCerts}/ca.pem ${clientCerts}/cert.pem ${partial}/`);
    const noKey = await json(["run", "rm-hello.sh", "-p", "script=echo no"], { ...tlsEnv(), DOCKER_CERT_PATH: partial });
    expect(noKey.code, why(noKey)).toBe(2);
    expect(noKey.json.error.message).toMatch(/TLS needs key\.pem in .* \(DOCKER_CERT_PATH\), and it is missing/);
    // doctor reports it as the docker check, without crashing.
    const doctor = await json(["doctor"], { DOCKER_HOST: "http://x" });
    const check = doctor.json.checks.find((c: { name: string }) => c.name === "docker");
    expect(check.message).toMatch(/^DOCKER_HOST=http:\/\/x: unsupported scheme "http"/);
    expect(secondEvents(since, ["type=container"])).toEqual([]);
  });

  it("plain TCP to another host is refused (exit 3) unless TOOLCTL_DOCKER_PLAIN_TCP allows it; loopback is allowed", async () => {
    const refused = await cli(["run", "rm-hello.sh", "-p", "script=echo no"], { DOCKER_HOST: "tcp://192.0.2.10:2375" });
    expect(refused.code, why(refused)).toBe(3);
    expect(errorLine(refused)).toMatch(/^error: DOCKER_HOST=tcp:\/\/192\.0\.2\.10:2375 is plain TCP to another host: .*TOOLCTL_DOCKER_PLAIN_TCP=1/);
    // A bare HOST:PORT is tcp, as for the docker CLI.
    const bare = await cli(["run", "rm-hello.sh", "-p", "script=echo no"], { DOCKER_HOST: "192.0.2.10:2375" });
    expect(bare.code, why(bare)).toBe(3);
    // Allowed, it is tried: nothing answers on this loopback port, so the engine is unavailable (exit 6).
    const closed = await freePort();
    for (const env of [{ DOCKER_HOST: `tcp://127.0.0.1:${closed}` }, { DOCKER_HOST: `tcp://127.0.0.1:${closed}`, TOOLCTL_DOCKER_PLAIN_TCP: "1" }]) {
      const result = await json(["run", "rm-hello.sh", "-p", "script=echo no"], env);
      expect(result.code, why(result)).toBe(6);
      expect(result.json.error.message).toMatch(new RegExp(`^Docker daemon not available at tcp://127\\.0\\.0\\.1:${closed} \\(DOCKER_HOST, ECONNREFUSED\\)`));
    }
  });

  it("TLS against an engine whose certificate the CA does not sign: exit 6, one line", async () => {
    const foreign = tempDir("tdr-foreign-");
    sh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ${foreign}/k -out ${foreign}/ca.pem -days 1 -subj /CN=other-ca 2>/dev/null`);
    sh(`cp ${clientCerts}/cert.pem ${clientCerts}/key.pem ${foreign}/`);
    const result = await cli(["run", "rm-hello.sh", "-p", "script=echo no"], { ...tlsEnv(), DOCKER_CERT_PATH: foreign });
    expect(result.code, why(result)).toBe(6);
    expect(errorLine(result)).toMatch(new RegExp(`Docker engine at tcp://127\\.0\\.0\\.1:${tlsPort} \\(DOCKER_HOST\\): TLS failed`));
  });
});
