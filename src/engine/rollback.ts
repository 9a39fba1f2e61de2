/**
 * Rollback: the declared compensation of an execution (a refund for a payment, a delete for a deploy; the one its
 * output calls for when the manifest lists several), run as an execution of its own (its own idempotency key,
 * approval and record), linked to the original, which becomes `rolled_back` once the compensation succeeded.
 * `autoRollback` does the same, unasked, for an action whose side effect happened but whose outcome failed (its
 * output did not validate), when config rollback.auto is on.
 */
import { chooseCompensation, describeRollback } from "../domain/rollback.js";
import { ExitCode, NotFoundError, PolicyError, ToolctlError, UsageError } from "../errors.js";
import type { Execution } from "../domain/records.js";
import { EXPRESSION, lookup, renderString, renderValue, TemplateError, type TemplateScope } from "../domain/template.js";
import { REDACTED } from "../secrets/redact.js";
import { execute, type ExecuteDeps, type ExecuteOptions, type ExecuteResult } from "./execute.js";

export type RollbackOptions = Omit<ExecuteOptions, "target" | "input" | "rollbackOf" | "sandbox">;

async function findOriginal(deps: ExecuteDeps, id: string): Promise<Execution> {
  const found = await deps.store.executions.find(id);
  if (found === undefined) throw new NotFoundError(`no execution '${id}'; see: toolctl executions`);
  if (Array.isArray(found)) throw new UsageError(`'${id}' matches several executions (${found.map((e) => e.id).join(", ")}); give more of the id`);
  return found;
}

/**
 * Refused: a rollback input would carry a redaction placeholder. Stored inputs and outputs are redacted (a secret's
 * value, anything under a secret-looking key), so the real value is gone; sending `[REDACTED]` would act on it.
 */
export class SecretNotKeptError extends PolicyError {}

/** Where the marker sits in a value (its keys included): `token`, `items[0].token`; "" for the value itself. */
function markedPaths(value: unknown, at = ""): string[] {
  if (typeof value === "string") return value.includes(REDACTED) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((item, index) => markedPaths(item, `${at}[${index}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => {
      const there = at ? `${at}.${key}` : key;
      return [...(key.includes(REDACTED) ? [there] : []), ...markedPaths(item, there)];
    });
  }
  return [];
}

/** Each rollback input field whose rendered value holds the marker, with the stored fields it came from. */
function placeholders(template: unknown, scope: TemplateScope, field = ""): Array<{ field: string; from: string[] }> {
  if (typeof template === "string") {
    if (markedPaths(renderString(template, scope)).length === 0) return [];
    const from = [...template.matchAll(EXPRESSION)].flatMap(([, path]) =>
      markedPaths(lookup(scope, path!)).map((inner) => (inner === "" ? path! : inner.startsWith("[") ? `${path}${inner}` : `${path}.${inner}`)),
    );
    return [{ field, from }];
  }
  if (Array.isArray(template)) return template.flatMap((item, index) => placeholders(item, scope, `${field}[${index}]`));
  if (template !== null && typeof template === "object") {
    return Object.entries(template).flatMap(([key, item]) => placeholders(item, scope, field ? `${field}.${key}` : key));
  }
  return [];
}

const and = (items: string[]) => (items.length < 2 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`);

/** One line: which rollback input fields, from which stored fields, and what to do instead. */
function refuseSecrets(original: Execution, target: string, found: Array<{ field: string; from: string[] }>): SecretNotKeptError {
  const fields = found.map((f) => f.field);
  const from = [...new Set(found.flatMap((f) => (f.from.length > 0 ? f.from : ["its own text"])))];
  const roots = ["input", "output"].filter((root) => from.some((f) => f === root || f.startsWith(`${root}.`) || f.startsWith(`${root}[`)));
  const one = fields.length === 1 && from.length === 1;
  return new SecretNotKeptError(
    "policy_refused",
    `cannot roll back ${original.id} (${original.tool}.${original.action}): rollback input${fields.length === 1 ? "" : "s"} ${and(fields)} ` +
      `${fields.length === 1 ? "comes" : "come"} from ${and(from)}, which ${one ? "was a secret and is" : "were secrets and are"} not kept ` +
      `(${one ? "it is" : "they are"} stored as ${REDACTED}), so ${target} would get the placeholder; nothing ran. ` +
      `Let ${target} take ${one ? "it" : "them"} from a secret of its own ({{ secrets.NAME }} in its command, env or request) rather than from the original's ${and(roots) || "record"}, ` +
      `or undo it by hand (see toolctl executions show ${original.id})`,
  );
}

/** The compensating action and its input, or why there is none. */
async function compensation(deps: ExecuteDeps, original: Execution): Promise<{ target: string; input: Record<string, unknown> }> {
  const name = `${original.tool}.${original.action}`;
  if (original.status === "rolled_back") {
    const by = await deps.store.executions.compensatedBy(original.id);
    throw new PolicyError("policy_refused", `execution ${original.id} (${name}) was already rolled back${by ? ` by ${by}` : ""}`);
  }
  if (original.status !== "succeeded" && original.status !== "unknown") {
    throw new UsageError(`execution ${original.id} (${name}) is ${original.status}: nothing it did needs undoing`);
  }
  const action = await deps.store.tools.action(original.tool, original.action, false);
  if (!action) throw new NotFoundError(`${name} is no longer registered, so its rollback is unknown; re-import the tool`);
  const rollback = action.definition.rollback;
  if (rollback === undefined) throw new UsageError(`${name} declares no rollback; undo it by hand (see toolctl executions show ${original.id})`);
  if (rollback === "irreversible") throw new PolicyError("policy_refused", `${name} is irreversible: it cannot be rolled back`);
  // A manifest may declare several compensations and pick one by what the original did (a payment that
  // succeeded is refunded, one that did not is canceled).
  const chosen = chooseCompensation(rollback, original.output);
  if (chosen === undefined) {
    throw new UsageError(
      `${name} declares no rollback for what ${original.id} did (${describeRollback(rollback)}); undo it by hand (see toolctl executions show ${original.id})`,
    );
  }
  const target = `${original.tool}.${chosen.action}`;
  const scope = { input: original.input ?? {}, output: original.output ?? {} };
  let input: Record<string, unknown>;
  try {
    input = renderValue(chosen.input, scope) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TemplateError) throw new UsageError(`cannot build the rollback of ${original.id}: ${error.message}`);
    throw error;
  }
  // The record keeps secrets redacted: a value rendered from one is the placeholder, never the secret. Refused
  // before anything runs (a dry run too), wherever the rollback comes from.
  const found = placeholders(chosen.input, scope);
  if (found.length > 0) throw refuseSecrets(original, target, found);
  return { target, input };
}

function markRolledBack(deps: ExecuteDeps, original: Execution, by: ExecuteResult, actor: string): Promise<void> {
  return deps.store.executions.rolledBack(original.id, {
    type: "execution.rolled_back",
    actor,
    tool: original.tool,
    action: original.action,
    executionId: original.id,
    status: "rolled_back",
    data: { by: by.executionId, compensation: `${by.tool}.${by.action}`, from: original.status },
  });
}

/** The compensation's own time limit (config rollback.timeoutSeconds), counted once it runs: an approval wait is not cut short. */
function limited(deps: ExecuteDeps): ExecuteOptions["timeLimit"] {
  return { seconds: deps.config.rollback.timeoutSeconds, setting: "rollback.timeoutSeconds" };
}

/** `toolctl rollback ID`: runs the compensation through the whole pipeline (validation, policy, approval, record). */
export async function rollbackExecution(id: string, options: RollbackOptions, deps: ExecuteDeps): Promise<ExecuteResult & { rollbackOf: string }> {
  const original = await findOriginal(deps, id);
  const { target, input } = await compensation(deps, original);
  const result = await execute(
    { ...options, target, input: { params: [], paramsJson: JSON.stringify(input) }, rollbackOf: original.id, timeLimit: limited(deps) },
    deps,
  );
  if (result.status === "succeeded") await markRolledBack(deps, original, result, options.actor);
  return { ...result, rollbackOf: original.id };
}

/**
 * After an action that acted but failed (its output did not validate), with rollback.auto on and a compensation
 * declared: undo it now. The result says what happened; exit 1 when undone ("ran and failed, rolled back").
 */
export async function autoRollback(result: ExecuteResult, options: ExecuteOptions, deps: ExecuteDeps): Promise<ExecuteResult> {
  if (options.dryRun || options.rollbackOf !== undefined || !deps.config.rollback.auto) return result;
  if (result.status !== "unknown" || result.error?.code !== "output_invalid") return result;
  const original = await findOriginal(deps, result.executionId);
  let spec;
  try {
    spec = await compensation(deps, original);
  } catch (error) {
    // A compensation that would be sent a placeholder is not run: the result says so, and the execution stays as it is.
    if (error instanceof SecretNotKeptError)
      return { ...result, error: { ...result.error, message: `${result.error.message}; the automatic rollback was refused: ${error.message}` } };
    if (error instanceof ToolctlError) return result;
    throw error;
  }
  // An execution of its own: only who runs it, where, and for which plan run carry over. The original's id, its
  // approval (a filed request, a plan's, a TOTP code) and its waiting are the original's, never the compensation's.
  const undo = await execute(
    {
      actor: options.actor,
      cwd: options.cwd,
      env: options.env,
      origin: options.origin,
      sandbox: options.sandbox,
      planRunId: options.planRunId,
      extraSecrets: options.extraSecrets,
      interrupts: options.interrupts,
      target: spec.target,
      input: { params: [], paramsJson: JSON.stringify(spec.input) },
      dryRun: false,
      rollbackOf: original.id,
      yes: true,
      wait: false,
      signal: options.signal,
      timeLimit: limited(deps),
    },
    deps,
  );
  if (undo.status !== "succeeded") {
    const message = `${result.error.message}; the automatic rollback (${spec.target}, ${undo.executionId}) did not succeed: ${undo.error?.message ?? undo.status}`;
    return { ...result, rollback: { executionId: undo.executionId, status: undo.status, error: undo.error?.message }, error: { ...result.error, message } };
  }
  await markRolledBack(deps, original, undo, options.actor);
  const message = `${result.error.message}; it was rolled back automatically (${spec.target}, ${undo.executionId})`;
  return {
    ...result,
    status: "rolled_back",
    exitCode: ExitCode.actionFailed,
    rollback: { executionId: undo.executionId, status: undo.status },
    error: { ...result.error, exitCode: ExitCode.actionFailed, message },
  };
}
