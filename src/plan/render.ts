/**
 * Rendering a step's input and condition through the manifests' safe templates. While planning, what is not
 * known yet stands in as text: an earlier step's output as "(known after apply: steps.x.output.y)", a secret
 * as "<secret NAME>", so a plan never holds a secret value. While applying, both are real.
 */
import { isSecretKey } from "../secrets/redact.js";
import { EXPRESSION, renderValue, TemplateError } from "../domain/template.js";
import { envValue } from "../util/env.js";

export interface RenderScope {
  env: NodeJS.ProcessEnv;
  /** Environment variables that hold secrets (see `secretEnvNames`): while planning, placeholders like secrets. */
  secretEnv?: ReadonlySet<string>;
  /** Outputs of the steps done so far; while planning, none. */
  outputs?: Record<string, unknown>;
  /** Secret values, while applying; while planning, undefined (placeholders). */
  secrets?: Record<string, string>;
}

/** Replaces the expressions `replace` answers for, leaving the others to the template engine. */
function substitute(value: unknown, replace: (path: string) => string | undefined): unknown {
  if (typeof value === "string") return value.replace(EXPRESSION, (whole, path: string) => replace(path) ?? whole);
  if (Array.isArray(value)) return value.map((item) => substitute(item, replace));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, replace)]));
  return value;
}

export const knownAfterApply = (path: string) => `(known after apply: ${path})`;

/** The references to other steps' outputs in a value: what makes it wait. */
export function stepRefs(value: unknown): string[] {
  const refs: string[] = [];
  substitute(value, (path) => {
    if (path.startsWith("steps.")) refs.push(path);
    return undefined;
  });
  return refs;
}

export function renderStep(value: unknown, scope: RenderScope): unknown {
  const planning = scope.secrets === undefined;
  const secretEnv = (path: string) => path.startsWith("env.") && scope.secretEnv?.has(path.slice(4).split(".")[0]!) === true;
  const prepared = planning
    ? substitute(value, (path) =>
        path.startsWith("steps.")
          ? knownAfterApply(path)
          : path.startsWith("secrets.")
            ? `<secret ${path.slice(8)}>`
            : secretEnv(path)
              ? `<secret env ${path.slice(4)}>`
              : undefined,
      )
    : value;
  const env: Record<string, string> = {};
  for (const [name, text] of Object.entries(scope.env)) if (text !== undefined) env[name] = text;
  const steps = Object.fromEntries(Object.entries(scope.outputs ?? {}).map(([id, output]) => [id, { output }]));
  return renderValue(prepared, { env, steps, secrets: scope.secrets ?? {} });
}

/**
 * The environment variables a plan reads that hold secrets: any whose value is a secret the plan's tools use
 * (`secretValues`), and any whose name looks like one (API_TOKEN, DB_PASSWORD). They are never shown or saved.
 */
export function secretEnvNames(names: readonly string[], env: NodeJS.ProcessEnv, secretValues: ReadonlySet<string>): Set<string> {
  return new Set(
    names.filter((name) => {
      const value = envValue(env, name);
      return isSecretKey(name) || (value !== undefined && value !== "" && secretValues.has(value));
    }),
  );
}

/** A condition holds unless it renders to nothing, "", false, "false", 0, "0", "no" or null. */
export function conditionHolds(condition: string, scope: RenderScope): boolean {
  const value = renderStep(condition, scope);
  if (value === undefined || value === null || value === false || value === 0) return false;
  if (typeof value === "string") return !["", "false", "0", "no"].includes(value.trim().toLowerCase());
  return true;
}

export { TemplateError };
