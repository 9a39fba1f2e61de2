/**
 * Shared definitions. Each schema a `$ref` points at is converted once, whatever the number of operations
 * using it, and lands in the tool's `definitions`; action schemas refer to it as `#/$defs/<name>`. Only what
 * the imported actions reach is kept. Circular schemas need nothing special: a reference is a name.
 *
 * OpenAPI's readOnly and writeOnly change `required` by direction: a readOnly property is not sent, so a
 * request need not have it, and a writeOnly one is not returned. A definition whose `required` lists such a
 * property (directly or through the definitions it uses) gets a request variant `<name>.input` and a
 * response variant `<name>.output`; all others are shared as they are.
 */
import path from "node:path";
import { shortHash } from "./names.js";
import { isRecord, unescapeSegment, type Located, type RefResolver } from "./refs.js";
import { setOwn } from "../util/own.js";
import { LIST_KEYWORDS, MAP_KEYWORDS, SINGLE_KEYWORDS, type JsonSchema, type SchemaSite } from "./schema.js";

/** Converted schemas refer to definitions through this mark until names are final. */
const MARK = "\u0000def:";
const MAX_NAME = 180;

export type Direction = "input" | "output";
type Variant = Direction | "shared";

interface Definition {
  id: number;
  key: string;
  target: Located;
  /** Name as the spec has it, and whether it is a component of the root document (those keep their names). */
  wanted: string;
  isComponent: boolean;
  schema?: JsonSchema;
  /** Registered while converting an operation that was then left out: never emitted. */
  isDiscarded?: boolean;
}

function sanitizeName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[_.-]+|[_.-]+$/g, "");
  return (clean || "Schema").slice(0, MAX_NAME);
}

export class DefinitionRegistry {
  private readonly definitions: Definition[] = [];
  private readonly byKey = new Map<string, Definition>();
  private readonly queue: Definition[] = [];
  /** Definitions that cannot be converted (they reach a reference that cannot be resolved), by key. */
  private readonly broken = new Map<string, Error>();

  constructor(
    private readonly resolver: RefResolver,
    private readonly rootUrl: string,
  ) {}

  /** The placeholder for a `$ref` written in the document at `from`; the target is converted later, once. */
  refer(ref: string, from: string): Record<string, unknown> {
    const target = this.resolver.resolve(ref, from);
    const key = this.resolver.key(target);
    const broken = this.broken.get(key);
    if (broken) throw broken;
    let definition = this.byKey.get(key);
    if (!definition) {
      definition = { id: this.definitions.length, key, target, ...this.wantedName(target) };
      this.definitions.push(definition);
      this.byKey.set(key, definition);
      this.queue.push(definition);
    }
    return { $ref: `${MARK}${definition.id}` };
  }

  /** Converts every definition referred to so far, and those they refer to. */
  drain(convert: (raw: unknown, site: SchemaSite) => JsonSchema): void {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      try {
        next.schema = convert(next.target.node, { url: next.target.url, pointer: next.target.pointer });
      } catch (error) {
        // Every later operation that reaches it fails the same way, without converting it again.
        this.broken.set(next.key, error as Error);
        throw error;
      }
    }
  }

  /** Where to come back to if the operation about to be converted is left out. */
  checkpoint(): number {
    return this.definitions.length;
  }

  /**
   * Forgets the definitions registered since the checkpoint: some may refer to one that cannot be converted.
   * Those that can are registered and converted again by the next operation that reaches them.
   */
  rollback(checkpoint: number): void {
    for (const definition of this.definitions.slice(checkpoint)) {
      definition.isDiscarded = true;
      if (this.byKey.get(definition.key) === definition) this.byKey.delete(definition.key);
    }
    this.queue.length = 0;
  }

  private wantedName(target: Located): { wanted: string; isComponent: boolean } {
    const segments = target.pointer.split("/").slice(1).map(unescapeSegment);
    const isRoot = target.url === this.rootUrl;
    const component =
      segments.length === 3 && segments[0] === "components" && segments[1] === "schemas"
        ? segments[2]
        : segments.length === 2 && segments[0] === "definitions"
          ? segments[1]
          : undefined;
    if (component !== undefined) return { wanted: component, isComponent: isRoot };
    if (segments.length === 0) return { wanted: decodeURIComponent(path.basename(new URL(target.url).pathname)).replace(/\.[^.]*$/, ""), isComponent: false };
    return { wanted: segments.slice(-3).join("_"), isComponent: false };
  }

  private definitionOf(node: unknown): Definition | undefined {
    if (!isRecord(node) || typeof node.$ref !== "string" || !node.$ref.startsWith(MARK)) return undefined;
    return this.definitions[Number(node.$ref.slice(MARK.length))];
  }

  /** Once every schema is converted: an emitter of manifest schemas that refer to final definition names. */
  emitter(warn: (message: string) => void): Emitter {
    this.breakSameValueCycles(warn);
    return new Emitter(this.live(), (node) => this.definitionOf(node));
  }

  /**
   * `A: {$ref: B}, B: {$ref: A}` says nothing, and `A: {allOf: [{$ref: B}, ...]}, B: {allOf: [{$ref: A}]}` has
   * a validator check B, then A, then B again on the same value, until the stack overflows. A reference that
   * closes such a loop (one through $ref, allOf, anyOf, oneOf, not, if/then/else or dependentSchemas, with no
   * property or item in between) accepts anything instead, with a warning. Loops through a property or an
   * item stay: each step goes one level into the data, and the data ends.
   */
  private breakSameValueCycles(warn: (message: string) => void): void {
    const state = new Map<Definition, "open" | "done">();
    const path: Definition[] = [];
    const shown = (definition: Definition) => definition.key.replace(/^.*#/, "#");
    const visit = (definition: Definition): void => {
      state.set(definition, "open");
      path.push(definition);
      sameValueRefs(definition.schema, (holder) => {
        const target = this.definitionOf(holder);
        if (target === undefined || target.isDiscarded) return;
        const seen = state.get(target);
        if (seen === undefined) visit(target);
        else if (seen === "open") {
          const loop = [...path.slice(path.indexOf(target)), target];
          warn(
            `schemas ${loop.map(shown).join(" → ")} refer to each other on the same value (through $ref, allOf, anyOf, oneOf or not, with no property or item in between): the last reference accepts anything`,
          );
          delete holder.$ref;
        }
      });
      path.pop();
      state.set(definition, "done");
    };
    for (const definition of this.live()) if (!state.has(definition)) visit(definition);
  }

  private live(): Definition[] {
    return this.definitions.filter((definition) => !definition.isDiscarded);
  }
}

export class Emitter {
  private readonly needs: Record<Direction, Set<Definition>>;
  /** Emitted definitions by `<id>:<variant>`, in the order they were first reached. */
  private readonly wanted = new Map<string, { definition: Definition; variant: Variant; schema?: JsonSchema }>();
  private readonly pending: string[] = [];
  /** Every emitted `{ $ref }` by the definition variant it names, to receive the final name. */
  private readonly holders = new Map<string, Array<Record<string, unknown>>>();

  constructor(
    all: Definition[],
    private readonly definitionOf: (node: unknown) => Definition | undefined,
  ) {
    const users = new Map<Definition, Set<Definition>>();
    const direct = { input: new Set<Definition>(), output: new Set<Definition>() };
    for (const definition of all) {
      walkSchema(definition.schema, (node) => {
        const used = this.definitionOf(node);
        if (used) users.set(used, (users.get(used) ?? new Set()).add(definition));
        if (this.hiddenRequired(node, "readOnly").length > 0) direct.input.add(definition);
        if (this.hiddenRequired(node, "writeOnly").length > 0) direct.output.add(definition);
      });
    }
    this.needs = { input: withUsers(direct.input, users), output: withUsers(direct.output, users) };
  }

  private isFlagged(schema: unknown, flag: "readOnly" | "writeOnly"): boolean {
    if (!isRecord(schema)) return false;
    if (schema[flag] === true) return true;
    const used = this.definitionOf(schema);
    return used !== undefined && isRecord(used.schema) && used.schema[flag] === true;
  }

  /**
   * The names in `node.required` whose property is flagged. The property may be declared beside `required` or
   * on a schema that applies to the same value: an `allOf` item or a `$ref`, at any depth (`Pet: {required: [id],
   * allOf: [{$ref: Base}]}` with `id` readOnly in Base).
   */
  private hiddenRequired(node: Record<string, unknown>, flag: "readOnly" | "writeOnly"): string[] {
    if (!Array.isArray(node.required) || node.required.length === 0) return [];
    const declared: Array<Record<string, unknown>> = [];
    this.propertiesOf(node, declared, new Set());
    return (node.required as string[]).filter((name) =>
      declared.some((properties) => Object.hasOwn(properties, name) && this.isFlagged(properties[name], flag)),
    );
  }

  /** Every `properties` of `node` and of the schemas its `allOf` and `$ref` apply to the same value. */
  private propertiesOf(node: unknown, into: Array<Record<string, unknown>>, seen: Set<unknown>): void {
    if (!isRecord(node) || seen.has(node)) return;
    seen.add(node);
    if (isRecord(node.properties)) into.push(node.properties);
    const used = this.definitionOf(node);
    if (used !== undefined) this.propertiesOf(used.schema, into, seen);
    if (Array.isArray(node.allOf)) for (const item of node.allOf) this.propertiesOf(item, into, seen);
  }

  /** The manifest form of a converted schema, as seen in a request (`input`) or a response (`output`). */
  emit(schema: JsonSchema, direction?: Direction): JsonSchema {
    // Action schemas are converted for one action alone, so they are rewritten where they are.
    return this.rewrite(schema, direction, true);
  }

  /** Placeholders become a definition variant's id, and `required` loses what the direction hides. */
  private rewrite(node: JsonSchema, direction: Direction | undefined, inPlace: boolean): JsonSchema {
    if (!isRecord(node)) return node;
    const hidden = direction === undefined ? [] : this.hiddenRequired(node, direction === "input" ? "readOnly" : "writeOnly");
    const definition = this.definitionOf(node);
    const out: Record<string, unknown> = inPlace ? node : {};
    for (const key in node) {
      const value = node[key];
      if (definition && key === "$ref") {
        const variant: Variant = direction !== undefined && this.needs[direction].has(definition) ? direction : "shared";
        const id = `${definition.id}:${variant}`;
        if (!this.wanted.has(id)) {
          this.wanted.set(id, { definition, variant });
          this.pending.push(id);
        }
        out.$ref = id;
        const holders = this.holders.get(id);
        if (holders) holders.push(out);
        else this.holders.set(id, [out]);
      } else if (SINGLE_KEYWORDS.has(key)) out[key] = this.rewrite(value as JsonSchema, direction, inPlace);
      else if (LIST_KEYWORDS.has(key) && Array.isArray(value)) out[key] = value.map((item) => this.rewrite(item as JsonSchema, direction, inPlace));
      else if (MAP_KEYWORDS.has(key) && isRecord(value)) {
        const map: Record<string, unknown> = inPlace ? value : {};
        for (const name in value) setOwn(map, name, this.rewrite(value[name] as JsonSchema, direction, inPlace));
        out[key] = map;
      } else if (!inPlace) out[key] = value;
    }
    if (hidden.length > 0) {
      const required = (node.required as string[]).filter((name) => !hidden.includes(name));
      if (required.length > 0) out.required = required;
      else delete out.required;
    }
    return out;
  }

  /**
   * Names every emitted definition. Names collide only after sanitising or between files: then a component of
   * the root document keeps its name and the others get a hash of where they come from, whatever the order.
   */
  private assignNames(): Map<string, string> {
    const groups = new Map<string, string[]>();
    for (const [id, { definition, variant }] of this.wanted) {
      const base = sanitizeName(definition.wanted) + (variant === "shared" ? "" : `.${variant}`);
      groups.set(base, [...(groups.get(base) ?? []), id]);
    }
    const names = new Map<string, string>();
    for (const [base, ids] of groups) {
      for (const id of ids) {
        const { definition, variant } = this.wanted.get(id)!;
        const keeps = ids.length === 1 || (definition.isComponent && variant === "shared" && sanitizeName(definition.wanted) === definition.wanted);
        names.set(id, keeps ? base : `${base}_${shortHash(`${definition.key} ${variant}`)}`);
      }
    }
    return names;
  }

  /**
   * Emits every definition the emitted action schemas reach, names them, puts the names into every emitted
   * schema (those `emit` returned included), and returns the definitions by name. Call it after the last `emit`.
   */
  finish(): Record<string, JsonSchema> {
    for (let id = this.pending.shift(); id !== undefined; id = this.pending.shift()) {
      const entry = this.wanted.get(id)!;
      // Seen in the direction of its variant; a shared definition reaches only shared ones.
      // A definition may be emitted in several variants: each is a copy.
      entry.schema = this.rewrite(entry.definition.schema ?? {}, entry.variant === "shared" ? undefined : entry.variant, false);
    }
    const names = this.assignNames();
    for (const [id, holders] of this.holders) for (const holder of holders) holder.$ref = `#/$defs/${names.get(id)}`;
    const definitions: Record<string, JsonSchema> = {};
    for (const [id, entry] of [...this.wanted].sort(([a], [b]) => (names.get(a)! < names.get(b)! ? -1 : 1))) {
      definitions[names.get(id)!] = entry.schema!;
    }
    return definitions;
  }
}

/** The definitions in `direct`, and every definition that uses one of them, directly or not. */
function withUsers(direct: Set<Definition>, users: Map<Definition, Set<Definition>>): Set<Definition> {
  const found = new Set(direct);
  const queue = [...direct];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const user of users.get(next) ?? []) {
      if (!found.has(user)) {
        found.add(user);
        queue.push(user);
      }
    }
  }
  return found;
}

/** Visits every schema object of a converted schema (not the data inside enum, const or default). */
/** Keywords whose subschemas apply to the value itself, not to a property or an item of it. */
const SAME_VALUE_SINGLE = ["not", "if", "then", "else"];
const SAME_VALUE_LIST = ["allOf", "anyOf", "oneOf"];

/** Every `{ $ref }` in a schema that applies to the value the schema is checking, in order. */
function sameValueRefs(schema: unknown, visit: (holder: Record<string, unknown>) => void): void {
  if (!isRecord(schema)) return;
  if (typeof schema.$ref === "string") visit(schema);
  for (const key of SAME_VALUE_SINGLE) sameValueRefs(schema[key], visit);
  for (const key of SAME_VALUE_LIST) {
    const list = schema[key];
    if (Array.isArray(list)) for (const item of list) sameValueRefs(item, visit);
  }
  if (isRecord(schema.dependentSchemas)) for (const item of Object.values(schema.dependentSchemas)) sameValueRefs(item, visit);
}

export function walkSchema(schema: unknown, visit: (node: Record<string, unknown>) => void): void {
  if (!isRecord(schema)) return;
  visit(schema);
  for (const [key, value] of Object.entries(schema)) {
    if (SINGLE_KEYWORDS.has(key)) walkSchema(value, visit);
    else if (LIST_KEYWORDS.has(key) && Array.isArray(value)) for (const item of value) walkSchema(item, visit);
    else if (MAP_KEYWORDS.has(key) && isRecord(value)) for (const item of Object.values(value)) walkSchema(item, visit);
  }
}
