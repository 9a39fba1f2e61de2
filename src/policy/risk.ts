/**
 * Cost and risk: pure functions of the action and its input. Risk comes from the estimated cost in USD
 * (PRODUCT.md's table); a manifest may raise it but never lower it, and a delete is at least MEDIUM.
 */
import type { ActionSpec, RiskLevel } from "../domain/manifest.js";
import type { CostEstimate } from "./cost.js";

export { estimateCost, type CostEstimate } from "./cost.js";

export const RISK_ORDER: readonly RiskLevel[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

export function riskFromCost(usd: number): RiskLevel {
  // An unknown price (a quote not yet taken) is treated as the worst case, never as free.
  if (Number.isNaN(usd)) return "CRITICAL";
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
