/**
 * Running the prepared call and recording its outcome, after the intent is on record. Whatever goes wrong from
 * here on, an outcome is written: the action may have happened, so it is never silently lost.
 */
import type { ExecuteOptions, ExecuteResult } from "./execute.js";
import { executionError, ExitCode, PolicyError, type ExitCodeValue } from "../errors.js";
import type { ActionRecord, ExecutionStatus } from "../domain/records.js";
import type { Prepared, RunResult } from "../runners/types.js";
import { formatIssue, loadValidator } from "../schema/validator.js";
import type { Redactor } from "../secrets/redact.js";
import type { Recorder } from "./record.js";

const EXIT_FOR_STATUS: Partial<Record<ExecutionStatus, ExitCodeValue>> = {
  succeeded: ExitCode.ok,
  dry_run: ExitCode.ok,
  failed: ExitCode.actionFailed,
  unknown: ExitCode.unknownOutcome,
  declined: ExitCode.policy,
};

export interface RunState {
  options: ExecuteOptions;
  action: ActionRecord;
  record: Recorder;
  redactor: Redactor;
  shown: Omit<ExecuteResult, "status" | "exitCode">;
}

/**
 * Runs a runner's bookkeeping (`RunResult.after`) once the outcome is on record: a failure there is a warning,
 * never a changed outcome.
 */
export async function runAfter(after: (() => Promise<void> | void) | undefined): Promise<string[]> {
  if (!after) return [];
  try {
    await after();
    return [];
  } catch (error) {
    return [`${(error as Error).message} (the outcome is recorded as it was)`];
  }
}

/** Whether the run was stopped by its time limit (`ExecuteOptions.timeLimit`) rather than by Ctrl-C. */
function timedOut(options: ExecuteOptions): boolean {
  // The limit's own timer, and it first: a caller's signal (a Ctrl-C, or its own AbortSignal.timeout) stays theirs.
  const timer = options.timeLimit?.timer;
  return timer !== undefined && timer.aborted && options.signal?.aborted === true && options.signal.reason === timer.reason;
}

/**
 * A run its time limit stopped, said as a timeout: the runner saw an abort, which it reports as an interruption,
 * but nobody pressed Ctrl-C. What the runner made of the outcome (unknown when it may have acted) stands.
 */
function outOfTime(result: RunResult, options: ExecuteOptions, name: string): RunResult {
  if (!timedOut(options) || result.declined || result.nothingRan) return result;
  const { seconds, setting } = options.timeLimit!;
  const maybe = result.outcome === "unknown" ? "; it may have done part of its work: check before retrying" : "";
  return { ...result, errorCategory: "timeout", error: `${name} did not finish within ${setting} (${seconds} s) and was stopped${maybe}` };
}

/** Runs the prepared call and records its outcome. Whatever goes wrong after the intent, an outcome is written. */
export async function runAndRecord(prepared: Prepared, state: RunState): Promise<ExecuteResult> {
  const { options, action, record, redactor, shown } = state;
  const repeatable = action.definition.idempotent ?? action.kind === "read";
  const started = Date.now();
  let written = false;
  const finish = async (ended: RunResult, code: string | undefined, exitCode?: ExitCodeValue): Promise<ExecuteResult> => {
    const durationMs = Date.now() - started;
    const result = ended.outcome === "succeeded" ? ended : outOfTime(ended, options, `${shown.tool}.${shown.action}`);
    const output = redactor.value(result.output ?? null);
    const details = redactor.value(result.details);
    // A NUL byte (from a program's stderr, an answer's body) is written as \0: PostgreSQL text cannot hold it.
    const message = result.error === undefined ? undefined : redactor.text(result.error).replaceAll("\0", "\\0");
    const status: ExecutionStatus = result.declined ? "declined" : result.outcome;
    const interrupted = options.signal?.aborted === true && !timedOut(options);
    const warnings = async (): Promise<string[]> => [
      ...shown.warnings,
      ...[...(result.warnings ?? []), ...(await runAfter(result.after))].map((w) => redactor.text(w)),
    ];
    const exit =
      exitCode ?? (interrupted ? ExitCode.interrupted : result.nothingRan ? ExitCode.environment : (EXIT_FOR_STATUS[status] ?? ExitCode.actionFailed));
    const fallback = result.nothingRan
      ? "environment_unavailable"
      : result.declined
        ? "policy_refused"
        : status === "unknown"
          ? "unknown_outcome"
          : "action_failed";
    // The error as the execution records it and as the result shows it: one object, built once.
    const error =
      message === undefined ? undefined : executionError({ status, message, category: result.errorCategory, code: code ?? fallback, exitCode: exit });
    if (!written) {
      written = true;
      options.progress?.stage?.("run", durationMs, details as Record<string, unknown> | undefined);
      const recording = Date.now();
      try {
        await record.finished(
          status,
          {
            output,
            error: message ?? null,
            errorCategory: result.errorCategory ?? null,
            errorCode: error?.code ?? null,
            errorExitCode: error?.exitCode ?? null,
            durationMs,
            request: { ...shown.request, result: details },
            resources: result.resources,
          },
          { output, error: message, category: result.errorCategory, details, durationMs, resources: result.resources, interrupted: interrupted || undefined },
        );
        options.progress?.stage?.("record outcome", Date.now() - recording);
      } catch (error) {
        // The action ran but its outcome is not on record: never "nothing ran" (exit 6), always unknown.
        const why = `${shown.tool}.${shown.action} ran, but its outcome could not be recorded (${(error as Error).message}); execution ${shown.executionId} stays "running": check before retrying`;
        return {
          ...shown,
          output,
          status: "unknown",
          exitCode: ExitCode.unknownOutcome,
          durationMs,
          warnings: await warnings(),
          error: executionError({ status: "unknown", message: redactor.text(why), category: result.errorCategory, code: "unknown_outcome" }),
        };
      }
    }
    return {
      ...shown,
      output,
      status,
      exitCode: exit,
      durationMs,
      resources: result.resources,
      warnings: await warnings(),
      error,
    };
  };
  // A second Ctrl-C exits at once: the outcome is written as unknown first, synchronously.
  if (options.interrupts) {
    options.interrupts.onForce = async () => {
      await finish(
        {
          outcome: "unknown",
          error: "interrupted twice: toolctl exited while the action was running; check before retrying",
          errorCategory: "other",
          details: {},
        },
        undefined,
      );
    };
  }
  options.progress?.start(`${shown.tool}.${shown.action}`);
  let after: RunResult["after"];
  try {
    let result: RunResult;
    try {
      result = await prepared.run({ signal: options.signal ?? new AbortController().signal });
    } catch (error) {
      // Bookkeeping the runner handed over with its error still follows the outcome.
      after = (error as { after?: RunResult["after"] }).after;
      if (!(error instanceof PolicyError)) throw error;
      // A redirect to a blocked address: that hop was refused, but an earlier one may have acted (a POST answered by 303).
      const outcome = repeatable ? "failed" : "unknown";
      const message = repeatable ? error.message : `${error.message}; the first request may have taken effect: check before retrying`;
      return finish(
        { outcome, error: message, errorCategory: "authorization", details: {}, after },
        repeatable ? "url_blocked" : undefined,
        repeatable ? ExitCode.policy : undefined,
      );
    }
    if (result.outcome === "succeeded" && action.outputValidator) {
      const problems = loadValidator(action.outputValidator)(result.output).map((issue) => formatIssue(issue, "output"));
      if (problems.length > 0) {
        const error = `output does not match the action's outputSchema: ${problems.join("; ")}`;
        // The provider said yes. A read had no side effect: its malformed answer is a failure. Any other action
        // acted, safe to repeat or not, and a malformed answer does not undo that: unknown, its spend kept, and
        // rolled back (automatically with rollback.auto, or by hand) where its tool says how.
        if (action.kind === "read") return finish({ ...result, outcome: "failed", errorCategory: "validation", error }, "output_invalid");
        const ran = repeatable ? "the action itself ran (it is safe to repeat)" : "the action itself ran: check before retrying";
        return finish({ ...result, outcome: "unknown", errorCategory: "validation", error: `${error}; ${ran}` }, "output_invalid");
      }
    }
    return finish(result, undefined);
  } catch (error) {
    // Anything unexpected after the intent: the action may have happened, so it is unknown, never silently lost.
    if (written) throw error;
    return finish(
      { outcome: "unknown", error: `internal error while running: ${(error as Error).message}`, errorCategory: "other", details: {}, after },
      undefined,
    );
  } finally {
    options.progress?.stop();
    if (options.interrupts) options.interrupts.onForce = undefined;
  }
}
