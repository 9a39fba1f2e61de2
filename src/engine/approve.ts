/**
 * Getting a human's yes for one exact execution: a request decided from another terminal when `--wait` is
 * given, else `--yes` (and `--otp` when CRITICAL), else a terminal prompt when someone can answer, else a
 * refusal naming the flags. Every path ends in a value, and every decision is audited with who decided and how.
 */
import type { Actor } from "../config/home.js";
import type { ExecutionOrigin } from "../domain/records.js";
import { ExitCode, NeedsHumanError, PolicyError, ToolctlError, UsageError } from "../errors.js";
import type { Store } from "../store/port.js";
import { approvedTooLongAgo, type ApprovalRequest } from "../policy/approval.js";
import { describeCodeRefusal } from "../policy/otp-code.js";

export type { ApprovalRequest };

export interface TwoFactor {
  isEnrolled(): Promise<boolean>;
  verify(
    code: string,
    context: { tool: string; action: string; executionId: string },
  ): Promise<{ ok: true } | { ok: false; reason: string; retryAfterSeconds?: number }>;
}

export interface Human {
  canPrompt: boolean;
  /**
   * `unanswered`: nobody can be asked from here after all (a program's channel said so); the run ends as without one.
   * A UsageError thrown here (a program's channel answered none of its forms) ends the attempt declined with it.
   */
  confirm(request: ApprovalRequest, timeoutMs: number, signal?: AbortSignal): Promise<"yes" | "no" | "timeout" | "eof" | "interrupted" | "unanswered">;
  code(timeoutMs: number, signal?: AbortSignal): Promise<{ code: string } | { answer: string }>;
  /** Tells the person running `--wait` which command decides the request. */
  waiting(approvalId: string, expiresAt: string): void;
}

export interface ApprovalOptions {
  yes: boolean;
  otp?: string;
  wait: boolean;
  /** With `wait`: how long to wait before leaving the request pending (default: until it expires). */
  waitSeconds?: number;
  /** A request filed earlier (by a wait that ended undecided): used when approved for exactly this call. */
  approvalId?: string;
  /** The front door the run came through, added to the approval's audit events. */
  origin?: ExecutionOrigin;
  /**
   * With `wait`: ask the human channel first, and file a request only when it cannot answer (`eof`). `via` names
   * that channel in the audit log. Never for a request that needs a TOTP code, which only a terminal takes.
   */
  askFirst?: { via: string };
  timeoutSeconds: number;
  actor: Actor;
  signal?: AbortSignal;
  /** The execution being approved: every approval event names it. */
  executionId: string;
  /**
   * What is approved, in messages (default `tool.action`), and whether the command can `--wait` at all (`apply`
   * cannot): a hint never names a flag the command refuses.
   */
  subject?: string;
  canWait?: boolean;
}

/**
 * Not approved always ends the attempt `declined`, whatever the reason: a no, a wrong code, Ctrl-C (exit 130),
 * or nobody here to ask (exit 4). The error says which, and what would let it proceed.
 */
export type ApprovalResult =
  { approved: true; via: string; approvalId?: string } | { approved: false; status: "declined"; error: ToolctlError; approvalId?: string };

const POLL_MS = 200;

export async function obtainApproval(
  store: Store,
  request: ApprovalRequest,
  digest: string,
  options: ApprovalOptions,
  human: Human,
  twoFactor: TwoFactor,
): Promise<ApprovalResult> {
  const name = options.subject ?? `${request.tool}.${request.action}`;
  const canWait = options.canWait !== false;
  const declined = (message: string): ApprovalResult => ({ approved: false, status: "declined", error: new PolicyError("policy_refused", message) });
  const needsHuman = (message: string): ApprovalResult => ({ approved: false, status: "declined", error: new NeedsHumanError(message) });
  // Ctrl-C at a prompt stops the run like Ctrl-C anywhere else before it acts: exit 130, not a refusal.
  const interrupted = (what: string): ApprovalResult => ({
    approved: false,
    status: "declined",
    error: new ToolctlError("interrupted", ExitCode.interrupted, `${name}: interrupted at ${what}; nothing ran`),
  });
  const decided = (via: string, result: "approved" | "declined", extra: Record<string, unknown> = {}) =>
    store.audit.append({
      type: `approval.${result}`,
      actor: options.actor,
      tool: request.tool,
      action: request.action,
      executionId: options.executionId,
      status: result,
      data: { via, ...extra, ...(options.origin ? { origin: options.origin } : {}) },
    });
  // An answer that is no answer (a UsageError from the human's channel) is audited as declined and refused with it.
  let invalidAnswer: UsageError | undefined;
  const confirm = async (timeoutMs: number): Promise<Awaited<ReturnType<Human["confirm"]>> | "invalid"> => {
    try {
      return await human.confirm(request, timeoutMs, options.signal);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      invalidAnswer = error;
      return "invalid";
    }
  };
  const refusedAnswer = async (via: string): Promise<ApprovalResult> => {
    await decided(via, "declined", { answer: "invalid" });
    return { approved: false, status: "declined", error: invalidAnswer! };
  };
  const checkCode = async (code: string, via: string): Promise<ApprovalResult> => {
    const verdict = await twoFactor.verify(code, { tool: request.tool, action: request.action, executionId: options.executionId });
    if (verdict.ok) {
      await decided(via, "approved");
      return { approved: true, via };
    }
    await decided(via, "declined", { reason: verdict.reason });
    return declined(`${name} was not approved: ${describeCodeRefusal(verdict.reason, verdict.retryAfterSeconds)}`);
  };

  // Why a code is asked: CRITICAL risk, or (for HIGH and below) approvals.twoFactorAboveUsd or the caller's requireCode.
  const estimated = `estimated $${request.cost.usd.toFixed(2)}`;
  const needsCode =
    request.risk === "CRITICAL"
      ? { short: "is CRITICAL", long: `is CRITICAL (${estimated}) and needs a TOTP code` }
      : { short: "needs a TOTP code", long: `needs a TOTP code (risk ${request.risk}, ${estimated})` };
  if (request.needsOtp && !(await twoFactor.isEnrolled())) {
    return declined(`${name} ${needsCode.long}, but 2FA is not set up: run toolctl 2fa enroll first`);
  }

  if (options.approvalId) return filedEarlier(store, request, digest, options.approvalId);

  // --yes approves what it can approve, even with --wait: nobody needs to be waited for then. A request that needs
  // a TOTP code and has none waits (with --wait) for the approver, who gives it.
  if (options.yes) {
    if (!request.needsOtp) {
      await decided("--yes", "approved");
      return { approved: true, via: "--yes" };
    }
    if (options.otp) return checkCode(options.otp, "--yes with TOTP");
    if (!human.canPrompt && !options.wait) {
      return needsHuman(
        `${name} ${needsCode.short}: --yes is not enough, add --otp CODE from your authenticator${canWait ? " (or run it with --wait and approve it with toolctl approve ID --otp CODE)" : ""}`,
      );
    }
  }

  if (options.wait && options.askFirst && human.canPrompt && !request.needsOtp) {
    const via = options.askFirst.via;
    const answer = await confirm(options.timeoutSeconds * 1000);
    if (answer === "invalid") return refusedAnswer(via);
    if (answer === "yes") {
      await decided(via, "approved");
      return { approved: true, via };
    }
    if (answer === "no") {
      await decided(via, "declined", { answer });
      return declined(`${name} was not approved (answered no through ${via})`);
    }
    if (answer === "interrupted") return interrupted(via);
    // Nobody could answer there (or not in time): a request is filed for a terminal, as without the channel.
  }

  if (options.wait) {
    const filed = await store.approvals.file({ request, digest, requestedBy: options.actor, timeoutSeconds: options.timeoutSeconds });
    human.waiting(filed.id, filed.expiresAt);
    const giveUpAt = options.waitSeconds === undefined ? Infinity : Date.now() + options.waitSeconds * 1000;
    for (;;) {
      if (options.signal?.aborted) {
        // Withdrawn, so that nobody can approve (or spend a TOTP code on) a request whose run is gone.
        await store.approvals.decide(filed.id, "denied", options.actor, "withdrawn: the waiting run was interrupted");
        return {
          approved: false,
          status: "declined",
          error: new ToolctlError(
            "interrupted",
            ExitCode.interrupted,
            `${name}: interrupted while waiting for approval ${filed.id}; the request was withdrawn`,
          ),
        };
      }
      const current = (await store.approvals.get(filed.id))!;
      if (current.status === "approved") return { approved: true, via: current.decidedVia ?? "another terminal", approvalId: filed.id };
      if (current.status === "denied") return declined(`${name} was denied from another terminal (approval ${filed.id})`);
      // Approved and used, between two looks, by another run under this request (an agent's resume): that run is
      // the call, so this one runs nothing, and says where it ran.
      if (current.status === "used")
        return declined(
          `${name}: approval ${filed.id} was used by another run under it (execution ${current.executionId ?? "unknown"}), which ran the call; this one runs nothing`,
        );
      if (current.status === "expired") return declined(`${name}: no decision on approval ${filed.id} within ${options.timeoutSeconds} s, which counts as no`);
      if (Date.now() >= giveUpAt) return pending(name, filed.id, filed.expiresAt, request.needsOtp);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  const how = request.needsOtp ? "--yes --otp CODE" : "--yes";
  const nobody = () =>
    needsHuman(
      `${name} needs approval (risk ${request.risk}, ${estimated}) and nobody can answer a prompt here: re-run with ${how}${canWait ? `, or with --wait and decide it with toolctl approve ID${request.needsOtp ? " --otp CODE" : ""} from another terminal` : ""}`,
    );

  if (human.canPrompt) {
    const timeoutMs = options.timeoutSeconds * 1000;
    if (!options.yes) {
      const answer = await confirm(timeoutMs);
      if (answer === "unanswered") return nobody();
      if (answer === "invalid") return refusedAnswer("prompt");
      if (answer !== "yes") {
        await decided("prompt", "declined", { answer });
        if (answer === "interrupted") return interrupted("the approval prompt");
        return declined(
          `${name} was not approved (${answer === "no" ? "answered no" : answer === "timeout" ? `no answer within ${options.timeoutSeconds} s` : answer === "eof" ? "input ended" : "interrupted"})`,
        );
      }
      if (!request.needsOtp) {
        await decided("prompt", "approved");
        return { approved: true, via: "prompt" };
      }
    }
    const entered = options.otp ? { code: options.otp } : await human.code(timeoutMs, options.signal);
    if ("answer" in entered) {
      await decided("prompt", "declined", { answer: entered.answer });
      if (entered.answer === "interrupted") return interrupted("the TOTP code prompt");
      return declined(`${name} was not approved: no TOTP code given (${entered.answer})`);
    }
    return checkCode(entered.code, options.yes ? "--yes with TOTP" : "prompt with TOTP");
  }

  return nobody();
}

/** A wait that ended undecided: the request stays open, and a later run with its id uses it once approved. */
function pending(name: string, id: string, expiresAt: string, needsOtp: boolean): ApprovalResult {
  return {
    approved: false,
    status: "declined",
    approvalId: id,
    error: new ToolctlError(
      "approval_pending",
      ExitCode.needsHuman,
      `${name} is waiting for approval ${id} (until ${expiresAt}): a human decides it with toolctl approve ${id}${needsOtp ? " --otp CODE" : ""} (or toolctl deny ${id})`,
      { approvalId: id, expiresAt },
    ),
  };
}

/**
 * Runs under a request filed by an earlier wait: only when it was approved for exactly this call. The start of
 * the run uses it up in the same transaction as the intent, so a second run under the same id is refused there.
 */
async function filedEarlier(store: Store, request: ApprovalRequest, digest: string, id: string): Promise<ApprovalResult> {
  const name = `${request.tool}.${request.action}`;
  const refused = (message: string): ApprovalResult => ({
    approved: false,
    status: "declined",
    approvalId: id,
    error: new PolicyError("policy_refused", message),
  });
  const filed = await store.approvals.get(id);
  if (!filed) return refused(`approval request ${id} does not exist`);
  if (filed.tool !== request.tool || filed.action !== request.action || filed.digest !== digest) {
    return refused(`approval request ${id} was for a different call than ${name} with this input: a new approval is needed`);
  }
  if (filed.status === "pending") return pending(name, id, filed.expiresAt, request.needsOtp);
  if (filed.status === "approved") return { approved: true, via: `approval ${id} (${filed.decidedVia ?? "another terminal"})`, approvalId: id };
  if (filed.status === "used") return refused(`approval request ${id} was already used: it runs its call once`);
  if (filed.status === "expired" && filed.decidedAt !== null)
    return refused(`${approvedTooLongAgo(filed)}: ${name} does not run; run it again to file a new request`);
  return refused(`approval request ${id} is ${filed.status}: ${name} does not run`);
}
