/**
 * Shared definitions: a tool's `definitions` are the `$defs` its actions' schemas refer to as
 * `{ "$ref": "#/$defs/<name>" }`. Each action's schema is compiled with only the definitions it reaches,
 * so an imported API with hundreds of operations stores every shared schema once.
 */

const PREFIX = "#/$defs/";

function decodeSegment(segment: string): string {
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // Not percent-encoded: taken as written.
  }
  return decoded.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** The definition names a schema refers to directly, in order of first appearance. */
export function definitionRefs(schema: unknown): string[] {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "$ref" && typeof value === "string" && value.startsWith(PREFIX)) names.add(decodeSegment(value.slice(PREFIX.length).split("/")[0]!));
        else walk(value);
      }
    }
  };
  walk(schema);
  return [...names];
}

/** Every definition a schema reaches, transitively, and the names it refers to that do not exist. */
export function definitionClosure(schema: unknown, definitions: Record<string, unknown> | undefined): { names: string[]; missing: string[] } {
  const reached: string[] = [];
  const missing: string[] = [];
  // A schema's own `$defs` answer its own references.
  const own = schema !== null && typeof schema === "object" ? ((schema as Record<string, unknown>).$defs ?? {}) : {};
  const seen = new Set<string>(Object.keys(own as object));
  const queue = definitionRefs(schema);
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const definition = definitions?.[name];
    if (definition === undefined || !Object.hasOwn(definitions!, name)) {
      missing.push(name);
      continue;
    }
    reached.push(name);
    queue.push(...definitionRefs(definition));
  }
  return { names: reached.sort(), missing };
}

/** A closure finder for many schemas over the same definitions: each definition is scanned for references once. */
export function closureFinder(definitions: Record<string, unknown> | undefined): (schema: unknown) => string[] {
  const direct = new Map<string, string[]>();
  const refsOf = (name: string): string[] => {
    let refs = direct.get(name);
    if (!refs) direct.set(name, (refs = definitionRefs(definitions![name])));
    return refs;
  };
  return (schema) => {
    const reached = new Set<string>();
    const queue = definitionRefs(schema);
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (reached.has(name) || !definitions || !Object.hasOwn(definitions, name)) continue;
      reached.add(name);
      queue.push(...refsOf(name));
    }
    return [...reached].sort();
  };
}

/** The schema as it is compiled: with the definitions it reaches under `$defs`, or unchanged when it needs none. */
export function withDefinitions(schema: Record<string, unknown>, definitions: Record<string, unknown> | undefined, names?: string[]): Record<string, unknown> {
  const needed = names ?? definitionClosure(schema, definitions).names;
  if (needed.length === 0) return schema;
  const own = (schema.$defs ?? {}) as Record<string, unknown>;
  return { ...schema, $defs: { ...Object.fromEntries(needed.map((name) => [name, definitions![name]])), ...own } };
}
