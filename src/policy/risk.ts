/**
 * Cost and risk: pure functions of the action and its input. Risk comes from the estimated cost in USD
 * (PRODUCT.md's table); a manifest may raise it but never lower it, and a delete is at least MEDIUM.
 */
import type { ActionSpec, RiskLevel } from "../domain/manifest.js";
import { lookup } from "../template/render.js";

export const RISK_ORDER: readonly RiskLevel[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

export interface CostEstimate {
  usd: number;
  basis: string;
}

export function estimateCost(action: Pick<ActionSpec, "cost">, input: Record<string, unknown>): CostEstimate {
  const cost = action.cost;
  if (!cost) return { usd: 0, basis: "no cost declared" };
  if ("fixed" in cost) return { usd: cost.fixed, basis: `fixed $${cost.fixed}` };
  const raw = lookup(input, cost.fromInput);
  const value = typeof raw === "string" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value)) return { usd: 0, basis: `input.${cost.fromInput} is not a number` };
  const usd = Math.round(value * cost.scale * 1e6) / 1e6;
  return { usd, basis: cost.scale === 1 ? `input.${cost.fromInput}` : `input.${cost.fromInput} × ${cost.scale}` };
}

export function riskFromCost(usd: number): RiskLevel {
  if (usd > 100) return "CRITICAL";
  if (usd >= 10) return "HIGH";
  if (usd >= 1) return "MEDIUM";
  return "LOW";
}

export function maxRisk(...levels: Array<RiskLevel | undefined>): RiskLevel {
  let index = 0;
  for (const level of levels) if (level) index = Math.max(index, RISK_ORDER.indexOf(level));
  return RISK_ORDER[index]!;
}

export function assessRisk(action: Pick<ActionSpec, "kind" | "risk">, cost: CostEstimate): RiskLevel {
  return maxRisk(riskFromCost(cost.usd), action.risk, action.kind === "delete" ? "MEDIUM" : undefined);
}

export interface ApprovalNeed {
  /** A human must say yes: MEDIUM and above, or `approval: always`. */
  required: boolean;
  /** CRITICAL also needs a TOTP code. */
  twoFactor: boolean;
}

export function approvalNeeded(action: Pick<ActionSpec, "approval">, risk: RiskLevel): ApprovalNeed {
  return { required: risk !== "LOW" || action.approval === "always", twoFactor: risk === "CRITICAL" };
}
