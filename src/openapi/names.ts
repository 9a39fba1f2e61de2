/**
 * Names for what an import creates: the tool, its secrets and its actions. An action's name is a function of
 * its own operation (operationId, or method and path), so it survives re-imports, reordering and new operations.
 */
import { createHash } from "node:crypto";
import { ACTION_NAME_PATTERN } from "../domain/manifest.js";

const MAX_ACTION_NAME = 64;

/** Six hex digits of SHA-256: what tells apart names that would otherwise be the same. */
export function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 6);
}

/** `GET /pets/{petId}`: what identifies an operation in a spec, in messages and in hashes. */
export function operationIdentity(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/** A lowercase identifier for the tool from the spec's title: "Swagger Petstore - OpenAPI 3.0" → swagger-petstore-openapi-3-0. */
export function toolSlug(title: string): string {
  const ascii = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
  const slug = ascii
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 63)
    .replace(/[-_]+$/, "");
  return slug || "api";
}

/** `TOOL_<NAME>`: the prefix of the secrets an imported tool refers to. */
export function secretPrefix(toolName: string): string {
  return `TOOL_${toolName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

export interface NameCandidate {
  name: string;
  /** The operationId as written, already a valid action name: it is never changed. */
  isExact: boolean;
}

function withHash(name: string, identity: string): string {
  return `${name.slice(0, MAX_ACTION_NAME - 7).replace(/_+$/, "")}_${shortHash(identity)}`;
}

/**
 * The operationId when it is a valid action name; else the operationId (or method and path) with every run of
 * other characters turned into `_`; a name that would pass 64 characters is cut and ends in a hash of method and path.
 */
export function candidateActionName(method: string, path: string, operationId: string | undefined): NameCandidate {
  if (operationId !== undefined && ACTION_NAME_PATTERN.test(operationId)) return { name: operationId, isExact: true };
  const raw = operationId ?? `${method.toLowerCase()}_${path}`;
  let name = raw.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[A-Za-z]/.test(name)) name = name === "" ? "op" : `op_${name}`;
  if (name.length > MAX_ACTION_NAME) name = withHash(name, operationIdentity(method, path));
  return { name, isExact: false };
}

/**
 * Final, unique names. When several operations arrive at the same name, an operationId that is exactly that
 * name keeps it and each of the others gets a hash of its own method and path: no name depends on the order
 * of operations, and another operation can change it only by claiming the very same name.
 */
export function assignActionNames(operations: Array<{ method: string; path: string; candidate: NameCandidate }>): string[] {
  const byName = new Map<string, number[]>();
  operations.forEach((op, index) => byName.set(op.candidate.name, [...(byName.get(op.candidate.name) ?? []), index]));
  const names = operations.map((op) => op.candidate.name);
  for (const indexes of byName.values()) {
    if (indexes.length < 2) continue;
    for (const index of indexes) {
      const op = operations[index]!;
      if (!op.candidate.isExact) names[index] = withHash(op.candidate.name, operationIdentity(op.method, op.path));
    }
  }
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    const other = seen.get(name);
    if (other !== undefined) {
      // Only a hash collision or an operationId written to look like a hashed name gets here.
      const a = operations[other]!;
      const b = operations[index]!;
      throw new Error(`two operations would both be named '${name}': ${operationIdentity(a.method, a.path)} and ${operationIdentity(b.method, b.path)}`);
    }
    seen.set(name, index);
  });
  return names;
}
