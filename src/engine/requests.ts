/**
 * Deciding a filed approval request (`run --wait` files one; `toolctl approve ID` or `deny ID` decides it from
 * another terminal, or the approval page). The request is checked against its digest before anyone sees it, the
 * approval names the digest that was shown, and a CRITICAL request needs a second factor: a TOTP code, checked and
 * throttled like any other, or a passkey assertion made for this request's challenge (engine/passkeys.ts).
 */
import type { Actor } from "../config/home.js";
import type { Approval, VerifyContext } from "../domain/records.js";
import { NeedsHumanError, NotFoundError, PolicyError } from "../errors.js";
import type { ApprovalRequest } from "../policy/approval.js";
import { describeCodeRefusal } from "../policy/otp-code.js";
import type { CodeVerdict, Store } from "../store/port.js";
import type { PasskeyAssertion, PasskeyCeremonies } from "./passkeys.js";

export interface RequestDeps {
  store: Store;
  actor: Actor;
  /** Checks a TOTP code (and counts a wrong one against the throttle). */
  verifyCode(code: string, context: VerifyContext): Promise<CodeVerdict>;
  /** The passkey ceremonies of this process: a passkey assertion is checked against a challenge they gave out. */
  passkeys(): Promise<PasskeyCeremonies>;
}

export type PendingRequest = Approval & { request: ApprovalRequest };

export interface DecideOptions {
  /** The request's digest as it was shown to the person deciding: a request changed since is refused. */
  digest?: string;
  /** The TOTP code, for a CRITICAL request (or any request, with `requireCode`). */
  otp?: string;
  /**
   * A code is needed whatever the request's risk: for a front door that always asks for a second factor (the
   * approval page), so that a session alone never approves anything.
   */
  requireCode?: boolean;
  /**
   * A passkey assertion instead of a TOTP code: made on the page at `origin` for the challenge `passkeyChallenge`
   * gave out for this request and its digest, in this process. It stands for the code wherever one is needed.
   */
  passkey?: PasskeyAssertion;
  /** How the decision was made, for the audit log. Default: "another terminal". */
  via?: string;
}

async function found(store: Store, id: string): Promise<Approval> {
  const approval = await store.approvals.get(id);
  if (!approval) throw new NotFoundError(`no approval request '${id}'; see: toolctl approvals`);
  return approval;
}

/** A request that can still be approved, as it was filed: not decided, not expired, matching its digest. */
export async function pendingRequest(store: Store, id: string): Promise<PendingRequest> {
  const approval = await found(store, id);
  if (approval.status !== "pending") throw new PolicyError("policy_refused", `approval request ${id} is already ${approval.status}`);
  if (!approval.request) throw new PolicyError("policy_refused", `${approval.problem}; nothing was approved (toolctl deny ${id} stops the waiting run)`);
  return approval as PendingRequest;
}

export async function approveRequest(deps: RequestDeps, id: string, options: DecideOptions = {}): Promise<Approval> {
  // A person approves, never the agent that the approval guards against (it may withdraw its own request: deny).
  if (deps.actor === "agent") {
    throw new NeedsHumanError(
      `approval request ${id} is decided by a person, not an agent (TOOLCTL_ACTOR=agent): toolctl approve ${id} in a person's terminal, or the approval page`,
    );
  }
  const approval = await pendingRequest(deps.store, id);
  // Shown another request than the one pending: refused before a code or a passkey is spent on it (the store
  // checks again when it decides, against a change meanwhile).
  if (options.digest !== undefined && options.digest !== approval.digest)
    throw new PolicyError("policy_refused", `approval request ${id} changed while it was being decided: look at it again (toolctl approve ${id})`);
  let via = options.via ?? "another terminal";
  if (options.passkey !== undefined) {
    const ceremonies = await deps.passkeys();
    const digest = options.digest ?? approval.digest;
    const used = await ceremonies.verify({ kind: "approve", approvalId: id, digest }, options.passkey, { tool: approval.tool, action: approval.action });
    via = `${via} with passkey ${used.name}`;
  } else if (approval.request.needsOtp || options.requireCode) {
    if (options.otp === undefined) {
      throw new NeedsHumanError(
        approval.request.needsOtp ? `${id} is CRITICAL: add --otp CODE from your authenticator` : `${id}: approving through ${via} needs a TOTP code`,
      );
    }
    const verdict = await deps.verifyCode(options.otp, { actor: deps.actor, purpose: "approve", approvalId: id, tool: approval.tool, action: approval.action });
    if (!verdict.ok) throw new PolicyError("policy_refused", `${id} was not approved: ${describeCodeRefusal(verdict.reason, verdict.retryAfterSeconds)}`);
    via = `${via} with TOTP`;
  }
  const decided = await deps.store.approvals.decide(id, "approved", deps.actor, via, options.digest ?? approval.digest);
  if (!decided.ok) throw new PolicyError("policy_refused", decided.reason);
  return decided.approval;
}

export async function denyRequest(deps: Pick<RequestDeps, "store" | "actor">, id: string, options: Pick<DecideOptions, "via"> = {}): Promise<Approval> {
  await found(deps.store, id);
  const decided = await deps.store.approvals.decide(id, "denied", deps.actor, options.via ?? "another terminal");
  if (!decided.ok) throw new PolicyError("policy_refused", decided.reason);
  return decided.approval;
}
