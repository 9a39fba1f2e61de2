/**
 * The actions a program or an agent may be offered, each with what a caller needs to choose and call it: its
 * kind, self-contained input and output schemas (the shared definitions they reach folded in as `$defs`), and its
 * cost and risk rules in words. Only active tools: a pending, disabled or revoked tool offers nothing.
 */
import type { ActionKind, RiskLevel } from "../domain/manifest.js";
import { describeCostRule } from "../policy/cost.js";
import { withDefinitions } from "../schema/defs.js";
import type { CatalogQuery, CatalogRow, Store } from "../store/port.js";
import { riskRule } from "./describe.js";
import { reachableDefinitions } from "./validators.js";

export type { CatalogQuery };

export interface CatalogEntry {
  /** `tool.action`, as `run` takes it. */
  target: string;
  tool: string;
  action: string;
  kind: ActionKind;
  description: string;
  toolDescription: string;
  tags: string[];
  runtime: string;
  /** The cost rule in words ("fixed $0.50", "$0.0079 per SMS segment of input.body"). */
  cost: string;
  /** The risk rule in words ("from cost, at least MEDIUM (delete); approval auto"). */
  risk: string;
  /** The lowest risk level the action runs at whatever its cost, when the manifest sets one. */
  minimumRisk?: RiskLevel;
  approval: "auto" | "always";
  /** Safe to repeat with the same input (declared, or a read). */
  idempotent: boolean;
  /** How it is undone: "irreversible", "compensated by TOOL.ACTION", or "none declared". */
  undo: string;
  /** Reaches beyond this machine's files and databases (a network API, a program, a container). */
  openWorld: boolean;
  inputSchema: Record<string, unknown>;
  /** Declared and enforced on every run; absent when the action declares none or does not enforce it. */
  outputSchema?: Record<string, unknown>;
}

/** Built-in runtimes that stay on this machine: the local files and SQLite databases a manifest names. */
const CLOSED_WORLD = new Set(["echo", "files", "database"]);

function undoOf(row: CatalogRow): string {
  const rollback = row.definition.rollback;
  if (rollback === undefined) return "none declared";
  if (rollback === "irreversible") return "irreversible";
  const first = Array.isArray(rollback) ? rollback[0]! : rollback;
  return `compensated by ${row.tool}.${first.action}`;
}

async function selfContained(store: Store, tool: string, schema: Record<string, unknown>): Promise<Record<string, unknown>> {
  return withDefinitions(schema, await reachableDefinitions(store, tool, schema));
}

export async function catalog(store: Store, query: CatalogQuery = {}): Promise<CatalogEntry[]> {
  const rows = await store.tools.catalog(query);
  const entries: CatalogEntry[] = [];
  for (const row of rows) {
    const spec = row.definition;
    const input = await selfContained(store, row.tool, spec.inputSchema);
    const output = spec.outputSchema && spec.validateOutput !== false ? await selfContained(store, row.tool, spec.outputSchema) : undefined;
    entries.push({
      target: `${row.tool}.${row.action}`,
      tool: row.tool,
      action: row.action,
      kind: row.kind,
      description: row.description,
      toolDescription: row.toolDescription,
      tags: row.tags,
      runtime: row.runtime,
      cost: describeCostRule(spec.cost),
      risk: riskRule(spec),
      ...(spec.risk ? { minimumRisk: spec.risk } : {}),
      approval: spec.approval,
      idempotent: spec.idempotent ?? row.kind === "read",
      undo: undoOf(row),
      openWorld: !CLOSED_WORLD.has(row.runtime),
      inputSchema: input,
      ...(output ? { outputSchema: output } : {}),
    });
  }
  return entries;
}
