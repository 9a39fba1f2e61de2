/**
 * Human views of a plan, of an apply's progress and outcome, and of a plan run. The JSON views are the same
 * data (PlanPreview, ApplyResult, PlanRun) printed as they are.
 */
import type { ApplyResult, StepOutcome, StepReporter } from "../plan/apply.js";
import type { PlanPreview, StepPreview } from "../plan/preview.js";
import type { PlanRun } from "../domain/records.js";
import { displayWidth, padEnd, type Colors } from "./output.js";

const usd = (value: number) => `$${value.toFixed(2)}`;

function costText(step: StepPreview): string {
  if (step.cost.usd === null) return "known after apply";
  return `${usd(step.cost.usd)}${step.cost.estimated ? " (estimate)" : ""}`;
}

/** The request in one or a few lines: an HTTP call, a command, a container, or a built-in's summary. */
function requestLines(request: unknown): string[] {
  if (request === undefined || request === null || typeof request !== "object") return ["request: known after apply (its input waits on earlier steps)"];
  const shown = request as Record<string, unknown>;
  if (shown.runtime === "http") {
    const body = shown.body === undefined ? [] : [`body: ${typeof shown.body === "string" ? shown.body : JSON.stringify(shown.body)}`];
    return [`${shown.method} ${shown.url}`, ...body];
  }
  if (shown.runtime === "process") return [`argv: ${JSON.stringify(shown.argv)}`];
  if (shown.runtime === "docker") return [`container: ${shown.image} ${JSON.stringify(shown.command)} (network ${shown.network})`];
  return [`${shown.runtime}: ${String(shown.summary ?? shown.returns ?? "")}`];
}

function flags(step: StepPreview): string {
  if (step.runs === false) return "skipped (condition false)";
  const parts = [step.kind === "read" ? "read only" : step.approval.twoFactor ? "approval + TOTP" : step.approval.required ? "approval" : "no approval"];
  if (step.kind !== "read")
    parts.push(step.reversible ? `undo: ${step.undo.replace(/ \(automatic.*\)$/, "")}` : step.undo.startsWith("irreversible") ? "irreversible" : "no rollback");
  if (step.cost.quoted) parts.push("price quoted (a read ran)");
  if (step.runs === "after apply") parts.push("runs if its condition holds");
  return parts.join(", ");
}

export function renderPlan(preview: PlanPreview, c: Colors): string {
  const lines = [c.bold(`Plan ${preview.name}`) + c.dim(`  ${preview.file}  (${preview.id}; nothing was executed)`), ""];
  const width = Math.max(...preview.steps.map((s) => s.id.length), 4);
  const actionWidth = Math.max(...preview.steps.map((s) => s.action.length), 6);
  lines.push(c.dim(`  ${"step".padEnd(width)}  ${"action".padEnd(actionWidth)}  ${"cost".padEnd(18)}  ${"risk".padEnd(8)}  notes`));
  for (const step of preview.steps) {
    const mark = step.runs === false ? c.dim("-") : step.acts ? c.yellow("+") : c.dim("=");
    lines.push(`${mark} ${step.id.padEnd(width)}  ${step.action.padEnd(actionWidth)}  ${costText(step).padEnd(18)}  ${step.risk.padEnd(8)}  ${flags(step)}`);
  }
  lines.push("");
  for (const step of preview.steps.filter((s) => s.runs !== false)) {
    lines.push(c.bold(`${step.id}`) + c.dim(` ${step.action}${step.needs.length ? ` (after ${step.needs.join(", ")})` : ""}`));
    for (const line of requestLines(step.request)) lines.push(`    ${line}`);
    lines.push(`    input: ${JSON.stringify(step.shownInput)}`, `    cost: ${costText(step)} (${step.cost.basis})`);
    for (const warning of step.warnings) lines.push(c.yellow(`    warning: ${warning}`));
  }
  const t = preview.total;
  const b = preview.budget;
  lines.push(
    "",
    `Total: ${usd(t.usd)}${t.stepsWithUnknownCost ? ` + ${t.stepsWithUnknownCost} step${t.stepsWithUnknownCost === 1 ? "" : "s"} known after apply` : ""}` +
      `; today ${b.day}: ${usd(b.committedUsd)} spent + ${usd(b.reservedUsd)} reserved, ${usd(b.afterUsd)} after this plan, of ${usd(b.dailyLimitUsd)} (at most ${usd(b.perActionLimitUsd)} per action)`,
    preview.willAct
      ? `Plan: ${t.acting} step${t.acting === 1 ? "" : "s"} will act; ${t.needApproval} need${t.needApproval === 1 ? "s" : ""} approval (one approval covers the plan), ${t.needTwoFactor} a TOTP code; ${t.irreversible} cannot be rolled back.`
      : "Plan: no changes. Nothing would act.",
  );
  if (preview.overBudget) lines.push(c.red(`Over budget: ${preview.overBudget}`));
  return lines.join("\n");
}

function outcomeText(outcome: StepOutcome, c: Colors): string {
  const colour =
    outcome.status === "succeeded" || outcome.status === "rolled_back"
      ? c.green
      : outcome.status === "failed" || outcome.status === "rollback_failed"
        ? c.red
        : outcome.status === "unknown" || outcome.status === "left_in_place"
          ? c.yellow
          : c.dim;
  return `${colour(outcome.status.replace(/_/g, " "))}${outcome.executionId ? c.dim(` ${outcome.executionId}`) : ""}${outcome.note ? ` ${c.dim("·")} ${outcome.note}` : ""}`;
}

export function renderApply(result: ApplyResult, c: Colors): string {
  const width = Math.max(...result.steps.map((s) => displayWidth(s.id)));
  const actionWidth = Math.max(...result.steps.map((s) => displayWidth(s.action)));
  const head =
    result.status === "succeeded"
      ? c.green(`✓ plan ${result.name} applied`)
      : result.status === "rolled_back"
        ? c.yellow(`plan ${result.name} failed and was rolled back`)
        : c.red(`plan ${result.name} ${result.status}`);
  return [
    `${head}${c.dim(` (plan run ${result.id})`)}`,
    ...result.steps.map((s) => `  ${padEnd(s.id, width)}  ${padEnd(s.action, actionWidth)}  ${outcomeText(s, c)}`),
    ...(result.error ? [c.red(`error: ${result.error.message}`)] : []),
  ].join("\n");
}

export function renderPlanRun(run: PlanRun, interrupted: boolean, c: Colors): string {
  const width = Math.max(...run.steps.map((s) => displayWidth(s.id)));
  const actionWidth = Math.max(...run.steps.map((s) => displayWidth(s.action)));
  const status = interrupted ? `interrupted (process ${run.pid} is gone)` : run.status;
  const lines = [
    `plan run ${run.id}: ${run.name}, ${status}`,
    c.dim(`  plan ${run.planId}, started ${run.createdAt} by ${run.actor}, updated ${run.updatedAt}`),
  ];
  for (const step of run.steps) lines.push(`  ${padEnd(step.id, width)}  ${padEnd(step.action, actionWidth)}  ${outcomeText(step, c)}`);
  if (run.error) lines.push(c.dim(`  ${run.error.message}`));
  if (interrupted || run.status === "failed" || run.status === "interrupted")
    lines.push(`next: toolctl plan-runs resume ${run.id}   or   toolctl plan-runs rollback ${run.id}`);
  return lines.join("\n");
}

/** One line per step as it starts and ends, on stderr. */
export function createStepReporter(c: Colors, write: (line: string) => void): StepReporter {
  return {
    started: (step) => write(c.dim(`… ${step.id}: ${step.action} started`)),
    finished: (step, outcome) =>
      write(
        `${outcome.status === "succeeded" || outcome.status === "rolled_back" ? c.green("✓") : outcome.status === "skipped" ? c.dim("-") : c.red("✗")} ${step.id}: ${outcomeText(outcome, c)}`,
      ),
  };
}
