/**
 * `toolctl doctor` (and the API's `diagnose`): what works and what is missing — the registry and its audit chain, the config, the Docker
 * engine (and runc, against the Leaky Vessels fix), each Docker tool's image, the secrets tools need, and 2FA.
 * Exit 0 when no check failed, 6 when one did.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Actor, ProjectRef } from "../config/home.js";
import { CONFIG_FILE, loadConfig } from "../config/config.js";
import { projectHomeProblem } from "../config/project-home.js";
import type { ToolSummary } from "../domain/records.js";
import { ToolctlError } from "../errors.js";
import { createSecretLookup } from "../secrets/resolve.js";
import type { ConfinementSetting } from "../runners/process/sandbox.js";
import type { Store, StoreHealth } from "../store/port.js";

export type Level = "ok" | "warn" | "fail";

export interface DoctorContext {
  home: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  actor: Actor;
  /** Where the user's config.yaml is: the home, or in a project the user's own home (config/home.ts `settingsHome`). */
  settingsHome: string;
  /** In a project: its toolctl.yaml, whose settings apply over the user's, as for every command there. */
  project?: ProjectRef;
}

export interface Diagnosis {
  /** False when a check failed (the CLI exits 6). */
  ok: boolean;
  checks: Check[];
}

export interface Check {
  name: string;
  level: Level;
  message: string;
  details?: Record<string, unknown>;
}

/** An image a registered tool names, and whether a run needs it (a docker tool, or a process tool sandboxed by config). */
interface ToolImage {
  image: string;
  needed: boolean;
}

async function dockerChecks(context: DoctorContext, images: ToolImage[], needed: boolean, pull: boolean): Promise<Check[]> {
  const { connectEngine, engineVersions, engineMessage, pingEngine, versionAtLeast, MINIMUM_RUNC } = await import("../runners/docker/engine.js");
  const missing: Level = needed ? "fail" : "warn";
  const why = needed ? "" : " (no registered tool needs it yet)";
  let engine;
  try {
    engine = await connectEngine(context.env);
  } catch (error) {
    // A DOCKER_HOST that cannot be used at all: malformed, an unsupported scheme, missing certificates, plain TCP refused.
    return [{ name: "docker", level: missing, message: `${(error as Error).message}${why}`, details: { endpoint: context.env.DOCKER_HOST } }];
  }
  const where = { endpoint: engine.endpoint, transport: engine.transport, remote: engine.remote === true, fromEnv: engine.fromEnv === true };
  try {
    await pingEngine(engine);
  } catch (error) {
    return [{ name: "docker", level: missing, message: `${(error as Error).message}${why}`, details: where }];
  }
  const versions = await engineVersions(engine);
  const via = engine.fromEnv
    ? ` (DOCKER_HOST, ${engine.transport}${engine.remote ? ", remote: no bind mounts, so process tools cannot run with --sandbox docker" : ""})`
    : "";
  const checks: Check[] = [
    {
      name: "docker",
      level: "ok",
      message: `engine ${versions.engine} (API ${versions.apiVersion}, ${versions.os}) at ${engine.endpoint}${via}`,
      details: { ...versions, ...where },
    },
  ];
  if (versions.runc === undefined)
    checks.push({ name: "runc", level: "warn", message: "the engine does not report its runc version; make sure it is 1.1.12 or later" });
  else if (!versionAtLeast(versions.runc, MINIMUM_RUNC)) {
    checks.push({
      name: "runc",
      level: "warn",
      message: `runc ${versions.runc} is older than ${MINIMUM_RUNC}: it has the "Leaky Vessels" container escape (CVE-2024-21626); upgrade runc (or the docker/containerd packages)`,
      details: { runc: versions.runc },
    });
  } else checks.push({ name: "runc", level: "ok", message: `runc ${versions.runc}`, details: { runc: versions.runc } });
  for (const { image, needed: neededToRun } of images) {
    try {
      await engine.docker.getImage(image).inspect();
      checks.push({ name: `image ${image}`, level: "ok", message: "present" });
    } catch (error) {
      const why = engineMessage(error);
      // With pulling off, a run of the tool would stop at exit 6: that is a failure here too.
      checks.push(
        !neededToRun
          ? { name: `image ${image}`, level: "warn", message: `not present (${why}); only needed with run --sandbox docker` }
          : pull
            ? { name: `image ${image}`, level: "warn", message: `not present (${why}); it is pulled on first run (docker.pull is on), or build it locally` }
            : { name: `image ${image}`, level: "fail", message: `not present (${why}) and docker.pull is off: build it locally or docker pull ${image}` },
      );
    }
  }
  return checks;
}

/** Where the master and audit keys are: outside the home (environment, keyring) or beside the registry. */
async function keysCheck(context: DoctorContext): Promise<Check> {
  const { existingHolder, keyringAvailable } = await import("../secrets/key-store.js");
  const where = (name: "master" | "audit", variable: string) =>
    context.env[variable] ? variable : (existingHolder(context.home, name, context.env)?.where ?? "not created yet");
  const keys = { master: where("master", "TOOLCTL_MASTER_KEY"), audit: where("audit", "TOOLCTL_AUDIT_KEY") };
  const inHome = Object.values(keys).some((place) => place.startsWith(context.home));
  const keyring = keyringAvailable(context.env);
  const message = `master key: ${keys.master}; audit key: ${keys.audit}${inHome ? ` (in the home: a program running as you outside toolctl can read ${keys.audit.startsWith(context.home) ? "it" : "them"}; ${keyring.ok ? "the OS keyring is available: TOOLCTL_KEY_STORE=keyring for new homes" : `no OS keyring here (${keyring.why}); TOOLCTL_MASTER_KEY and TOOLCTL_AUDIT_KEY keep them out of it`})` : ""}`;
  return { name: "keys", level: "ok", message, details: { ...keys, keyring: keyring.ok } };
}

/** How process tools would run here, said plainly: confined by bubblewrap, refused, or unconfined. */
async function confinementCheck(context: DoctorContext, setting: ConfinementSetting, processTools: number): Promise<Check> {
  const { chooseConfinement, effectiveSetting, findOnPath } = await import("../runners/process/sandbox.js");
  const effective = effectiveSetting(setting);
  const bwrap = process.platform === "linux" ? findOnPath("bwrap", context.env.PATH) : undefined;
  if (effective === "off")
    return {
      name: "confinement",
      level: "warn",
      message: "process.confinement is off: process tools run unconfined and can read everything you can, toolctl's keys included",
    };
  if (bwrap) {
    const { spawnSync } = await import("node:child_process");
    const probe = spawnSync(bwrap, ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"], { encoding: "utf8", timeout: 10_000 });
    if (probe.status === 0) {
      const version = spawnSync(bwrap, ["--version"], { encoding: "utf8" }).stdout.trim();
      return {
        name: "confinement",
        level: "ok",
        message: `${version || "bubblewrap"} at ${bwrap}: process tools run confined (process.confinement: ${setting})`,
        details: { bwrap },
      };
    }
    return {
      name: "confinement",
      level: processTools > 0 ? "fail" : "warn",
      message: `bubblewrap at ${bwrap} cannot build a sandbox here (${(probe.stderr || probe.error?.message || "").trim().split("\n").pop()}); process tools fail until it can (user namespaces may be disabled)`,
    };
  }
  try {
    chooseConfinement(setting, context.env.PATH);
  } catch {
    const level: Level = processTools > 0 ? "fail" : "warn";
    return {
      name: "confinement",
      level,
      message: `no confinement available: ${process.platform === "linux" ? "bubblewrap (bwrap) is not installed" : `no supported sandbox on ${process.platform}`}; process tools are refused (process.confinement: ${setting}); install bubblewrap, or set process.confinement: optional to run them unconfined`,
    };
  }
  return {
    name: "confinement",
    level: "warn",
    message: `no confinement available on ${process.platform}: process tools run unconfined (process.confinement: ${setting}) and can read everything you can, toolctl's keys included`,
  };
}

/** Which backend holds the registry, its schema version, and (for a team database) the connection and the role's privileges. */
function backendCheck(health: StoreHealth): Check {
  const schema = `schema ${health.schema.version} of ${health.schema.latest}`;
  const server = health.backend === "postgres" ? `PostgreSQL ${health.server ?? "?"}, ${health.tls ? "TLS" : "no TLS"}, ` : "SQLite, ";
  const details = {
    backend: health.backend,
    location: health.location,
    schema: health.schema,
    ...(health.server ? { server: health.server, tls: health.tls } : {}),
  };
  if (health.problems.length > 0) return { name: "backend", level: "fail", message: `${server}${schema}: ${health.problems.join("; ")}`, details };
  return { name: "backend", level: "ok", message: `${server}${schema}`, details };
}

/** `openStore` opens the home's store; a store that cannot be opened is the registry check's failure. */
export async function diagnose(context: DoctorContext, openStore: () => Promise<Store>): Promise<Diagnosis> {
  const checks: Check[] = [];
  let config;
  try {
    config = await loadConfig(context.settingsHome, context.env, context.project);
    const present = existsSync(config.file);
    const over = config.project ? `, with ${config.project.file} over ${present ? "it" : "them"}` : "";
    checks.push({ name: "config", level: "ok", message: `${present ? `${config.file} is valid` : `built-in defaults (no ${config.file})`}${over}` });
  } catch (error) {
    checks.push({ name: "config", level: "fail", message: (error as Error).message });
  }
  if (context.project && context.home !== context.settingsHome) {
    // The project registry's directory holds no settings: a config.yaml there would be silently ignored.
    const stray = path.join(context.home, CONFIG_FILE);
    if (existsSync(stray)) {
      const userConfig = path.join(context.settingsHome, CONFIG_FILE);
      checks.push({
        name: "ignored config",
        level: "warn",
        message: `${stray} is not read in a project: settings come from ${userConfig} with ${context.project.file} over it; move these settings to one of them`,
      });
    }
  }
  let tools: ToolSummary[] = [];
  let sealed = new Map<string, string>();
  let images: ToolImage[] = [];
  const docker = config?.values.docker ?? { pull: true, sandboxProcesses: false };
  // A project home toolctl did not make here (a link, or one that came with the repository) is not opened.
  const refused = projectHomeProblem(context.home);
  try {
    if (refused !== undefined) throw new Error(refused);
    const store = await openStore();
    try {
      tools = await store.tools.list();
      const pending = tools.filter((t) => t.status === "pending").map((t) => t.name);
      checks.push({
        name: "registry",
        level: "ok",
        message: `${store.location}: ${tools.length} tools${pending.length ? `, pending approval: ${pending.join(", ")}` : ""}`,
      });
      checks.push(backendCheck(await store.health()));
      const audit = await store.audit.verify();
      checks.push(
        audit.ok
          ? { name: "audit", level: "ok", message: `hash chain intact (${audit.events} events)` }
          : { name: "audit", level: "fail", message: `hash chain broken: ${audit.problems[0]}; see: toolctl audit verify` },
      );
      const twoFactor = await store.twoFactor.status();
      checks.push({
        name: "2fa",
        level: twoFactor.enrolled ? "ok" : "warn",
        message: twoFactor.enrolled ? `enrolled since ${twoFactor.since}` : "not enrolled: CRITICAL actions cannot be approved; run: toolctl 2fa enroll",
      });
      if (tools.some((tool) => tool.secrets.length > 0)) sealed = await store.secrets.allSealed();
      images = (await store.tools.images()).map((row) => ({ image: row.image, needed: row.docker || docker.sandboxProcesses }));
    } finally {
      await store.close();
    }
  } catch (error) {
    checks.push({ name: refused !== undefined ? "project home" : "registry", level: "fail", message: (error as Error).message });
  }
  const lookup = createSecretLookup(context.cwd, context.env, { home: context.home, sealed });
  for (const tool of tools) {
    if (tool.secrets.length === 0) continue;
    let missing: string[];
    try {
      missing = tool.secrets.filter((name) => lookup.get(name) === undefined);
    } catch (error) {
      checks.push({ name: `secrets ${tool.name}`, level: "fail", message: error instanceof ToolctlError ? error.message : String(error) });
      continue;
    }
    checks.push(
      missing.length === 0
        ? { name: `secrets ${tool.name}`, level: "ok", message: `${tool.secrets.length} found` }
        : {
            // A registered tool that cannot run: a failure, as an engine its Docker tools need would be.
            name: `secrets ${tool.name}`,
            level: "fail",
            message: `missing ${missing.join(", ")}: set them in the environment, .env or with toolctl secret set`,
          },
    );
  }
  checks.push(await keysCheck(context));
  checks.push(await confinementCheck(context, config?.values.process?.confinement ?? "auto", tools.filter((t) => t.runtime === "process").length));
  const dockerTools = tools.filter((t) => t.runtime === "docker");
  checks.push(...(await dockerChecks(context, images, dockerTools.length > 0, docker.pull)));

  return { ok: !checks.some((c) => c.level === "fail"), checks };
}
