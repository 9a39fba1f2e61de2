/**
 * A fake Vercel REST API on 127.0.0.1 that speaks Vercel's wire format: `Authorization: Bearer <token>`, JSON
 * bodies, an optional `?teamId=` on every endpoint, and Vercel's error shape
 * `{"error": {"code": "...", "message": "...", ...extra}}`. A wrong or missing token is `403 forbidden` with
 * `invalidToken: true`; an unknown path is `404 not_found`.
 *
 * - Files (`POST /v2/files`): the raw bytes, with `x-vercel-digest` (their hex SHA-1). A missing digest is
 *   `400 missing_digest`, a wrong one `400 incorrect_file_sha`; stored by SHA in `files`, answered `200 {}`.
 *   FakeServer hands handlers the body decoded as UTF-8, which is lossy for binary files, so the fake also reads
 *   the raw bytes through Node's public `http.server.request.start` diagnostics channel (subscribed between
 *   start() and close(), for this server's port only); the UTF-8 re-encoding remains only as a fallback.
 * - Deployments (`POST /v13/deployments` with `name` and `files: [{file, sha, size}]`): a SHA never uploaded is
 *   `400 missing_files` with `missing: [sha…]`. `target` is `production`, `staging` or left out (a preview:
 *   Vercel has no `preview` target value, and refuses it). The first deployment of a name creates its project;
 *   `projectSettings` given with a deployment are saved to the project (so `framework: null` clears the
 *   project's framework). A deployment starts QUEUED; each `GET /v13/deployments/:idOrUrl` moves it on
 *   (BUILDING, then READY after `readyAfterPolls` GETs), or to ERROR with `errorCode: "BUILD_FAILED"` when
 *   `failBuild` was set at creation, or to BLOCKED when `blockBuild` was. A production deployment that becomes
 *   READY is assigned the project's production domains (Vercel's auto-assignment) and becomes the project's
 *   `targets.production`. `DELETE /v13/deployments/:id` marks it deleted (`404 not_found` from then on) and
 *   frees its aliases.
 * - Promotion (`POST /v10/projects/:idOrName/promote/:deploymentId`, `201` with no body): a READY production
 *   deployment of that project; the project's `lastAliasRequest` (`type: promote`, `fromDeploymentId`,
 *   `toDeploymentId`, `jobStatus`) is `pending` for `promotePolls` project GETs, then `succeeded` (the
 *   production domains move then) or `failed` when `failPromote` is set. Production domains are added with
 *   `POST /v10/projects/:idOrName/domains` (`{name}`); every project has `<name>.vercel.app`.
 * - Aliases (`GET /v4/aliases/:alias`: the deployment it points at; `POST /v2/deployments/:id/aliases` with `alias`): only READY deployments (`400
 *   deployment_not_ready`); a domain in `takenDomains`, a subdomain of one, or an alias held by another project
 *   is `409 alias_in_use`; an alias held by another deployment of the same project moves (`oldDeploymentId`).
 * - Projects (`POST /v10/projects`, `GET /v9/projects/:idOrName` with `targets.production`, `lastAliasRequest`
 *   and `env`) and their environment variables (`POST /v10/projects/:idOrName/env[?upsert=true]`, one object or
 *   an array; `DELETE /v9/projects/:idOrName/env/:id`): a key that already exists for an overlapping target is
 *   `400 ENV_ALREADY_EXISTS` unless upserting, which keeps the variable's id. Only `plain` values are echoed back.
 * - `GET /v2/user`, for a connectivity check.
 */
import { createHash } from "node:crypto";
import diagnostics from "node:diagnostics_channel";
import type http from "node:http";
import { FakeProvider, randomId, sendJson, type SeenRequest } from "./server.js";

export type ReadyState = "QUEUED" | "BUILDING" | "READY" | "ERROR" | "BLOCKED";
export type EnvType = "encrypted" | "plain" | "sensitive" | "secret" | "system";
export type EnvTarget = "production" | "preview" | "development";

export interface VercelFile {
  file: string;
  sha: string;
  size: number;
}

export interface VercelEnv {
  id: string;
  key: string;
  value: string;
  type: EnvType;
  target: EnvTarget[];
  createdAt: number;
  updatedAt: number;
}

export interface LastAliasRequest {
  type: "promote" | "rollback";
  fromDeploymentId: string | null;
  toDeploymentId: string;
  jobStatus: "pending" | "in-progress" | "succeeded" | "failed" | "skipped";
  requestedAt: number;
}

export interface VercelProject {
  id: string;
  name: string;
  framework: string | null;
  env: VercelEnv[];
  createdAt: number;
  /** Production domains: assigned to each production deployment that becomes READY, and moved by a promotion. */
  domains: string[];
  /** The deployment that serves the production domains, if any. */
  production: string | null;
  lastAliasRequest: LastAliasRequest | null;
  /** Project GETs left before the pending promotion completes. */
  promotePollsLeft: number;
}

export interface FakeDeployment {
  id: string;
  url: string;
  name: string;
  projectId: string;
  teamId: string | null;
  files: VercelFile[];
  target: "production" | "preview" | "staging" | null;
  projectSettings: Record<string, unknown>;
  gitMetadata: Record<string, unknown> | null;
  meta: Record<string, unknown>;
  createdAt: number;
  readyState: ReadyState;
  alias: string[];
  aliasAssigned: boolean;
  /** GETs so far, and the GETs after which the build ends (READY, or ERROR if it fails). */
  polls: number;
  readyAfterPolls: number;
  failsBuild: boolean;
  blocked: boolean;
  deleted: boolean;
}

export interface FakeVercelOptions {
  token?: string;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const ENV_TYPES: readonly string[] = ["encrypted", "plain", "sensitive", "secret", "system"];
const ENV_TARGETS: readonly string[] = ["production", "preview", "development"];
const BUILD_ERROR = 'Command "npm run build" exited with 1';
const BLOCKED_REASON = "The deployment was blocked because the commit author is not a member of the team";
const LOWER = "0123456789abcdefghijklmnopqrstuvwxyz";

class VercelError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly extra: Record<string, unknown> = {},
  ) {}
}

const badRequest = (message: string) => new VercelError(400, "bad_request", `Invalid request: ${message}`);
const deploymentNotFound = () => new VercelError(404, "not_found", "The deployment was not found");
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const sha1 = (bytes: Buffer) => createHash("sha1").update(bytes).digest("hex");

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new VercelError(400, "bad_request", "Invalid JSON");
  }
}

export class FakeVercel extends FakeProvider {
  readonly token: string;
  /** Uploaded file contents by SHA-1, and the SHAs in upload order. */
  readonly files = new Map<string, Buffer>();
  readonly uploads: string[] = [];
  readonly deployments = new Map<string, FakeDeployment>();
  /** Deployment ids deleted, in order. */
  readonly deleted: string[] = [];
  /** Projects by name. */
  readonly projects = new Map<string, VercelProject>();
  /** Alias → the id of the deployment it points at. */
  readonly aliases = new Map<string, string>();
  /** Domains owned by someone else: aliasing them (or a subdomain) is 409 alias_in_use. */
  readonly takenDomains = new Set<string>();
  /** The `?teamId=` of every request, in order (null when absent), parallel to `server.requests`. */
  readonly teamIds: Array<string | null> = [];
  /** Deployments created from now on end in ERROR (BUILD_FAILED) instead of READY. */
  failBuild = false;
  /** Deployments created from now on end BLOCKED (Vercel will not build them) instead of READY. */
  blockBuild = false;
  /** Deployments created from now on are READY (or ERROR) on this GET; the GETs before show BUILDING. */
  readyAfterPolls = 2;
  /** A promotion completes on this project GET; the GETs before show it pending. */
  promotePolls = 2;
  /** Promotions requested from now on end `failed`, leaving the domains where they were. */
  failPromote = false;
  /** Environment variables deleted (`DELETE .../env/:id`), as `project/key`, in order. */
  readonly envDeleted: string[] = [];
  /** Promotions requested, in order. */
  readonly promotions: Array<{ project: string; deploymentId: string }> = [];
  private readonly rawBodies = new WeakMap<http.ServerResponse, Buffer[]>();

  constructor(options: FakeVercelOptions = {}) {
    super();
    this.token = options.token ?? `vercel_test_${randomId(24)}`;
  }

  override async start(): Promise<this> {
    diagnostics.subscribe("http.server.request.start", this.captureRawBody);
    return super.start();
  }

  override async close(): Promise<void> {
    diagnostics.unsubscribe("http.server.request.start", this.captureRawBody);
    return super.close();
  }

  /** Adds a production domain to a project (as `POST /v10/projects/:idOrName/domains` does). */
  addDomain(projectName: string, domain: string): void {
    const project = this.findProject(projectName);
    if (!project.domains.includes(domain)) project.domains.push(domain);
    if (project.production) this.point(domain, this.deployments.get(project.production)!);
  }

  /** The deployment a domain or alias points at now, if any. */
  servedBy(domain: string): string | undefined {
    return this.aliases.get(domain);
  }

  /** The content of `path` as deployed by `deploymentId`, if it has that file. */
  servedFile(deploymentId: string, path: string): string | undefined {
    const entry = this.deployments.get(deploymentId)?.files.find((f) => f.file === path);
    return entry === undefined ? undefined : this.files.get(entry.sha)?.toString("utf8");
  }

  private readonly captureRawBody = (message: unknown): void => {
    const { request, response, server } = message as { request: http.IncomingMessage; response: http.ServerResponse; server: http.Server };
    const address = server.address();
    if (address === null || typeof address === "string" || this.url !== `http://127.0.0.1:${address.port}`) return;
    const chunks: Buffer[] = [];
    this.rawBodies.set(response, chunks);
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
  };

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, "http://x");
    const teamId = url.searchParams.get("teamId");
    this.teamIds.push(teamId);
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new VercelError(403, "forbidden", "Not authorized", { invalidToken: true });
      const [status, body] = this.route(req, res, url, teamId);
      if (body === undefined) {
        res.writeHead(status, { "content-length": "0" });
        res.end();
      } else sendJson(res, status, body);
    } catch (error) {
      if (!(error instanceof VercelError)) throw error;
      sendJson(res, error.status, { error: { code: error.code, message: error.message, ...error.extra } });
    }
  }

  private route(req: SeenRequest, res: http.ServerResponse, url: URL, teamId: string | null): [number, unknown] {
    const route = `${req.method} ${url.pathname}`;
    let match: RegExpExecArray | null;
    if (route === "POST /v2/files") return [200, this.upload(req, res)];
    if (route === "POST /v13/deployments") return [200, this.deploy(parseJson(req.body), teamId)];
    if ((match = /^GET \/v13\/deployments\/([^/]+)$/.exec(route))) {
      const deployment = this.findDeployment(decodeURIComponent(match[1]!));
      deployment.polls++;
      if (deployment.readyState === "QUEUED" || deployment.readyState === "BUILDING") {
        deployment.readyState = deployment.polls >= deployment.readyAfterPolls ? this.builtState(deployment) : "BUILDING";
        if (deployment.readyState === "READY") this.assignProduction(deployment);
      }
      return [200, this.deploymentJson(deployment)];
    }
    if ((match = /^DELETE \/v13\/deployments\/([^/]+)$/.exec(route))) {
      const deployment = this.findDeployment(decodeURIComponent(match[1]!));
      deployment.deleted = true;
      this.deleted.push(deployment.id);
      for (const alias of deployment.alias) if (this.aliases.get(alias) === deployment.id) this.aliases.delete(alias);
      const project = this.findProject(deployment.projectId);
      if (project.production === deployment.id) project.production = null;
      return [200, { uid: deployment.id, state: "DELETED" }];
    }
    if ((match = /^POST \/v10\/projects\/([^/]+)\/promote\/([^/]+)$/.exec(route))) {
      this.promote(this.findProject(decodeURIComponent(match[1]!)), decodeURIComponent(match[2]!));
      return [201, undefined];
    }
    if ((match = /^POST \/v10\/projects\/([^/]+)\/domains$/.exec(route))) {
      const project = this.findProject(decodeURIComponent(match[1]!));
      const body = parseJson(req.body);
      if (!isObject(body) || typeof body.name !== "string" || !DOMAIN.test(body.name)) throw badRequest("`name` should be a domain name.");
      this.addDomain(project.name, body.name);
      return [200, { name: body.name, projectId: project.id, verified: true }];
    }
    if ((match = /^DELETE \/v9\/projects\/([^/]+)\/env\/([^/]+)$/.exec(route))) {
      const project = this.findProject(decodeURIComponent(match[1]!));
      const env = project.env.find((e) => e.id === decodeURIComponent(match![2]!));
      if (!env) throw new VercelError(404, "not_found", "Environment Variable was not found");
      project.env = project.env.filter((e) => e !== env);
      this.envDeleted.push(`${project.name}/${env.key}`);
      return [200, envJson(env)];
    }
    if ((match = /^GET \/v4\/aliases\/([^/]+)$/.exec(route))) {
      const alias = decodeURIComponent(match[1]!).toLowerCase();
      const holder = this.deployments.get(this.aliases.get(alias) ?? "");
      if (!holder) throw new VercelError(404, "not_found", "The alias was not found");
      return [200, { uid: `alias_${alias}`, alias, deploymentId: holder.id, projectId: holder.projectId, createdAt: holder.createdAt }];
    }
    if ((match = /^POST \/v2\/deployments\/([^/]+)\/aliases$/.exec(route))) {
      return [200, this.assignAlias(this.findDeployment(decodeURIComponent(match[1]!)), parseJson(req.body))];
    }
    if (route === "POST /v10/projects") return [200, this.createProject(parseJson(req.body))];
    if ((match = /^GET \/v9\/projects\/([^/]+)$/.exec(route))) {
      const project = this.findProject(decodeURIComponent(match[1]!));
      this.progressPromotion(project);
      return [200, this.projectJson(project)];
    }
    if ((match = /^POST \/v10\/projects\/([^/]+)\/env$/.exec(route))) {
      const project = this.findProject(decodeURIComponent(match[1]!));
      return [201, this.addEnv(project, parseJson(req.body), url.searchParams.get("upsert") === "true")];
    }
    if (route === "GET /v2/user") return [200, { user: { id: "usr_fakevercel0001", email: "dev@example.com", name: "Dev", username: "dev" } }];
    throw new VercelError(404, "not_found", "The requested path was not found");
  }

  private upload(req: SeenRequest, res: http.ServerResponse): Record<string, never> {
    const digest = req.headers["x-vercel-digest"];
    if (typeof digest !== "string" || digest === "") throw new VercelError(400, "missing_digest", "Missing `x-vercel-digest` header");
    const chunks = this.rawBodies.get(res);
    const bytes = chunks ? Buffer.concat(chunks) : Buffer.from(req.body, "utf8");
    const sha = sha1(bytes);
    if (digest.toLowerCase() !== sha) throw new VercelError(400, "incorrect_file_sha", "The file SHA does not match the uploaded content");
    this.files.set(sha, bytes);
    this.uploads.push(sha);
    return {};
  }

  private deploy(body: unknown, teamId: string | null): Record<string, unknown> {
    if (!isObject(body)) throw badRequest("the body should be an object.");
    if (body.name === undefined) throw badRequest("missing required property `name`.");
    if (typeof body.name !== "string" || !NAME.test(body.name)) throw badRequest(`\`name\` should match pattern "${NAME.source}".`);
    if (!Array.isArray(body.files) || body.files.length === 0) throw badRequest("`files` should be a non-empty array.");
    const files = body.files.map((file: unknown, index): VercelFile => {
      if (!isObject(file) || typeof file.file !== "string" || typeof file.sha !== "string" || typeof file.size !== "number") {
        throw badRequest(`\`files[${index}]\` should have the properties \`file\` (string), \`sha\` (string) and \`size\` (number).`);
      }
      return { file: file.file, sha: file.sha, size: file.size };
    });
    // Vercel's targets are production and staging (or a custom environment); a preview leaves target out.
    const target = body.target ?? null;
    if (target !== null && target !== "production" && target !== "staging") {
      throw badRequest('`target` should be equal to one of the allowed values "staging", "production".');
    }
    const missing = [...new Set(files.map((f) => f.sha).filter((sha) => !this.files.has(sha)))];
    if (missing.length > 0) throw new VercelError(400, "missing_files", "Missing files", { missing });

    const name = body.name;
    const project = this.projects.get(name) ?? this.addProject(name, null);
    // Settings sent with a deployment are saved to the project: `framework: null` sets it to "Other".
    if (isObject(body.projectSettings) && "framework" in body.projectSettings) {
      const framework = body.projectSettings.framework;
      if (framework !== null && typeof framework !== "string") throw badRequest("`projectSettings.framework` should be string or null.");
      project.framework = framework;
    }
    const deployment: FakeDeployment = {
      id: `dpl_${randomId(24)}`,
      url: `${name}-${randomId(9, LOWER)}.vercel.app`,
      name,
      projectId: project.id,
      teamId,
      files,
      target,
      projectSettings: isObject(body.projectSettings) ? body.projectSettings : {},
      gitMetadata: isObject(body.gitMetadata) ? body.gitMetadata : null,
      meta: isObject(body.meta) ? body.meta : {},
      createdAt: Date.now(),
      readyState: "QUEUED",
      alias: [],
      aliasAssigned: false,
      polls: 0,
      readyAfterPolls: this.readyAfterPolls,
      failsBuild: this.failBuild,
      blocked: this.blockBuild,
      deleted: false,
    };
    this.deployments.set(deployment.id, deployment);
    if (deployment.readyAfterPolls <= 0) {
      deployment.readyState = this.builtState(deployment);
      if (deployment.readyState === "READY") this.assignProduction(deployment);
    }
    return this.deploymentJson(deployment);
  }

  private builtState(deployment: FakeDeployment): ReadyState {
    return deployment.blocked ? "BLOCKED" : deployment.failsBuild ? "ERROR" : "READY";
  }

  /** Vercel's auto-assignment: a production deployment that is READY takes the project's production domains. */
  private assignProduction(deployment: FakeDeployment): void {
    if (deployment.target !== "production") return;
    const project = this.findProject(deployment.projectId);
    project.production = deployment.id;
    for (const domain of project.domains) this.point(domain, deployment);
  }

  private point(alias: string, deployment: FakeDeployment): void {
    const holder = this.deployments.get(this.aliases.get(alias) ?? "");
    if (holder && holder !== deployment) holder.alias = holder.alias.filter((a) => a !== alias);
    if (!deployment.alias.includes(alias)) deployment.alias.push(alias);
    deployment.aliasAssigned = true;
    this.aliases.set(alias, deployment.id);
  }

  private promote(project: VercelProject, deploymentId: string): void {
    const deployment = [...this.deployments.values()].find((d) => d.id === deploymentId && !d.deleted);
    if (!deployment || deployment.projectId !== project.id) throw new VercelError(404, "not_found", "Deployment not found");
    if (deployment.readyState !== "READY") throw new VercelError(400, "deployment_not_ready", "The deployment is not READY and can not be promoted");
    if (deployment.target !== "production") {
      throw new VercelError(400, "bad_request", "This deployment is not a production deployment and cannot be directly promoted");
    }
    this.promotions.push({ project: project.name, deploymentId });
    project.lastAliasRequest = {
      type: "promote",
      fromDeploymentId: project.production,
      toDeploymentId: deploymentId,
      jobStatus: "pending",
      requestedAt: Date.now(),
    };
    project.promotePollsLeft = this.failPromote ? -1 : this.promotePolls;
    this.progressPromotion(project);
  }

  /** Each project GET moves a pending promotion on; it completes (the domains move) when its polls run out. */
  private progressPromotion(project: VercelProject): void {
    const request = project.lastAliasRequest;
    if (!request || (request.jobStatus !== "pending" && request.jobStatus !== "in-progress")) return;
    if (project.promotePollsLeft < 0) {
      request.jobStatus = "failed";
      return;
    }
    if (project.promotePollsLeft-- > 0) {
      request.jobStatus = "in-progress";
      return;
    }
    const deployment = this.deployments.get(request.toDeploymentId);
    if (!deployment || deployment.deleted) {
      request.jobStatus = "failed";
      return;
    }
    project.production = deployment.id;
    for (const domain of project.domains) this.point(domain, deployment);
    request.jobStatus = "succeeded";
  }

  private findDeployment(idOrUrl: string): FakeDeployment {
    const host = idOrUrl.replace(/^https?:\/\//, "");
    const deployment = [...this.deployments.values()].find((d) => d.id === idOrUrl || d.url === host);
    if (!deployment || deployment.deleted) throw deploymentNotFound();
    return deployment;
  }

  private deploymentJson(d: FakeDeployment): Record<string, unknown> {
    const failed =
      d.readyState === "ERROR"
        ? { readyStateReason: BUILD_ERROR, errorCode: "BUILD_FAILED", errorMessage: BUILD_ERROR }
        : d.readyState === "BLOCKED"
          ? { readyStateReason: BLOCKED_REASON }
          : {};
    return {
      id: d.id,
      url: d.url,
      name: d.name,
      readyState: d.readyState,
      ...failed,
      alias: d.alias,
      aliasAssigned: d.aliasAssigned,
      target: d.target,
      createdAt: d.createdAt,
      projectId: d.projectId,
      meta: d.meta,
      ...(d.gitMetadata ? { gitMetadata: d.gitMetadata } : {}),
      inspectorUrl: `https://vercel.com/dev/${d.name}/${d.id.slice("dpl_".length)}`,
    };
  }

  private assignAlias(deployment: FakeDeployment, body: unknown): Record<string, unknown> {
    if (deployment.readyState !== "READY") throw new VercelError(400, "deployment_not_ready", "The deployment is not READY and can not be aliased");
    if (!isObject(body) || typeof body.alias !== "string") throw badRequest("missing required property `alias`.");
    const alias = body.alias.toLowerCase();
    if (!DOMAIN.test(alias)) throw new VercelError(400, "invalid_alias", `The alias "${body.alias}" is not valid`);
    const inUse = new VercelError(409, "alias_in_use", `The alias "${alias}" is already in use by another project`);
    if ([...this.takenDomains].some((domain) => alias === domain || alias.endsWith(`.${domain}`))) throw inUse;
    const holder = this.deployments.get(this.aliases.get(alias) ?? "");
    if (holder && holder.projectId !== deployment.projectId) throw inUse;
    this.point(alias, deployment);
    const oldDeploymentId = holder && holder !== deployment ? holder.id : null;
    return { uid: `alias_${randomId(24)}`, alias, created: new Date().toISOString(), oldDeploymentId };
  }

  private addProject(name: string, framework: string | null): VercelProject {
    const project: VercelProject = {
      id: `prj_${randomId(28)}`,
      name,
      framework,
      env: [],
      createdAt: Date.now(),
      domains: [`${name}.vercel.app`],
      production: null,
      lastAliasRequest: null,
      promotePollsLeft: 0,
    };
    this.projects.set(name, project);
    return project;
  }

  private findProject(idOrName: string): VercelProject {
    const project = [...this.projects.values()].find((p) => p.id === idOrName || p.name === idOrName);
    if (!project) throw new VercelError(404, "not_found", "Project not found");
    return project;
  }

  private createProject(body: unknown): Record<string, unknown> {
    if (!isObject(body) || body.name === undefined) throw badRequest("missing required property `name`.");
    if (typeof body.name !== "string" || !NAME.test(body.name)) throw badRequest(`\`name\` should match pattern "${NAME.source}".`);
    if (body.framework !== undefined && body.framework !== null && typeof body.framework !== "string") throw badRequest("`framework` should be string.");
    if (this.projects.has(body.name)) throw new VercelError(409, "conflict", `A project with the name "${body.name}" already exists.`);
    return this.projectJson(this.addProject(body.name, (body.framework as string | null | undefined) ?? null));
  }

  private projectJson(project: VercelProject): Record<string, unknown> {
    const production = project.production ? this.deployments.get(project.production) : undefined;
    return {
      id: project.id,
      name: project.name,
      framework: project.framework,
      createdAt: project.createdAt,
      updatedAt: project.createdAt,
      env: project.env.map(envJson),
      targets: production
        ? {
            production: {
              id: production.id,
              url: production.url,
              alias: production.alias,
              aliasAssigned: production.aliasAssigned,
              readyState: production.readyState,
              target: production.target,
              createdAt: production.createdAt,
            },
          }
        : {},
      lastAliasRequest: project.lastAliasRequest,
    };
  }

  private addEnv(project: VercelProject, body: unknown, upsert: boolean): Record<string, unknown> {
    const items = Array.isArray(body) ? body : [body];
    if (items.length === 0) throw badRequest("the body should not be empty.");
    const now = Date.now();
    const wanted = items.map((item: unknown, index): VercelEnv => {
      const at = Array.isArray(body) ? `\`[${index}].` : "`";
      if (!isObject(item)) throw badRequest("each variable should be an object.");
      for (const field of ["key", "value", "type", "target"]) if (item[field] === undefined) throw badRequest(`missing required property ${at}${field}\`.`);
      if (typeof item.key !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(item.key)) throw badRequest(`${at}key\` is not a valid variable name.`);
      if (typeof item.value !== "string") throw badRequest(`${at}value\` should be string.`);
      if (typeof item.type !== "string" || !ENV_TYPES.includes(item.type)) throw badRequest(`${at}type\` should be one of ${ENV_TYPES.join(", ")}.`);
      const target = item.target;
      if (!Array.isArray(target) || target.length === 0 || !target.every((t) => typeof t === "string" && ENV_TARGETS.includes(t))) {
        throw badRequest(`${at}target\` should be a non-empty array of ${ENV_TARGETS.join(", ")}.`);
      }
      return { id: randomId(16), key: item.key, value: item.value, type: item.type as EnvType, target: target as EnvTarget[], createdAt: now, updatedAt: now };
    });
    const overlapping = (a: VercelEnv, b: VercelEnv) => a.key === b.key && a.target.some((t) => b.target.includes(t));
    if (!upsert) {
      for (const env of wanted) {
        const existing = project.env.find((e) => overlapping(e, env));
        if (existing) {
          const target = env.target.find((t) => existing.target.includes(t));
          throw new VercelError(
            400,
            "ENV_ALREADY_EXISTS",
            `A variable with the name \`${env.key}\` already exists for the target ${target} on branch undefined`,
          );
        }
      }
    }
    for (const env of wanted) {
      const replaced = project.env.find((e) => overlapping(e, env));
      if (replaced) [env.id, env.createdAt] = [replaced.id, replaced.createdAt];
      project.env = project.env.filter((e) => !overlapping(e, env)).concat(env);
    }
    return { created: wanted.map(envJson), failed: [] };
  }
}

/** A variable as the API shows it: only `plain` values come back; the others stay secret. */
function envJson(env: VercelEnv): Record<string, unknown> {
  return {
    id: env.id,
    key: env.key,
    type: env.type,
    target: env.target,
    gitBranch: null,
    configurationId: null,
    createdAt: env.createdAt,
    updatedAt: env.updatedAt,
    ...(env.type === "plain" ? { value: env.value } : {}),
  };
}
