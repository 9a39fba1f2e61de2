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
