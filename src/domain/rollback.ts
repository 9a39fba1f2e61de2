/**
 * An action's declared rollback, read on the run path: which compensation undoes one execution (chosen by its
 * output when the manifest lists several), and the one-line description dry runs, approvals and `show` print.
 * Light on purpose (no zod): the schema lives in ./action.ts, this only reads what it validated.
 */
import { lookup } from "./template.js";
import type { RollbackSpec } from "./manifest.js";

export interface Compensation {
  action: string;
  input: Record<string, unknown>;
}

type Choice = Extract<RollbackSpec, unknown[]>[number];

const asList = (spec: Exclude<RollbackSpec, "irreversible">): Choice[] => (Array.isArray(spec) ? spec : [spec]);

/** Compared as text, as failWhen compares: XML answers carry every value as text. */
function holds(when: NonNullable<Choice["when"]>, output: unknown): boolean {
  const value = lookup({ output }, when.path);
  return (typeof value === "string" || typeof value === "number" || typeof value === "boolean") && String(value) === String(when.equals);
}

/** The compensation for an execution with this output: the first whose `when` holds, else the one without `when`. */
export function chooseCompensation(spec: Exclude<RollbackSpec, "irreversible">, output: unknown): Compensation | undefined {
  const chosen = asList(spec).find((choice) => choice.when === undefined || holds(choice.when, output));
  return chosen && { action: chosen.action, input: chosen.input };
}

/** `refund`, or `refund when output.status is succeeded, else cancel_payment`. */
export function describeRollback(spec: Exclude<RollbackSpec, "irreversible">): string {
  return asList(spec)
    .map((choice, index) =>
      choice.when ? `${choice.action} when ${choice.when.path} is ${String(choice.when.equals)}` : index === 0 ? choice.action : `else ${choice.action}`,
    )
    .join(", ");
}
