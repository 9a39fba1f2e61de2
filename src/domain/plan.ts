/**
 * A plan file (`kind: Plan`): steps, each one action with its input. Inputs and conditions are templates over
 * `steps.<id>.output` (an earlier step's output), `env` (toolctl's environment) and `secrets` (resolved at
 * run time, never written into a saved plan). Dependencies come from those references and from `dependsOn`.
 */
import { z } from "zod";
import { ACTION_NAME_PATTERN, TOOL_NAME_PATTERN } from "./manifest.js";

export const STEP_ID_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
const stepId = z.string().regex(STEP_ID_PATTERN, "a step id: a lowercase letter, then letters, digits, '_' or '-'");
const target = new RegExp(`^${TOOL_NAME_PATTERN.source.slice(1, -1)}\\.${ACTION_NAME_PATTERN.source.slice(1, -1)}$`);

export const planStepSchema = z.strictObject({
  id: stepId,
  action: z.string().regex(target, "tool.action, such as namecheap.register_domain"),
  description: z.string().min(1).optional(),
  input: z.record(z.string(), z.unknown()).default({}),
  /** A template: the step runs when it renders to something other than "", false, "false", 0, "0", null or nothing. */
  condition: z.string().min(1).optional(),
  /** Steps that must succeed first, besides those the input refers to. */
  dependsOn: z.array(stepId).default([]),
});

export const planFileSchema = z.strictObject({
  apiVersion: z.literal("toolctl/v1"),
  kind: z.literal("Plan"),
  name: z.string().regex(TOOL_NAME_PATTERN, "a lowercase identifier (a-z, 0-9, '_' or '-'), at most 63 characters"),
  description: z.string().min(1).optional(),
  steps: z.array(planStepSchema).min(1, "at least one step is required").max(200),
});

export type PlanStep = z.infer<typeof planStepSchema>;
export type PlanFile = z.infer<typeof planFileSchema>;
