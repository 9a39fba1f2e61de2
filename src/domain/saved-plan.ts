/**
 * The shape of a saved plan (`toolctl plan FILE --out plan.json`) as `apply` reads it back. Its digest tells an
 * edited file, not a forged one: a file rewritten with a matching digest is still checked here, field by field, so
 * that a malformed one is refused with the field named instead of failing half-way through the apply.
 */
import { z } from "zod";
import { riskSchema } from "./action.js";

const text = z.string();
const stepSchema = z.object({
  id: text,
  action: z.string().regex(/^[^.\s]+\.[^.\s]+$/, "TOOL.ACTION"),
  needs: z.array(text),
  input: z.record(z.string(), z.unknown()),
  condition: text.optional(),
  runs: z.union([z.boolean(), z.literal("after apply")]),
  kind: z.enum(["read", "create", "update", "delete"]),
  acts: z.boolean(),
  toolDigest: text,
  knownAfterApply: z.array(text),
  cost: z.object({ usd: z.number().nonnegative().nullable(), basis: text, estimated: z.boolean(), quoted: z.boolean() }),
  risk: riskSchema,
  approval: z.object({ required: z.boolean(), twoFactor: z.boolean() }),
  undo: text,
  reversible: z.boolean(),
  warnings: z.array(text),
});

const savedPlanSchema = z.object({
  format: z.literal("toolctl-plan/1"),
  id: text,
  name: text,
  file: text,
  fileDigest: text,
  createdAt: text,
  env: z.record(z.string(), text.nullable()),
  order: z.array(text),
  steps: z.array(stepSchema),
  total: z.object({ usd: z.number().nonnegative() }).loose(),
  willAct: z.boolean(),
  // Without one, the plan is stale (an earlier toolctl saved it): said by the staleness check, exit 3.
  digest: text.optional(),
});

/** What is wrong with a saved plan, each as `field: problem`; empty when it can be applied as read. */
export function savedPlanProblems(value: unknown): string[] {
  const parsed = savedPlanSchema.safeParse(value);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(the file)"}: ${issue.message}`);
  }
  const { steps, order } = parsed.data;
  const ids = steps.map((step) => step.id);
  const problems: string[] = [];
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i) problems.push(`steps.${i}.id: step ${JSON.stringify(id)} is there twice`);
  });
  steps.forEach((step, i) =>
    step.needs.forEach((need, k) => {
      if (!ids.includes(need)) problems.push(`steps.${i}.needs.${k}: no step ${JSON.stringify(need)}`);
    }),
  );
  // The order runs every step once, each after what it needs.
  const seen = new Set<string>();
  order.forEach((id, i) => {
    const step = steps.find((s) => s.id === id);
    if (!step) problems.push(`order.${i}: no step ${JSON.stringify(id)}`);
    else if (seen.has(id)) problems.push(`order.${i}: step ${JSON.stringify(id)} is there twice`);
    else if (step.needs.some((need) => !seen.has(need))) problems.push(`order.${i}: step ${JSON.stringify(id)} comes before a step it needs`);
    seen.add(id);
  });
  for (const id of ids) if (!seen.has(id)) problems.push(`order: step ${JSON.stringify(id)} is missing`);
  return problems;
}
