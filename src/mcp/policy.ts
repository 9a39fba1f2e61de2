/**
 * What the server offers and how its calls wait, as config.yaml says now, with what the command line added:
 * `mcp.allow` together with `--allow`, `--approval-wait` else `mcp.approvalWaitSeconds`, `--elicit` or
 * `mcp.elicit`. The settings are read again on every call and every poll of the tool list (one stat while
 * config.yaml is unchanged: see `Toolctl.settings`), so `toolctl config set` takes effect without a restart; what
 * the command line gave stays as given.
 *
 * A config.yaml (or toolctl.yaml) that no longer loads fails the call with the error a new process would get.
 */
import type { Config, Toolctl } from "../api/index.js";
import { ToolctlError } from "../api/index.js";
import { errorResult } from "./results.js";

export interface McpPolicy {
  /** TOOL or TOOL.ACTION: the create, update and delete actions agents may call now. */
  allow: string[];
  approvalWaitSeconds: number;
  elicit: boolean;
}

/** What the command line (or a program starting the server) gave; config.yaml gives the rest. */
export interface StartedWith {
  /** Always allowed, besides `mcp.allow` (`--allow`). */
  allow: readonly string[];
  /** Fixed when given (`--approval-wait`); else `mcp.approvalWaitSeconds`. */
  approvalWaitSeconds?: number;
  /** On when true (`--elicit`); else `mcp.elicit`. */
  elicit?: boolean;
}

/** The settings could not be read (a config.yaml or toolctl.yaml that does not load): the call fails with this. */
export class SettingsUnavailable extends Error {
  constructor(readonly error: ToolctlError) {
    super(error.message);
  }

  /** The call's error, worded as a run's configuration error is. */
  result(name: string) {
    const problems = this.error.details.problems;
    return errorResult(`${name}: ${this.message}${problems ? `\n${problems.map((p) => `- ${p}`).join("\n")}` : ""}`);
  }
}

export class McpSettings {
  constructor(
    private readonly toolctl: Pick<Toolctl, "settings">,
    private readonly options: StartedWith,
  ) {}

  /** The policy in effect now; rejects with `SettingsUnavailable` when the settings do not load. */
  async now(): Promise<McpPolicy> {
    let settings: Config;
    try {
      settings = await this.toolctl.settings();
    } catch (error) {
      if (error instanceof ToolctlError) throw new SettingsUnavailable(error);
      throw error;
    }
    return {
      allow: [...new Set([...this.options.allow, ...settings.mcp.allow])],
      approvalWaitSeconds: this.options.approvalWaitSeconds ?? settings.mcp.approvalWaitSeconds,
      elicit: this.options.elicit === true || settings.mcp.elicit,
    };
  }
}
