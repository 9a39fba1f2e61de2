/**
 * Tools as both backends store them: the row a summary is read from, and what saving a tool decides (its status,
 * the reach it accepts, which actions changed). The decisions are pure: each backend reads the stored tool, asks
 * here, and writes the answer in its own transaction.
 */
import path from "node:path";
import type { ActionSpec } from "../../domain/manifest.js";
import { asksOf, isCovered, reachOf, widenedReach, WORKING_DIRECTORY_READ, type Asks } from "../../domain/permissions.js";
import type { ActionRecord, SaveToolInput, SaveToolResult, ToolDefinition, ToolStatus, ToolSummary } from "../../domain/records.js";
import { digestOf } from "../../util/canonical.js";

export interface ToolRow {
  name: string;
  version: string;
  description: string;
  runtime: string;
  status: ToolStatus;
  tags: string;
  action_count: number;
  secrets: string;
  source_path: string | null;
  digest: string;
  definition?: string;
  created_at: string;
  updated_at: string;
  requires_approval: number;
  grants: string | null;
}

/** An action as both backends read it, with its compiled validators' code when asked for. */
export interface ActionRow {
  tool: string;
  name: string;
  kind: ActionSpec["kind"];
  description: string;
  definition: string;
  input_code: string | null;
  output_code: string | null;
}

export function toActionRecord(row: ActionRow): ActionRecord {
  return {
    tool: row.tool,
    name: row.name,
    kind: row.kind,
    description: row.description,
    definition: JSON.parse(row.definition) as ActionSpec,
    inputValidator: row.input_code,
    outputValidator: row.output_code,
  };
}

export const SUMMARY_COLUMNS =
  "name, version, description, runtime, status, tags, action_count, secrets, source_path, digest, created_at, updated_at, requires_approval, grants";

export function toSummary(row: ToolRow): ToolSummary {
  return {
    name: row.name,
    version: row.version,
    description: row.description,
    runtime: row.runtime,
    status: row.status,
    tags: JSON.parse(row.tags) as string[],
    actionCount: row.action_count,
    secrets: JSON.parse(row.secrets) as string[],
    sourcePath: row.source_path,
    digest: row.digest,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    requiresApproval: row.requires_approval === 1,
    grants: row.grants === null ? null : (JSON.parse(row.grants) as Asks),
  };
}

/** A LIKE pattern matching `text` anywhere, with `\` escaping LIKE's wildcards. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** What a save reads of the tool already stored under the name. */
export interface StoredTool {
  digest: string;
  status: ToolStatus;
  created_at: string;
  grants: string | null;
  requires_approval: number;
  runtime: string;
  definition: string;
  accepted_reach: string | null;
  source_path: string | null;
}

export interface ToolSavePlan {
  status: ToolStatus;
  requiresApproval: boolean;
  reach: string[];
  /** The `accepted_reach` column to write (JSON text or null). */
  acceptedReach: string | null;
  widened: string[];
}

/** The reach items that name a path, by their prefix: relative ones are relative to the manifest's directory. */
const PATH_ITEMS = ["path read ", "path write ", "path cwd ", "path root ", "database "];

/**
 * `items` with every relative path made absolute against `dir`, the directory of the manifest they were read
 * from (as the runtimes resolve them): the same `..` from a manifest moved elsewhere is another place. Without a
 * directory (a spec fetched from a URL) they stay as they are.
 */
export function absoluteReach(items: readonly string[], dir: string | undefined, runtime: string): string[] {
  // Vercel's default root was recorded as "." before it was named for what it is: the working directory.
  const named = runtime === "vercel" ? items.map((item) => (item === "path read ." ? WORKING_DIRECTORY_READ : item)) : [...items];
  if (dir === undefined) return named.sort();
  return named
    .map((item) => {
      const prefix = PATH_ITEMS.find((candidate) => item.startsWith(candidate));
      const target = prefix === undefined ? undefined : item.slice(prefix.length);
      if (target === undefined || item === WORKING_DIRECTORY_READ || target === ":memory:" || path.isAbsolute(target) || target.startsWith("~")) return item;
      return `${prefix}${path.resolve(dir, target)}`;
    })
    .sort();
}

/** The directory of a manifest file; none for a spec fetched from a URL, or a tool saved without a source. */
const manifestDir = (source: string | null | undefined): string | undefined =>
  source && !/^https?:\/\//i.test(source) && path.isAbsolute(source) ? path.dirname(source) : undefined;

/**
 * The status and accepted reach of a tool being saved (not `unchanged`), from what is stored and what its actions
 * were. A tool asking for more than it was granted, or reaching further than the user accepted, goes back to
 * pending; disabled and revoked tools stay so.
 */
export function planToolSave(
  input: SaveToolInput,
  definition: ToolDefinition,
  existing: StoredTool | undefined,
  oldActions: Array<{ name: string; spec: ActionSpec }>,
): ToolSavePlan {
  const { manifest } = input;
  const requiresApproval = input.requiresApproval === true || existing?.requires_approval === 1;
  const grants = existing?.grants ? (JSON.parse(existing.grants) as Asks) : null;
  const covered = isCovered(asksOf({ runtime: manifest.runtime, definition, requiresApproval }), grants, requiresApproval);
  // Where it can reach, against what the user accepted (at its first import, or when approving it): a re-import
  // that reaches further (a host, a private network, another program or variable, a path) goes back to pending.
  // Paths as the runtimes resolve them, against each manifest's own directory: a relative path moves with it.
  const reach = absoluteReach(
    reachOf({ runtime: manifest.runtime, definition, actions: Object.values(manifest.actions) }),
    manifestDir(input.sourcePath),
    manifest.runtime,
  );
  const accepted = existing
    ? absoluteReach(
        existing.accepted_reach !== null
          ? (JSON.parse(existing.accepted_reach) as string[])
          : reachOf({
              runtime: existing.runtime,
              definition: JSON.parse(existing.definition) as ToolDefinition,
              actions: oldActions.map((action) => action.spec),
            }),
        manifestDir(existing.source_path),
        existing.runtime,
      )
    : null;
  const widened = widenedReach(reach, accepted);
  const status: ToolStatus =
    existing?.status === "disabled" || existing?.status === "revoked" ? existing.status : covered && widened.length === 0 ? "active" : "pending";
  // A new tool that may run as it is accepts its reach now; a tool that widened keeps the acceptance it had.
  const acceptedReach = existing
    ? (existing.accepted_reach ?? (existing.status === "active" ? JSON.stringify(accepted) : null))
    : status === "active"
      ? JSON.stringify(reach)
      : null;
  return { status, requiresApproval, reach, acceptedReach, widened };
}

/** Which actions a save adds, changes and removes, by the digest of each action's spec. */
export function actionChanges(oldActions: Array<{ name: string; spec: ActionSpec }>, actions: SaveToolInput["actions"]): SaveToolResult["actions"] {
  const before = new Map(oldActions.map((action) => [action.name, digestOf(action.spec)]));
  const changes = { added: [] as string[], changed: [] as string[], removed: [] as string[] };
  for (const action of actions) {
    const previous = before.get(action.name);
    if (previous === undefined) changes.added.push(action.name);
    else if (previous !== digestOf(action.spec)) changes.changed.push(action.name);
    before.delete(action.name);
  }
  changes.removed.push(...before.keys());
  return changes;
}

/** The `tool.added` / `tool.updated` audit event's data and the save's result, alike on both backends. */
export function savedTool(
  input: SaveToolInput,
  existing: StoredTool | undefined,
  plan: ToolSavePlan,
  changes: SaveToolResult["actions"],
): { result: SaveToolResult; data: Record<string, unknown> } {
  const change = existing ? "updated" : "added";
  const widened = plan.widened.length > 0 ? { widened: plan.widened } : {};
  return {
    result: { tool: input.manifest.name, change, status: plan.status, actions: changes, ...widened },
    data: {
      version: input.manifest.version,
      digest: input.digest,
      source: input.sourcePath,
      actions: changes,
      ...(existing && existing.status !== plan.status ? { statusFrom: existing.status } : {}),
      ...widened,
    },
  };
}
