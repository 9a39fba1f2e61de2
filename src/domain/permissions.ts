/**
 * What a sandboxed tool may use, and what asking for more means. Light on purpose (no zod): the run path
 * checks grants before every execution.
 *
 * Within the defaults a tool needs nobody's say-so; anything above them (network, more memory, CPU, processes
 * or storage) makes the tool `pending` until `toolctl tool approve` grants exactly what it asks for.
 */
export interface Permissions {
  network: boolean;
  memoryMb: number;
  cpus: number;
  pids: number;
  storageMb: number;
  timeoutSeconds: number;
}

/** The seeds' defaults: no network, 512 MB without swap, half a CPU, 100 MB of state; pids as in the reference. */
export const DEFAULT_PERMISSIONS: Readonly<Permissions> = Object.freeze({
  network: false,
  memoryMb: 512,
  cpus: 0.5,
  pids: 256,
  storageMb: 100,
  timeoutSeconds: 30,
});

/** What a tool asks for: its sandbox resources, and (for an imported API) the hosts it will call. */
export interface Asks {
  permissions?: Permissions;
  hosts?: string[];
}

/** The resources that need a grant beyond the defaults; the timeout is a limit, not a privilege. */
const GRANTED: ReadonlyArray<Exclude<keyof Permissions, "timeoutSeconds">> = ["network", "memoryMb", "cpus", "pids", "storageMb"];

export interface AskedItem {
  name: string;
  asked: string;
  /** What is already allowed: the defaults, or the previous grant. */
  allowed: string;
  needsGrant: boolean;
}

const show = (key: string, value: unknown): string =>
  key === "network" ? (value ? "outbound network (bridge)" : "none") : key === "memoryMb" || key === "storageMb" ? `${value} MB` : String(value);

/** Each thing asked for, next to what is allowed without a new grant. */
export function askedItems(asks: Asks, grant: Asks | null): AskedItem[] {
  const items: AskedItem[] = [];
  if (asks.permissions) {
    const base = grant?.permissions ?? DEFAULT_PERMISSIONS;
    for (const key of GRANTED) {
      const asked = asks.permissions[key];
      const allowed = base[key];
      items.push({ name: key, asked: show(key, asked), allowed: show(key, allowed), needsGrant: Number(asked) > Number(allowed) });
    }
  }
  if (asks.hosts) {
    const granted = new Set(grant?.hosts ?? []);
    for (const host of asks.hosts) items.push({ name: "host", asked: host, allowed: granted.has(host) ? host : "not granted", needsGrant: !granted.has(host) });
  }
  return items;
}

/** True when the tool may run: nothing it asks for goes beyond the defaults or the grant on record. */
export function isCovered(asks: Asks, grant: Asks | null, requiresApproval: boolean): boolean {
  if (requiresApproval && grant === null) return false;
  return askedItems(asks, grant).every((item) => !item.needsGrant);
}

/** A tool's sandbox permissions with the defaults filled in. */
export function effectivePermissions(declared: Partial<Permissions> | undefined): Permissions {
  return { ...DEFAULT_PERMISSIONS, ...declared };
}

/** The parts of a tool definition that say what it asks for. */
export interface AskingTool {
  runtime: string;
  requiresApproval: boolean;
  definition: {
    image?: string;
    permissions?: Partial<Permissions>;
    baseUrl?: string;
    sandboxBaseUrl?: string;
    http?: { allowedHosts?: string[] };
  };
}

/** A docker tool, or a process tool that names an image, asks for its sandbox; an imported API for its hosts. */
export function asksOf(tool: AskingTool): Asks {
  const asks: Asks = {};
  const { definition } = tool;
  if (tool.runtime === "docker" || (tool.runtime === "process" && definition.image !== undefined)) {
    asks.permissions = effectivePermissions(definition.permissions);
  }
  if (tool.requiresApproval && tool.runtime === "http") {
    const urls = [definition.baseUrl, definition.sandboxBaseUrl].filter((url): url is string => url !== undefined);
    const hosts = new Set([...urls.map((url) => new URL(url).hostname), ...(definition.http?.allowedHosts ?? [])]);
    asks.hosts = [...hosts].sort();
  }
  return asks;
}

// ------------------------------------------------------------------------------------------------------ reach

/** The parts of a tool (and its actions) that say where it can reach: hosts, networks, programs, paths. */
export interface ReachingTool {
  runtime: string;
  definition: {
    baseUrl?: string;
    sandboxBaseUrl?: string;
    image?: string;
    http?: { allowedHosts?: string[]; allowPrivateNetworks?: boolean | string[]; allowPlainHttp?: boolean };
    process?: { env?: string[]; cwd?: string; network?: boolean; readable?: string[]; writable?: string[] };
    email?: { host: string; port?: number; allowPlainSmtp?: boolean; allowedRecipientDomains?: string[] };
    files?: { roots: string[] };
    database?: { file: string; tables: Record<string, string[] | { operations: string[]; columns?: string[] }> };
    vercel?: { projectRoot?: string; github?: { apiUrl?: string } };
  };
  actions: Array<{ command?: string[]; operation?: string; request?: { baseUrl?: string } }>;
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** The reach item of a Vercel tool that deploys from wherever it is run (no `projectRoot`). */
export const WORKING_DIRECTORY_READ = "path read (the working directory)";

/**
 * Everything a tool can reach, as plain items ("host api.stripe.com", "command node", "env PATH"). A re-import
 * whose reach has an item the user never accepted is widening: the tool goes back to pending until approved.
 */
export function reachOf(tool: ReachingTool): string[] {
  const items = new Set<string>();
  const { definition: d } = tool;
  const speaksHttp = tool.runtime === "http" || tool.runtime === "vercel";
  if (speaksHttp) {
    for (const url of [d.baseUrl, d.sandboxBaseUrl]) if (url) items.add(`host ${hostOf(url)}`);
    for (const entry of d.http?.allowedHosts ?? []) items.add(`host ${entry}`);
    for (const action of tool.actions) if (action.request?.baseUrl) items.add(`host ${hostOf(action.request.baseUrl)}`);
    const privateNetworks = d.http?.allowPrivateNetworks;
    if (privateNetworks === true) items.add("private network any");
    else for (const cidr of privateNetworks || []) items.add(`private network ${cidr}`);
    if (d.http?.allowPlainHttp) items.add("plain http");
    if (tool.runtime === "vercel" && d.vercel?.github?.apiUrl) items.add(`host ${hostOf(d.vercel.github.apiUrl)}`);
    // Without a projectRoot, Vercel deploys from the working directory of each run: no one place.
    if (tool.runtime === "vercel") items.add(d.vercel?.projectRoot === undefined ? WORKING_DIRECTORY_READ : `path read ${d.vercel.projectRoot}`);
  }
  if (tool.runtime === "process" || tool.runtime === "docker") {
    for (const action of tool.actions) if (action.command?.[0] !== undefined) items.add(`command ${action.command[0]}`);
    if (d.image) items.add(`image ${d.image}`);
  }
  if (tool.runtime === "process") {
    for (const name of d.process?.env ?? ["PATH", "LANG", "TZ"]) items.add(`env ${name}`);
    if (d.process?.cwd) items.add(`path cwd ${d.process.cwd}`);
    if (d.process?.network) items.add("network");
    for (const file of d.process?.readable ?? []) items.add(`path read ${file}`);
    for (const file of d.process?.writable ?? []) items.add(`path write ${file}`);
  }
  if (tool.runtime === "email" && d.email) {
    items.add(`smtp ${d.email.host}:${d.email.port ?? 587}`);
    if (d.email.allowPlainSmtp) items.add("plain smtp");
    if (d.email.allowedRecipientDomains === undefined) items.add("recipients any domain");
    else for (const domain of d.email.allowedRecipientDomains) items.add(`recipients ${domain}`);
  }
  if (tool.runtime === "files" && d.files) {
    for (const root of d.files.roots) items.add(`path root ${root}`);
    for (const action of tool.actions) if (action.operation) items.add(`files ${action.operation}`);
  }
  if (tool.runtime === "database" && d.database) {
    items.add(`database ${d.database.file}`);
    for (const [table, access] of Object.entries(d.database.tables)) {
      const operations = Array.isArray(access) ? access : access.operations;
      for (const operation of operations)
        items.add(`table ${table} ${operation}${!Array.isArray(access) && access.columns ? ` (${access.columns.join(", ")})` : ""}`);
    }
  }
  return [...items].sort();
}

/** The items of `reach` that `accepted` does not hold: what a change widened. */
export function widenedReach(reach: readonly string[] | null, accepted: readonly string[] | null): string[] {
  if (reach === null || accepted === null) return [];
  const known = new Set(accepted);
  return reach.filter((item) => !known.has(item));
}
