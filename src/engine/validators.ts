/**
 * Validators compiled on an action's first run. An imported API with hundreds of operations is stored without
 * compiling every schema (that would make the import slow); the first run of each action compiles its input
 * and output schemas, with the shared definitions they reach, and stores the code for every later run.
 */
import type { ActionRecord, ToolRecord } from "../domain/records.js";
import { UsageError } from "../errors.js";
import { definitionRefs, withDefinitions } from "../schema/defs.js";
import type { Store } from "../store/port.js";
import { digestOf } from "../util/canonical.js";

export function needsCompiling(action: ActionRecord): boolean {
  return action.inputValidator === null || (validatesOutput(action) && action.outputValidator === null);
}

function validatesOutput(action: ActionRecord): boolean {
  return action.definition.outputSchema !== undefined && action.definition.validateOutput !== false;
}

/** The tool's shared definitions a schema reaches: only those are read, a level of references at a time. */
export async function reachableDefinitions(store: Store, tool: string, schema: Record<string, unknown>): Promise<Record<string, unknown>> {
  const loaded: Record<string, unknown> = {};
  const asked = new Set<string>();
  let frontier = definitionRefs(schema);
  while (frontier.length > 0) {
    frontier.forEach((name) => asked.add(name));
    const rows = await store.tools.definitions(tool, frontier);
    Object.assign(loaded, rows);
    frontier = [...new Set(Object.values(rows).flatMap((definition) => definitionRefs(definition)))].filter((name) => !asked.has(name));
  }
  return loaded;
}

/** Compiles and stores the action's validators, and sets them on `action`; throws a UsageError for a schema that cannot be compiled. */
export async function compileOnFirstRun(store: Store, tool: ToolRecord, action: ActionRecord): Promise<void> {
  const { compileValidatorCode } = await import("../schema/compile.js");
  const compile = async (schema: Record<string, unknown>, which: string) => {
    const whole = withDefinitions(schema, await reachableDefinitions(store, tool.name, schema));
    try {
      return { digest: digestOf(whole), code: compileValidatorCode(whole) };
    } catch (error) {
      throw new UsageError(
        `the ${which} schema of ${tool.name}.${action.name} cannot be used: ${(error as Error).message}; fix the spec or manifest and import it again`,
      );
    }
  };
  const input = await compile(action.definition.inputSchema, "input");
  const output = validatesOutput(action) ? await compile(action.definition.outputSchema!, "output") : undefined;
  await store.tools.saveValidators(tool.name, action.name, tool.digest, input, output);
  action.inputValidator = input.code;
  action.outputValidator = output?.code ?? null;
}
