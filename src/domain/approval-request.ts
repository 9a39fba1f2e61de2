/**
 * What a human is shown before saying yes, and the cost estimate it carries. Plain types (no zod): the store
 * keeps approval requests with their records, and policy/ computes them, so they live below both.
 */
import type { RiskLevel } from "./manifest.js";

export interface CostEstimate {
  usd: number;
  /** How the amount was found, for people: "fixed $2", "input.amount × 0.01", "3 SMS segments (GSM-7) × $0.0079". */
  basis: string;
  /** The units counted for a per-unit cost. */
  units?: number;
}

/**
 * What a human is shown before saying yes (the seeds' "Action Approval Required" block), in the terminal
 * prompt and from another terminal alike. An approval is bound to the digest of exactly this: whatever is
 * shown is covered, so nothing shown can differ from what runs.
 */
export interface ApprovalRequest {
  tool: string;
  action: string;
  description: string;
  /** The input, redacted (for a plan: its steps). */
  details: unknown;
  /** Where it goes: the method and URL, the image and command, the program, or what a built-in does. */
  target: string;
  cost: CostEstimate;
  risk: RiskLevel;
  /** How it is undone: the compensating action, "irreversible: ...", or "none declared". */
  undo: string;
  needsOtp: boolean;
}
