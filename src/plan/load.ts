/**
 * Plan file text → validated steps in dependency order. Every problem in a file is reported at once, each
 * naming file, line, column and field; a cycle names its steps. `readPlanFile` is the only function here that
 * touches the file system.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { planFileSchema, type PlanFile, type PlanStep } from "../domain/plan.js";
import { ValidationError } from "../errors.js";
import { parseLocated } from "../manifest/locate.js";
import { describeIssue, formatProblem, sortedUnique, type Problem } from "../manifest/problems.js";
import { sha256Hex } from "../util/canonical.js";
import { collectRefs, TemplateError } from "../domain/template.js";

export interface LoadedPlan {
  file: string;
  /** SHA-256 of the file's text: a saved plan notices when its source changed. */
  digest: string;
  plan: PlanFile;
  /** Step ids in an order where every step comes after the steps it needs. */
  order: string[];
  /** For each step, the steps it needs (references and dependsOn). */
  needs: Record<string, string[]>;
  /** Environment variables the templates read. */
  envNames: string[];
  /** A problem at `field` of the file, as one line naming the file, line, column and field. */
  locate(field: Array<string | number>, message: string): string;
}

const ROOTS = ["steps", "env", "secrets"];

export function readPlanFile(file: string): LoadedPlan {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    throw new ValidationError("plan_invalid", `${file}: cannot read plan: ${reason}`, [`${file}: ${reason}`]);
  }
  return parsePlan(text, file);
}

/**
 * Whole numbers past 2^53 - 1 in a step's input: YAML reads them into the nearest number, so 9007199254740993 would
 * be sent as 9007199254740992 (another id, another amount). Refused, as `run` refuses them on the command line.
 */
function inexactNumbers(value: unknown, at: Array<string | number>): Array<{ path: Array<string | number>; message: string }> {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return [
      {
        path: at,
        message: `a whole number larger than a number can hold exactly (${Number.MAX_SAFE_INTEGER}); it would be sent as ${value}: write it as a string if the field takes one`,
      },
    ];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => inexactNumbers(item, [...at, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([key, item]) => inexactNumbers(item, [...at, key]));
  return [];
}

export function parsePlan(text: string, file: string): LoadedPlan {
  const located = parseLocated(text, file.toLowerCase().endsWith(".json"));
  if (Array.isArray(located))
    throw invalid(
      file,
      located.map((p) => `${file}:${p.position.line}:${p.position.col}: ${p.message}`),
    );
  if (located.data === null || typeof located.data !== "object" || Array.isArray(located.data)) {
    throw invalid(file, [`${file}:1:1: expected a mapping with apiVersion, kind: Plan, name and steps`]);
  }
  const parsed = planFileSchema.safeParse(located.data);
  if (!parsed.success) {
    throw invalid(file, sortedUnique(parsed.error.issues.flatMap((issue) => describeIssue(issue, planFileSchema)).map((p) => formatProblem(file, located, p))));
  }
  const plan = parsed.data;
  const inexact = plan.steps.flatMap((step, i) => inexactNumbers(step.input, ["steps", i, "input"]));
  if (inexact.length > 0)
    throw invalid(
      file,
      inexact.map((p) => formatProblem(file, located, p)),
    );
  const { needs, envNames, problems } = dependencies(plan.steps);
  if (problems.length > 0) throw invalid(file, sortedUnique(problems.map((p) => formatProblem(file, located, p))));
  const cycle = findCycle(
    plan.steps.map((s) => s.id),
    needs,
  );
  if (cycle) {
    const at = plan.steps.findIndex((s) => s.id === cycle[0]);
    throw invalid(file, [formatProblem(file, located, { path: ["steps", at], message: `steps depend on each other in a cycle: ${cycle.join(" → ")}` })]);
  }
  return {
    file: path.resolve(file),
    digest: sha256Hex(text),
    plan,
    order: topologicalOrder(
      plan.steps.map((s) => s.id),
      needs,
    ),
    needs,
    envNames,
    locate: (field, message) => formatProblem(file, located, { path: field, message }),
  };
}

function invalid(file: string, lines: string[]): ValidationError {
  return new ValidationError("plan_invalid", lines.length === 1 ? lines[0]! : `${file}: ${lines.length} problems in plan`, lines, { file });
}

/** What each step needs, read from its templates and dependsOn; problems name the field that has them. */
function dependencies(steps: PlanStep[]): { needs: Record<string, string[]>; envNames: string[]; problems: Problem[] } {
  const ids = steps.map((s) => s.id);
  const needs: Record<string, string[]> = {};
  const env = new Set<string>();
  const problems: Problem[] = [];
  steps.forEach((step, index) => {
    if (ids.indexOf(step.id) !== index) problems.push({ path: ["steps", index, "id"], message: `duplicate step id '${step.id}'` });
    const needed = new Set<string>();
    for (const field of ["input", "condition"] as const) {
      let refs;
      try {
        refs = collectRefs(step[field]);
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        problems.push({ path: ["steps", index, field], message: error.message });
        continue;
      }
      for (const ref of refs) {
        const parts = ref.path.replace(/\[(\d+)\]/g, ".$1").split(".");
        const where = { path: ["steps", index, field] };
        if (!ROOTS.includes(ref.root)) problems.push({ ...where, message: `template '{{ ${ref.path} }}' may only refer to steps.<id>.output, env or secrets` });
        else if (ref.root === "env" || ref.root === "secrets") {
          if (parts.length !== 2) problems.push({ ...where, message: `template '{{ ${ref.path} }}' must name one variable, such as ${ref.root}.NAME` });
          else if (ref.root === "env") env.add(parts[1]!);
        } else if (parts[2] !== "output") {
          problems.push({ ...where, message: `template '{{ ${ref.path} }}' must read a step's output, such as steps.${parts[1] ?? "<id>"}.output.id` });
        } else if (!ids.includes(parts[1]!)) {
          problems.push({ ...where, message: `template '{{ ${ref.path} }}' refers to no step '${parts[1]}'` });
        } else if (parts[1] === step.id) {
          problems.push({ ...where, message: `template '{{ ${ref.path} }}' refers to this step's own output` });
        } else needed.add(parts[1]!);
      }
    }
    step.dependsOn.forEach((other, at) => {
      if (!ids.includes(other)) problems.push({ path: ["steps", index, "dependsOn", at], message: `no step '${other}'` });
      else if (other === step.id) problems.push({ path: ["steps", index, "dependsOn", at], message: "a step cannot depend on itself" });
      else needed.add(other);
    });
    needs[step.id] = [...needed];
  });
  return { needs, envNames: [...env].sort(), problems };
}

/** One cycle, as step ids from its first step back to it, or undefined. */
export function findCycle(ids: string[], needs: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const trail: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...trail.slice(trail.indexOf(id)), id];
    state.set(id, "visiting");
    trail.push(id);
    for (const next of needs[id] ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    trail.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of ids) {
    const found = visit(id);
    // Shown in the order things run: the step that must go first, first.
    if (found) return found.reverse();
  }
  return undefined;
}

/** Kahn's order, stable: among steps that are ready, the one written first goes first. */
export function topologicalOrder(ids: string[], needs: Record<string, string[]>): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < ids.length) {
    const next = ids.find((id) => !done.has(id) && (needs[id] ?? []).every((n) => done.has(n)));
    if (next === undefined) throw new Error("topologicalOrder: cycle (checked before)");
    done.add(next);
    order.push(next);
  }
  return order;
}
