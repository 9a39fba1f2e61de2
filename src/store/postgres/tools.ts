/**
 * Tools and their actions in the team database, as sqlite/tools.ts keeps them: a tool's manifest as JSON text,
 * each action row with its definition and its precompiled validators. What saving decides is shared
 * (shared/tool-rows.ts); names are ordered byte-wise (COLLATE "C"), as SQLite orders them.
 */
import type { ActionSpec, Manifest } from "../../domain/manifest.js";
import { movesFiles } from "../../domain/tool-dir.js";
import type {
  ActionRecord,
  ListToolsQuery,
  SaveToolInput,
  SaveToolResult,
  ToolDefinition,
  ToolRecord,
  ToolRow5,
  ToolStatus,
  ToolSummary,
} from "../../domain/records.js";
import { digestOf } from "../../util/canonical.js";
import type { CatalogQuery, CatalogRow } from "../port.js";
import {
  actionChanges,
  containsPattern,
  planToolSave,
  savedTool,
  SUMMARY_COLUMNS,
  toActionRecord,
  toSummary,
  type ActionRow,
  type StoredTool,
  type ToolRow,
} from "../shared/tool-rows.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Sql } from "./db.js";

/** Parameters numbered as they are added. */
function parameters(): { values: unknown[]; add: (value: unknown) => string } {
  const values: unknown[] = [];
  return { values, add: (value) => (values.push(value), `$${values.length}`) };
}

const hasTag = (table: string, param: string) => `EXISTS (SELECT 1 FROM jsonb_array_elements_text(${table}.tags::jsonb) AS tag WHERE tag = ${param})`;

function listFilter(query: ListToolsQuery): { filter: string; values: unknown[] } {
  const where: string[] = [];
  const { values, add } = parameters();
  if (query.runtime) where.push(`runtime = ${add(query.runtime)}`);
  if (query.status) where.push(`status = ${add(query.status)}`);
  if (query.tag) where.push(hasTag("tools", add(query.tag)));
  if (query.search) {
    // ILIKE: SQLite's LIKE ignores case too.
    const search = add(containsPattern(query.search));
    where.push(`(name ILIKE ${search} ESCAPE '\\' OR description ILIKE ${search} ESCAPE '\\' OR EXISTS (
      SELECT 1 FROM actions a WHERE a.tool = tools.name AND (a.name ILIKE ${search} ESCAPE '\\' OR a.description ILIKE ${search} ESCAPE '\\')))`);
  }
  return { filter: where.length ? `WHERE ${where.join(" AND ")}` : "", values };
}

export async function listTools(sql: Sql, query: ListToolsQuery = {}): Promise<ToolSummary[]> {
  const { filter, values } = listFilter(query);
  return (await sql.query<ToolRow>(`SELECT ${SUMMARY_COLUMNS} FROM tools ${filter} ORDER BY name COLLATE "C"`, values)).map(toSummary);
}

export async function listToolRows(sql: Sql, query: ListToolsQuery = {}): Promise<ToolRow5[]> {
  const { filter, values } = listFilter(query);
  const rows = await sql.query<{ name: string; runtime: string; status: string; action_count: number; description: string }>(
    `SELECT name, runtime, status, action_count, description FROM tools ${filter} ORDER BY name COLLATE "C"`,
    values,
  );
  return rows.map((row) => [row.name, row.runtime, row.status, row.action_count, row.description] as ToolRow5);
}

export async function getTool(sql: Sql, name: string): Promise<ToolRecord | undefined> {
  const row = await sql.one<ToolRow & { reach: string | null; accepted_reach: string | null }>(
    `SELECT ${SUMMARY_COLUMNS}, definition, reach, accepted_reach FROM tools WHERE name = $1`,
    [name],
  );
  if (!row) return undefined;
  const list = (text: string | null) => (text === null ? null : (JSON.parse(text) as string[]));
  return { ...toSummary(row), definition: JSON.parse(row.definition!) as ToolDefinition, reach: list(row.reach), acceptedReach: list(row.accepted_reach) };
}

export async function listCatalog(sql: Sql, query: CatalogQuery = {}): Promise<CatalogRow[]> {
  const where = ["t.status = 'active'"];
  const { values, add } = parameters();
  if (query.tag) where.push(hasTag("t", add(query.tag)));
  if (query.tools) where.push(`t.name = ANY(${add(query.tools)})`);
  const rows = await sql.query<{
    tool: string;
    tool_description: string;
    tags: string;
    runtime: string;
    action: string;
    kind: CatalogRow["kind"];
    description: string;
    definition: string;
  }>(
    `SELECT t.name AS tool, t.description AS tool_description, t.tags, t.runtime, a.name AS action, a.kind, a.description, a.definition
     FROM tools t JOIN actions a ON a.tool = t.name WHERE ${where.join(" AND ")} ORDER BY t.name COLLATE "C", a.name COLLATE "C"`,
    values,
  );
  return rows.map((row) => ({
    tool: row.tool,
    toolDescription: row.tool_description,
    tags: JSON.parse(row.tags) as string[],
    runtime: row.runtime,
    action: row.action,
    kind: row.kind,
    description: row.description,
    definition: JSON.parse(row.definition) as CatalogRow["definition"],
  }));
}

/** The counter the tools' trigger moves with every change to a tool's name, status, digest or grants (see schema.ts). */
export async function toolsFingerprint(sql: Sql): Promise<string> {
  const row = await sql.one<{ value: string }>("SELECT value FROM settings WHERE key = 'tools_version'");
  return `v${row?.value ?? "0"}`;
}

export async function toolNames(sql: Sql): Promise<string[]> {
  return (await sql.query<{ name: string }>(`SELECT name FROM tools ORDER BY name COLLATE "C"`)).map((row) => row.name);
}

export async function listToolImages(sql: Sql): Promise<Array<{ image: string; docker: boolean }>> {
  return sql.query<{ image: string; docker: boolean }>(
    `SELECT image, docker FROM (SELECT definition::jsonb ->> 'image' AS image, bool_or(runtime = 'docker') AS docker FROM tools
       WHERE definition::jsonb ->> 'image' IS NOT NULL GROUP BY 1) AS images ORDER BY image COLLATE "C"`,
  );
}

export async function actionNames(sql: Sql, tool: string): Promise<string[]> {
  return (await sql.query<{ name: string }>(`SELECT name FROM actions WHERE tool = $1 ORDER BY name COLLATE "C"`, [tool])).map((row) => row.name);
}

export async function getAction(sql: Sql, tool: string, name: string, withValidators = true): Promise<ActionRecord | undefined> {
  const row = await sql.one<ActionRow>(
    `SELECT a.tool, a.name, a.kind, a.description, a.definition,
       ${withValidators ? "vi.code" : "NULL"} AS input_code, ${withValidators ? "vo.code" : "NULL"} AS output_code
     FROM actions a
     LEFT JOIN validators vi ON vi.digest = a.input_validator
     LEFT JOIN validators vo ON vo.digest = a.output_validator
     WHERE a.tool = $1 AND a.name = $2`,
    [tool, name],
  );
  return row ? toActionRecord(row) : undefined;
}

export async function listActions(sql: Sql, tool: string): Promise<Array<Pick<ActionRecord, "name" | "kind" | "description">>> {
  return sql.query(`SELECT name, kind, description FROM actions WHERE tool = $1 ORDER BY name COLLATE "C"`, [tool]);
}

export async function getDefinitions(sql: Sql, tool: string, names?: string[]): Promise<Record<string, unknown>> {
  const rows = names
    ? await sql.query<{ name: string; schema: string }>("SELECT name, schema FROM definitions WHERE tool = $1 AND name = ANY($2)", [tool, names])
    : await sql.query<{ name: string; schema: string }>("SELECT name, schema FROM definitions WHERE tool = $1", [tool]);
  return Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.schema)]));
}

export async function storedManifest(sql: Sql, name: string, definitionText?: string): Promise<Manifest | undefined> {
  const text = definitionText ?? (await sql.one<{ definition: string }>("SELECT definition FROM tools WHERE name = $1", [name]))?.definition;
  if (text === undefined) return undefined;
  const rows = await sql.query<{ name: string; definition: string }>(`SELECT name, definition FROM actions WHERE tool = $1 ORDER BY name COLLATE "C"`, [name]);
  const definitions = await getDefinitions(sql, name);
  return {
    ...(JSON.parse(text) as Omit<Manifest, "actions" | "definitions">),
    ...(Object.keys(definitions).length > 0 ? { definitions: definitions as Manifest["definitions"] } : {}),
    actions: Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.definition) as ActionSpec])),
  };
}

/**
 * Inserts or replaces one tool and all its actions in one serialized transaction: a file is all-or-nothing. With
 * `dryRun`, only says what it would do (the same result), and writes nothing.
 */
export function saveTool(registry: PgRegistry, input: SaveToolInput, { dryRun = false } = {}): Promise<SaveToolResult> {
  const { manifest } = input;
  const { actions: _actions, definitions: shared, ...definition } = manifest;
  return registry.write(async (tx) => {
    const existing = await tx.one<StoredTool>(
      "SELECT digest, status, created_at, grants, requires_approval, runtime, definition, accepted_reach, source_path FROM tools WHERE name = $1",
      [manifest.name],
    );
    const same =
      existing !== undefined &&
      (existing.digest === input.digest ||
        (input.canonicalDigest === true && digestOf(await storedManifest(tx, manifest.name, existing.definition)) === input.digest));
    // The same manifest read from another directory runs other files when it refers to files beside it: an update.
    if (existing && same && !movesFiles(manifest, existing.source_path, input.sourcePath)) {
      if (!dryRun) await tx.run("UPDATE tools SET source_path = $1 WHERE name = $2", [input.sourcePath, manifest.name]);
      return { tool: manifest.name, change: "unchanged", status: existing.status, actions: { added: [], changed: [], removed: [] } };
    }
    const oldActions = (
      await tx.query<{ name: string; definition: string }>(`SELECT name, definition FROM actions WHERE tool = $1 ORDER BY name COLLATE "C"`, [manifest.name])
    ).map((row) => ({ name: row.name, spec: JSON.parse(row.definition) as ActionSpec }));
    const plan = planToolSave(input, definition, existing, oldActions);
    if (dryRun) return savedTool(input, existing, plan, actionChanges(oldActions, input.actions)).result;
    const now = nowIso();
    await tx.run(
      `INSERT INTO tools (name, version, description, runtime, status, tags, action_count, secrets, source_path, digest, definition, created_at, updated_at, requires_approval, reach, accepted_reach)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, description = excluded.description, runtime = excluded.runtime,
         status = excluded.status, requires_approval = excluded.requires_approval, reach = excluded.reach, accepted_reach = excluded.accepted_reach,
         tags = excluded.tags, action_count = excluded.action_count, secrets = excluded.secrets, source_path = excluded.source_path,
         digest = excluded.digest, definition = excluded.definition, updated_at = excluded.updated_at`,
      [
        manifest.name,
        manifest.version,
        manifest.description,
        manifest.runtime,
        plan.status,
        JSON.stringify(manifest.tags),
        input.actions.length,
        JSON.stringify(input.secrets),
        input.sourcePath,
        input.digest,
        JSON.stringify(definition),
        existing?.created_at ?? now,
        now,
        plan.requiresApproval ? 1 : 0,
        JSON.stringify(plan.reach),
        plan.acceptedReach,
      ],
    );
    await tx.run("DELETE FROM actions WHERE tool = $1", [manifest.name]);
    await tx.run("DELETE FROM definitions WHERE tool = $1", [manifest.name]);
    // One statement per table, whatever the number of rows: an imported API can have hundreds of operations.
    const sharedEntries = Object.entries(shared ?? {});
    if (sharedEntries.length > 0) {
      await tx.run("INSERT INTO definitions (tool, name, schema) SELECT $1, * FROM unnest($2::text[], $3::text[])", [
        manifest.name,
        sharedEntries.map(([name]) => name),
        sharedEntries.map(([, schema]) => JSON.stringify(schema)),
      ]);
    }
    const validators = input.actions.flatMap((action) => [action.inputValidator, action.outputValidator].filter((v) => v !== undefined));
    if (validators.length > 0) {
      await tx.run("INSERT INTO validators (digest, code) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (digest) DO NOTHING", [
        validators.map((v) => v.digest),
        validators.map((v) => v.code),
      ]);
    }
    if (input.actions.length > 0) {
      await tx.run(
        `INSERT INTO actions (tool, name, kind, description, definition, input_validator, output_validator)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [
          manifest.name,
          input.actions.map((action) => action.name),
          input.actions.map((action) => action.spec.kind),
          input.actions.map((action) => action.spec.description),
          input.actions.map((action) => JSON.stringify(action.spec)),
          input.actions.map((action) => action.inputValidator?.digest ?? null),
          input.actions.map((action) => action.outputValidator?.digest ?? null),
        ],
      );
    }
    const saved = savedTool(input, existing, plan, actionChanges(oldActions, input.actions));
    await appendAudit(registry, tx, { type: `tool.${saved.result.change}`, actor: input.actor, tool: manifest.name, status: plan.status, data: saved.data });
    return saved.result;
  });
}

export function setToolStatus(registry: PgRegistry, name: string, status: ToolStatus, actor: string): Promise<{ previous: ToolStatus; changed: boolean }> {
  return registry.write(async (tx) => {
    const row = await tx.one<{ status: ToolStatus }>("SELECT status FROM tools WHERE name = $1", [name]);
    if (!row) throw new Error(`tool ${name} vanished`);
    if (row.status === status) return { previous: row.status, changed: false };
    await tx.run("UPDATE tools SET status = $1, updated_at = $2 WHERE name = $3", [status, nowIso(), name]);
    await appendAudit(registry, tx, { type: "tool.status", actor, tool: name, status, data: { from: row.status, to: status } });
    return { previous: row.status, changed: true };
  });
}

/** Stores validators compiled on an action's first run, unless the tool changed meanwhile. */
export async function saveLazyValidators(
  registry: PgRegistry,
  tool: string,
  action: string,
  toolDigest: string,
  input: { digest: string; code: string },
  output?: { digest: string; code: string },
): Promise<void> {
  // Touches one action row and content-addressed validators: no need to wait for the registry-wide lock.
  await registry.write(
    async (tx) => {
      const current = await tx.one<{ digest: string }>("SELECT digest FROM tools WHERE name = $1 FOR SHARE", [tool]);
      if (current?.digest !== toolDigest) return;
      const validators = [input, ...(output ? [output] : [])];
      await tx.run("INSERT INTO validators (digest, code) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (digest) DO NOTHING", [
        validators.map((v) => v.digest),
        validators.map((v) => v.code),
      ]);
      await tx.run("UPDATE actions SET input_validator = $1, output_validator = $2 WHERE tool = $3 AND name = $4", [
        input.digest,
        output?.digest ?? null,
        tool,
        action,
      ]);
    },
    { serialized: false },
  );
}

/** Removes a tool and its actions; its executions and audit events stay. */
export async function removeTool(registry: PgRegistry, name: string, actor: string, data: Record<string, unknown> = {}): Promise<void> {
  await registry.write(async (tx) => {
    await tx.run("DELETE FROM tools WHERE name = $1", [name]);
    await appendAudit(registry, tx, { type: "tool.removed", actor, tool: name, data });
  });
}
