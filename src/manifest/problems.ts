/**
 * Validation problems for people: zod's issues reworded, given a typo hint for unknown fields, placed at the
 * file, line and column they come from, and sorted in file order. Shared by manifests and config.yaml.
 */
import type { z } from "zod";
import { suggest } from "../util/suggest.js";
import type { LocatedDocument, Position } from "./locate.js";

export interface Problem {
  path: readonly PropertyKey[];
  message: string;
  atKey?: string;
}

/** One line per problem, in file order; the same problem found by two checks is reported once. */
export function sortedUnique(lines: string[]): string[] {
  const position = (line: string) => (/:(\d+):(\d+): /.exec(line) ?? [, "0", "0"]).slice(1).map(Number) as [number, number];
  return [...new Set(lines)].sort((a, b) => {
    const [la, ca] = position(a);
    const [lb, cb] = position(b);
    return la - lb || ca - cb;
  });
}

export function formatProblem(file: string, doc: LocatedDocument, problem: Problem): string {
  const at: Position = doc.positionOf(problem.path, problem.atKey);
  const field = [...problem.path, ...(problem.atKey === undefined ? [] : [problem.atKey])].map(String).join(".");
  return `${file}:${at.line}:${at.col}: ${field || "(root)"}: ${problem.message}`;
}

/** Zod's issues, reworded for people and given a typo hint for unknown fields (known fields come from `root`). */
export function describeIssue(issue: z.core.$ZodIssue, root: z.core.$ZodType): Problem[] {
  const message = issue.message.replace(/^Invalid input: /, "").replace(/^Invalid option: /, "");
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = knownKeysAt(root, issue.path);
        // A field of another form of the same object (`perUnit` beside `fixed`): not unknown, just not combinable.
        if (known.includes(key)) return { path: issue.path, atKey: key, message: `'${key}' cannot be combined with the other fields given here` };
        const hint = suggest(key, known);
        return { path: issue.path, atKey: key, message: `unknown field '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}` };
      });
    case "invalid_type":
      return [{ path: issue.path, message: /received undefined$/.test(message) ? `is required (expected ${issue.expected})` : message }];
    case "invalid_union": {
      // Report the branch that came closest (fewest problems): a typo in `cost: {fixd: 1}` then names `fixd`.
      const branches = issue.errors.filter((branch) => branch.length > 0);
      if (branches.length === 0) return [{ path: issue.path, message: message === "Invalid input" ? "does not match any allowed form" : message }];
      const closest = branches.reduce((best, branch) => (branch.length < best.length ? branch : best));
      return closest.flatMap((inner) => describeIssue({ ...inner, path: [...issue.path, ...inner.path] }, root));
    }
    case "invalid_key": {
      const key = String(issue.path[issue.path.length - 1] ?? "");
      const why = issue.issues.map((inner) => inner.message.replace(/^Invalid input: /, "")).join("; ");
      return [{ path: issue.path.slice(0, -1), atKey: key, message: `invalid name '${key}': expected ${why}` }];
    }
    default:
      return [{ path: issue.path, message }];
  }
}

/** The field names an object at `path` may have, found by walking the schema itself. */
function knownKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let schemas: z.core.$ZodType[] = [root];
  for (const segment of [...path, null]) {
    const next: z.core.$ZodType[] = [];
    const keys: string[] = [];
    const visit = (schema: z.core.$ZodType): void => {
      const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
      if (def.type === "optional" || def.type === "default" || def.type === "nullable") return visit(def.innerType as z.core.$ZodType);
      if (def.type === "pipe") return visit(def.in as z.core.$ZodType);
      if (def.type === "union") return (def.options as z.core.$ZodType[]).forEach(visit);
      if (def.type === "object") {
        const shape = def.shape as Record<string, z.core.$ZodType>;
        if (segment === null) keys.push(...Object.keys(shape));
        else if (shape[String(segment)]) next.push(shape[String(segment)]!);
      }
      if (def.type === "record" && segment !== null) next.push(def.valueType as z.core.$ZodType);
    };
    schemas.forEach(visit);
    if (segment === null) return keys;
    schemas = next;
  }
  return [];
}
