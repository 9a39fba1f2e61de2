/**
 * Undoing a deploy so that the project is as it was, not merely without the new deployment. Deleting a
 * production deployment on its own leaves the production domains pointing at nothing, so:
 *
 *   - at deploy time, `readProject` notes what serves production and which env vars exist, and the deploy
 *     records what it changed (`Previous`: the deployment that served production, the custom alias it took
 *     from another deployment, the env vars it created or replaced) in its output;
 *   - `undeploy` puts that back before deleting: it promotes the old production deployment
 *     (POST /v10/projects/{id}/promote/{deploymentId}, then waits for the project's lastAliasRequest to
 *     succeed), points the alias back, deletes the env vars the deploy created, and only then deletes the
 *     deployment. What cannot be put back is said (`notReverted`): Vercel never gives back the value of a
 *     variable it replaced, and a later deploy that serves production now is left alone.
 *
 * Promotion rather than Vercel's "rollback" endpoint: an instant rollback turns off the automatic assignment of
 * production domains, so the next production deploy would not go live.
 */
import { BuiltinInputError, isPlainObject, quote } from "../../runners/builtin/input.js";
import { ApiFailure, callApi, field, type ApiClient } from "./api.js";

export type ApiUrl = (pathname: string, query?: Record<string, string>) => string;

export interface VercelCalls {
  client: ApiClient;
  api: ApiUrl;
  headers: Record<string, string>;
}

/** What a deploy changed, and what was there before: the deploy's `output.previous`, the rollback's `restore`. */
export interface Previous {
  /** The project's id, and its name. */
  project: string;
  name: string;
  /** False when this deploy created the project (it stays: deleting a project is not a rollback). */
  projectExisted: boolean;
  /** The deployment that served the production domains before a production deploy, if any. */
  production: { id: string; url?: string } | null;
  /** Custom aliases this deploy moved from another deployment of the project. */
  aliases: Array<{ alias: string; deploymentId: string }>;
  envCreated: Array<{ id: string; key: string }>;
  /** Variables that existed for the target already: their old values cannot be read back. */
  envReplaced: string[];
}

export interface ProjectBefore {
  id: string;
  production: { id: string; url?: string } | null;
  env: Array<{ id: string; key: string; target: string[] }>;
}

export interface Undeployed {
  restored: { production: string | null; aliases: string[]; envDeleted: string[] };
  notReverted: string[];
}

const enc = encodeURIComponent;
/** How long a promotion may take before the outcome is unknown (Vercel's CLI waits 3 minutes). */
const PROMOTE_TIMEOUT_MS = 180_000;

/** The project as it is before a deploy; undefined when it does not exist yet. */
export async function readProject(calls: VercelCalls, project: string): Promise<ProjectBefore | undefined> {
  let answer: unknown;
  try {
    answer = await callApi(calls.client, { method: "GET", url: calls.api(`/v9/projects/${enc(project)}`), headers: calls.headers });
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return undefined;
    throw error;
  }
  const production = field(field(answer, "targets"), "production");
  const productionId = field<string>(production, "id");
  const env = (field<unknown[]>(answer, "env") ?? []).map((e) => ({
    id: String(field(e, "id") ?? ""),
    key: String(field(e, "key") ?? ""),
    target: (field<string[]>(e, "target") ?? []).map(String),
  }));
  return { id: String(field(answer, "id")), production: productionId ? { id: productionId, url: field<string>(production, "url") } : null, env };
}

/** `restore` as the rollback passes it (the deploy's output.previous), checked: it names what will be changed. */
export function parseRestore(raw: unknown): Previous {
  if (!isPlainObject(raw)) throw new BuiltinInputError("input restore must be an object: the deploy's output.previous");
  const text = (value: unknown, name: string): string => {
    if (typeof value !== "string" || value === "") throw new BuiltinInputError(`input restore.${name} must be a non-empty string`);
    return value;
  };
  const list = (value: unknown, name: string): unknown[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new BuiltinInputError(`input restore.${name} must be a list`);
    return value;
  };
  const production = raw.production ?? null;
  if (production !== null && !(isPlainObject(production) && typeof production.id === "string"))
    throw new BuiltinInputError("input restore.production must be null or { id }");
  return {
    project: text(raw.project, "project"),
    name: typeof raw.name === "string" ? raw.name : text(raw.project, "project"),
    projectExisted: raw.projectExisted !== false,
    production: production === null ? null : { id: text(production.id, "production.id"), url: typeof production.url === "string" ? production.url : undefined },
    aliases: list(raw.aliases, "aliases").map((a, i) => {
      if (!isPlainObject(a)) throw new BuiltinInputError(`input restore.aliases[${i}] must be { alias, deploymentId }`);
      return { alias: text(a.alias, `aliases[${i}].alias`), deploymentId: text(a.deploymentId, `aliases[${i}].deploymentId`) };
    }),
    envCreated: list(raw.envCreated, "envCreated").map((e, i) => {
      if (!isPlainObject(e)) throw new BuiltinInputError(`input restore.envCreated[${i}] must be { id, key }`);
      return { id: text(e.id, `envCreated[${i}].id`), key: text(e.key, `envCreated[${i}].key`) };
    }),
    envReplaced: list(raw.envReplaced, "envReplaced").map((k, i) => text(k, `envReplaced[${i}]`)),
  };
}

/** The calls `undeploy` makes, for a dry run. */
export function describeUndeploy(calls: Pick<VercelCalls, "api" | "headers">, id: string, restore: Previous): Array<Record<string, unknown> | string> {
  const project = enc(restore.project);
  return [
    ...(restore.production
      ? [
          `GET ${calls.api(`/v9/projects/${project}`)} (does ${id} still serve production?)`,
          { method: "POST", url: calls.api(`/v10/projects/${project}/promote/${enc(restore.production.id)}`), headers: calls.headers, json: {} },
          `GET ${calls.api(`/v9/projects/${project}`)} until lastAliasRequest is succeeded (at most ${PROMOTE_TIMEOUT_MS / 1000} s)`,
        ]
      : []),
    ...restore.aliases.flatMap((a) => [
      `GET ${calls.api(`/v4/aliases/${enc(a.alias)}`)} (does ${quote(a.alias)} still point at ${id}?)`,
      { method: "POST", url: calls.api(`/v2/deployments/${enc(a.deploymentId)}/aliases`), headers: calls.headers, json: { alias: a.alias } },
    ]),
    ...restore.envCreated.map((e) => ({ method: "DELETE", url: calls.api(`/v9/projects/${project}/env/${enc(e.id)}`), headers: calls.headers, note: e.key })),
  ];
}

/** One line saying what `toolctl rollback` of this deploy will do, and what it cannot undo. */
export function rollbackNote(id: string, previous: Previous): string {
  const does = [
    ...(previous.production ? [`promotes ${previous.production.id} back to production`] : []),
    ...previous.aliases.map((a) => `points ${a.alias} back at ${a.deploymentId}`),
    `deletes ${id}${previous.envCreated.length > 0 ? ` and the env vars it created (${previous.envCreated.map((e) => e.key).join(", ")})` : ""}`,
  ];
  return [`toolctl rollback ${does.join(", ")}`, ...notRevertible(previous)].join("; ");
}

function notRevertible(previous: Previous): string[] {
  return [
    ...previous.envReplaced.map((key) => `${key} keeps the value this deploy set: Vercel does not give back a value it replaced, so set it again by hand`),
    ...(previous.projectExisted ? [] : [`the project ${previous.name}, created by this deploy, stays`]),
  ];
}

/**
 * Puts back what the deploy changed, then deletes the deployment. Production moves back only while `id` still
 * serves it, and an alias only while it still points at `id`: a later deploy is never undone by an older
 * one's rollback. A promotion that fails leaves the deployment in place, so production never points at nothing.
 */
export async function undeploy(calls: VercelCalls, id: string, restore: Previous, signal: AbortSignal): Promise<Undeployed> {
  const done: Undeployed = { restored: { production: null, aliases: [], envDeleted: [] }, notReverted: [] };
  const project = enc(restore.project);
  if (restore.production) {
    const now = await readProject(calls, restore.project);
    const serving = now?.production?.id;
    if (serving === id) {
      await promote(calls, restore.project, restore.production.id, id, signal);
      done.restored.production = restore.production.id;
    } else if (serving === restore.production.id) {
      done.restored.production = restore.production.id;
    } else if (serving !== undefined) {
      done.notReverted.push(`production is served by ${serving} now, not by ${id}: left as it is`);
    }
  }
  for (const { alias, deploymentId } of restore.aliases) {
    const holder = await aliasHolder(calls, alias);
    if (holder !== id) {
      done.notReverted.push(`${alias} points at ${holder ?? "nothing"} now, not at ${id}: left as it is`);
      continue;
    }
    await callApi(calls.client, { method: "POST", url: calls.api(`/v2/deployments/${enc(deploymentId)}/aliases`), headers: calls.headers, json: { alias } });
    done.restored.aliases.push(alias);
  }
  for (const env of restore.envCreated) {
    try {
      await callApi(calls.client, { method: "DELETE", url: calls.api(`/v9/projects/${project}/env/${enc(env.id)}`), headers: calls.headers });
    } catch (error) {
      // Gone already (deleted by hand, or by an earlier attempt of this rollback): nothing to undo.
      if (!(error instanceof ApiFailure && error.status === 404)) throw error;
    }
    done.restored.envDeleted.push(env.key);
  }
  await callApi(calls.client, { method: "DELETE", url: calls.api(`/v13/deployments/${enc(id)}`), headers: calls.headers });
  done.notReverted.push(...notRevertible(restore));
  return done;
}

async function aliasHolder(calls: VercelCalls, alias: string): Promise<string | undefined> {
  try {
    const answer = await callApi(calls.client, { method: "GET", url: calls.api(`/v4/aliases/${enc(alias)}`), headers: calls.headers });
    return field<string>(answer, "deploymentId");
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return undefined;
    throw error;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** Requests the promotion and waits until Vercel says the domains moved (Vercel moves them asynchronously). */
async function promote(calls: VercelCalls, project: string, to: string, from: string, signal: AbortSignal): Promise<void> {
  const url = calls.api(`/v9/projects/${enc(project)}`);
  await callApi(calls.client, { method: "POST", url: calls.api(`/v10/projects/${enc(project)}/promote/${enc(to)}`), headers: calls.headers, json: {} });
  const deadline = Date.now() + PROMOTE_TIMEOUT_MS;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const request = field(await callApi(calls.client, { method: "GET", url, headers: calls.headers }), "lastAliasRequest");
    const status = field<string>(request, "jobStatus");
    if (field(request, "toDeploymentId") === to) {
      if (status === "succeeded" || status === "skipped") return;
      if (status === "failed")
        throw new ApiFailure(
          `promoting ${to} back to production failed; the deployment ${from} still serves production and was left in place`,
          "server_error",
          false,
        );
    }
    if (Date.now() + delay > deadline || signal.aborted) {
      throw new ApiFailure(
        `promoting ${to} back to production was still ${status ?? "pending"} after ${PROMOTE_TIMEOUT_MS / 1000} s; the deployment ${from} was left in place: check with toolctl run vercel.inspect -p id=${to}, then roll back again`,
        "timeout",
        true,
      );
    }
    await sleep(delay, signal);
  }
}
