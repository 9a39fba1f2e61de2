/**
 * Tools and their actions. A tool's manifest is stored as JSON (already validated at import); each action
 * row carries its definition and references its precompiled input/output validators, so listing stays a
 * single cheap query and a run loads only what it needs.
 */
import type { ActionSpec, Manifest } from "../../domain/manifest.js";
import { movesFiles } from "../../domain/tool-dir.js";
import { digestOf, sha256Hex } from "../../util/canonical.js";
import type { CatalogQuery, CatalogRow } from "../port.js";
import {
  actionChanges,
  containsPattern,
  planToolSave,
  savedTool,
  toActionRecord,
  toSummary,
  SUMMARY_COLUMNS,
  type ActionRow,
  type StoredTool,
  type ToolRow,
} from "../shared/tool-rows.js";
import { appendAudit } from "./audit.js";
import { nowIso, statement, writeTransaction, type Registry } from "./db.js";
import type { ToolStatus, ToolDefinition, ToolSummary, ToolRecord, ActionRecord, ListToolsQuery } from "../../domain/records.js";
import type { ToolRow5, CompiledAction, SaveToolInput, SaveToolResult } from "../../domain/records.js";
export type { ToolRow5, CompiledAction, SaveToolInput, SaveToolResult };
export type { ToolStatus, ToolDefinition, ToolSummary, ToolRecord, ActionRecord, ListToolsQuery };

const SUMMARY_JSON = `'name', name, 'version', version, 'description', description, 'runtime', runtime, 'status', status,
  'tags', json(tags), 'actionCount', action_count, 'secrets', json(secrets), 'sourcePath', source_path, 'digest', digest,
  'createdAt', created_at, 'updatedAt', updated_at, 'requiresApproval', json(iif(requires_approval, 'true', 'false')), 'grants', json(grants)`;

function listFilter(query: ListToolsQuery): { filter: string; params: Record<string, string> } {
  const where: string[] = [];
  const params: Record<string, string> = {};
  if (query.runtime) (where.push("runtime = @runtime"), (params.runtime = query.runtime));
  if (query.status) (where.push("status = @status"), (params.status = query.status));
  if (query.tag) (where.push("EXISTS (SELECT 1 FROM json_each(tools.tags) WHERE value = @tag)"), (params.tag = query.tag));
  if (query.search) {
    where.push(`(name LIKE @search ESCAPE '\\' OR description LIKE @search ESCAPE '\\' OR EXISTS (
      SELECT 1 FROM actions a WHERE a.tool = tools.name AND (a.name LIKE @search ESCAPE '\\' OR a.description LIKE @search ESCAPE '\\')))`);
    params.search = containsPattern(query.search);
  }
  return { filter: where.length ? `WHERE ${where.join(" AND ")}` : "", params };
}

export function listTools(registry: Registry, query: ListToolsQuery = {}): ToolSummary[] {
  const { filter, params } = listFilter(query);
  // SQLite builds the whole list as one JSON text: with thousands of tools, creating a JS object per row
  // costs more than the query itself.
  const sql = `SELECT json_group_array(json_object(${SUMMARY_JSON}) ORDER BY name) FROM tools ${filter}`;
  return JSON.parse(registry.db.prepare(sql).pluck().get(params) as string) as ToolSummary[];
}

/** Just the columns the `list` table shows, as arrays: the cheapest shape for thousands of rows. */
export function listToolRows(registry: Registry, query: ListToolsQuery = {}): ToolRow5[] {
  const { filter, params } = listFilter(query);
  const sql = `SELECT name, runtime, status, action_count, description FROM tools ${filter} ORDER BY name`;
  return registry.db.prepare(sql).raw(true).all(params) as ToolRow5[];
}

export function getTool(registry: Registry, name: string): ToolRecord | undefined {
  const row = statement(registry, `SELECT ${SUMMARY_COLUMNS}, definition, reach, accepted_reach FROM tools WHERE name = ?`).get(name) as
    (ToolRow & { reach: string | null; accepted_reach: string | null }) | undefined;
  if (!row) return undefined;
  const list = (text: string | null) => (text === null ? null : (JSON.parse(text) as string[]));
  return { ...toSummary(row), definition: JSON.parse(row.definition!) as ToolDefinition, reach: list(row.reach), acceptedReach: list(row.accepted_reach) };
}

/** Every action of the active tools, tool and action names in order, as one JSON text built by SQLite. */
export function listCatalog(registry: Registry, query: CatalogQuery = {}): CatalogRow[] {
  const where = ["t.status = 'active'"];
  const params: Record<string, string> = {};
  if (query.tag) (where.push("EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = @tag)"), (params.tag = query.tag));
  if (query.tools) (where.push("t.name IN (SELECT value FROM json_each(@tools))"), (params.tools = JSON.stringify(query.tools)));
  const sql = `SELECT json_group_array(json_object('tool', t.name, 'toolDescription', t.description, 'tags', json(t.tags), 'runtime', t.runtime,
      'action', a.name, 'kind', a.kind, 'description', a.description, 'definition', json(a.definition)) ORDER BY t.name, a.name)
    FROM tools t JOIN actions a ON a.tool = t.name WHERE ${where.join(" AND ")}`;
  return JSON.parse(registry.db.prepare(sql).pluck().get(params) as string) as CatalogRow[];
}

/** Changes with any tool's name, status, digest or grants: a digest of those columns for every tool. */
export function toolsFingerprint(registry: Registry): string {
  const text = statement(
    registry,
    "SELECT group_concat(name || ':' || status || ':' || digest || ':' || coalesce(grants, ''), '|') FROM (SELECT * FROM tools ORDER BY name)",
  )
    .pluck()
    .get() as string | null;
  return sha256Hex(text ?? "");
}

export function toolNames(registry: Registry): string[] {
  return registry.db.prepare("SELECT name FROM tools ORDER BY name").pluck().all() as string[];
}

export function listToolImages(registry: Registry): Array<{ image: string; docker: boolean }> {
  const rows = registry.db
    .prepare(
      `SELECT json_extract(definition, '$.image') AS image, max(runtime = 'docker') AS docker FROM tools
     WHERE json_extract(definition, '$.image') IS NOT NULL GROUP BY 1 ORDER BY 1`,
    )
    .all() as Array<{ image: string; docker: number }>;
  return rows.map((row) => ({ image: row.image, docker: row.docker === 1 }));
}

export function actionNames(registry: Registry, tool: string): string[] {
  return registry.db.prepare("SELECT name FROM actions WHERE tool = ? ORDER BY name").pluck().all(tool) as string[];
}

export function getAction(registry: Registry, tool: string, name: string, withValidators = true): ActionRecord | undefined {
  const row = statement(
    registry,
    `SELECT a.tool, a.name, a.kind, a.description, a.definition,
       ${withValidators ? "vi.code" : "NULL"} AS input_code, ${withValidators ? "vo.code" : "NULL"} AS output_code
     FROM actions a
     LEFT JOIN validators vi ON vi.digest = a.input_validator
     LEFT JOIN validators vo ON vo.digest = a.output_validator
     WHERE a.tool = ? AND a.name = ?`,
  ).get(tool, name) as ActionRow | undefined;
  return row ? toActionRecord(row) : undefined;
}

export function listActions(registry: Registry, tool: string): Array<Pick<ActionRecord, "name" | "kind" | "description">> {
  return registry.db.prepare("SELECT name, kind, description FROM actions WHERE tool = ? ORDER BY name").all(tool) as Array<
    Pick<ActionRecord, "name" | "kind" | "description">
  >;
}

/**
 * The tool as a manifest, put back together from what is stored: its definition, its shared schema definitions
 * (stored apart) and its actions, by name. The same value the importer saved, so `digestOf` gives a manifest
 * file's digest for it.
 */
export function storedManifest(registry: Registry, name: string, definitionText?: string): Manifest | undefined {
  const text = definitionText ?? (statement(registry, "SELECT definition FROM tools WHERE name = ?").pluck().get(name) as string | undefined);
  if (text === undefined) return undefined;
  const rows = statement(registry, "SELECT name, definition FROM actions WHERE tool = ? ORDER BY name").all(name) as Array<{
    name: string;
    definition: string;
  }>;
  const definitions = getDefinitions(registry, name);
  return {
    ...(JSON.parse(text) as Omit<Manifest, "actions" | "definitions">),
    ...(Object.keys(definitions).length > 0 ? { definitions: definitions as Manifest["definitions"] } : {}),
    actions: Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.definition) as ActionSpec])),
  };
}

/**
 * Inserts or replaces one tool and all its actions in a single transaction: a file is all-or-nothing. With
 * `dryRun`, only says what it would do (the same result), and writes nothing.
 */
export function saveTool(registry: Registry, input: SaveToolInput, { dryRun = false } = {}): SaveToolResult {
  const { manifest } = input;
  // Shared schemas are stored apart, row by row: a run or a `show` never parses an API's whole set of them.
  const { actions: _actions, definitions: shared, ...definition } = manifest;
  return writeTransaction(registry, () => {
    const db = registry.db;
    const existing = db
      .prepare("SELECT digest, status, created_at, grants, requires_approval, runtime, definition, accepted_reach, source_path FROM tools WHERE name = ?")
      .get(manifest.name) as StoredTool | undefined;
    // A manifest file's digest is over its canonical JSON; a tool stored under another digest (an OpenAPI import's,
    // over the converter's text) is compared by content, so a spec exported as a manifest re-imports unchanged.
    const same =
      existing !== undefined &&
      (existing.digest === input.digest ||
        (input.canonicalDigest === true && digestOf(storedManifest(registry, manifest.name, existing.definition)) === input.digest));
    // The same manifest read from another directory runs other files when it refers to files beside it: an update.
    if (existing && same && !movesFiles(manifest, existing.source_path, input.sourcePath)) {
      if (!dryRun) db.prepare("UPDATE tools SET source_path = ? WHERE name = ?").run(input.sourcePath, manifest.name);
      return { tool: manifest.name, change: "unchanged", status: existing.status, actions: { added: [], changed: [], removed: [] } };
    }
    const oldActions = (
      db.prepare("SELECT name, definition FROM actions WHERE tool = ?").all(manifest.name) as Array<{ name: string; definition: string }>
    ).map((row) => ({ name: row.name, spec: JSON.parse(row.definition) as ActionSpec }));
    const plan = planToolSave(input, definition, existing, oldActions);
    if (dryRun) return savedTool(input, existing, plan, actionChanges(oldActions, input.actions)).result;
    const { status } = plan;
    const now = nowIso();
    db.prepare(
      `INSERT INTO tools (name, version, description, runtime, status, tags, action_count, secrets, source_path, digest, definition, created_at, updated_at, requires_approval, reach, accepted_reach)
       VALUES (@name, @version, @description, @runtime, @status, @tags, @action_count, @secrets, @source_path, @digest, @definition, @created_at, @updated_at, @requires_approval, @reach, @accepted_reach)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, description = excluded.description, runtime = excluded.runtime,
         status = excluded.status, requires_approval = excluded.requires_approval, reach = excluded.reach, accepted_reach = excluded.accepted_reach,
         tags = excluded.tags, action_count = excluded.action_count, secrets = excluded.secrets, source_path = excluded.source_path,
         digest = excluded.digest, definition = excluded.definition, updated_at = excluded.updated_at`,
    ).run({
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      runtime: manifest.runtime,
      status,
      tags: JSON.stringify(manifest.tags),
      action_count: input.actions.length,
      secrets: JSON.stringify(input.secrets),
      source_path: input.sourcePath,
      digest: input.digest,
      definition: JSON.stringify(definition),
      created_at: existing?.created_at ?? now,
      updated_at: now,
      requires_approval: plan.requiresApproval ? 1 : 0,
      reach: JSON.stringify(plan.reach),
      accepted_reach: plan.acceptedReach,
    });
    db.prepare("DELETE FROM actions WHERE tool = ?").run(manifest.name);
    db.prepare("DELETE FROM definitions WHERE tool = ?").run(manifest.name);
    const insertDefinition = db.prepare("INSERT INTO definitions (tool, name, schema) VALUES (?, ?, ?)");
    for (const [name, schema] of Object.entries(shared ?? {})) insertDefinition.run(manifest.name, name, JSON.stringify(schema));
    const insertValidator = db.prepare("INSERT OR IGNORE INTO validators (digest, code) VALUES (?, ?)");
    const insertAction = db.prepare(
      "INSERT INTO actions (tool, name, kind, description, definition, input_validator, output_validator) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    for (const action of input.actions) {
      if (action.inputValidator) insertValidator.run(action.inputValidator.digest, action.inputValidator.code);
      if (action.outputValidator) insertValidator.run(action.outputValidator.digest, action.outputValidator.code);
      insertAction.run(
        manifest.name,
        action.name,
        action.spec.kind,
        action.spec.description,
        JSON.stringify(action.spec),
        action.inputValidator?.digest ?? null,
        action.outputValidator?.digest ?? null,
      );
    }
    const saved = savedTool(input, existing, plan, actionChanges(oldActions, input.actions));
    appendAudit(registry, { type: `tool.${saved.result.change}`, actor: input.actor, tool: manifest.name, status, data: saved.data });
    return saved.result;
  });
}

export function setToolStatus(registry: Registry, name: string, status: ToolStatus, actor: string): { previous: ToolStatus; changed: boolean } {
  return writeTransaction(registry, () => {
    const row = registry.db.prepare("SELECT status FROM tools WHERE name = ?").get(name) as { status: ToolStatus } | undefined;
    if (!row) throw new Error(`tool ${name} vanished`);
    if (row.status === status) return { previous: row.status, changed: false };
    registry.db.prepare("UPDATE tools SET status = ?, updated_at = ? WHERE name = ?").run(status, nowIso(), name);
    appendAudit(registry, { type: "tool.status", actor, tool: name, status, data: { from: row.status, to: status } });
    return { previous: row.status, changed: true };
  });
}

/** The named shared schemas of a tool (its `definitions`), for compiling or showing one action's schemas. */
export function getDefinitions(registry: Registry, tool: string, names?: string[]): Record<string, unknown> {
  const rows = (
    names
      ? registry.db.prepare("SELECT name, schema FROM definitions WHERE tool = ? AND name IN (SELECT value FROM json_each(?))").all(tool, JSON.stringify(names))
      : registry.db.prepare("SELECT name, schema FROM definitions WHERE tool = ?").all(tool)
  ) as Array<{ name: string; schema: string }>;
  return Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.schema)]));
}

/** Stores validators compiled on an action's first run, unless the tool changed meanwhile. */
export function saveLazyValidators(
  registry: Registry,
  tool: string,
  action: string,
  toolDigest: string,
  input: { digest: string; code: string },
  output?: { digest: string; code: string },
): void {
  writeTransaction(registry, () => {
    const current = registry.db.prepare("SELECT digest FROM tools WHERE name = ?").pluck().get(tool);
    if (current !== toolDigest) return;
    const insertValidator = registry.db.prepare("INSERT OR IGNORE INTO validators (digest, code) VALUES (?, ?)");
    insertValidator.run(input.digest, input.code);
    if (output) insertValidator.run(output.digest, output.code);
    registry.db
      .prepare("UPDATE actions SET input_validator = ?, output_validator = ? WHERE tool = ? AND name = ?")
      .run(input.digest, output?.digest ?? null, tool, action);
  });
}

/** Removes a tool and its actions; its executions and audit events stay. */
export function removeTool(registry: Registry, name: string, actor: string, data: Record<string, unknown> = {}): void {
  writeTransaction(registry, () => {
    registry.db.prepare("DELETE FROM tools WHERE name = ?").run(name);
    appendAudit(registry, { type: "tool.removed", actor, tool: name, data });
  });
}
