import type { Command } from "commander";
import type { CommandContext } from "../program.js";

export type Handler = (context: CommandContext, ...args: any[]) => Promise<number | void>;

/** program.ts's wrapper around a lazily imported handler: it builds the context and turns the result into an exit code. */
export type Action = (load: () => Promise<Handler>) => (...args: unknown[]) => Promise<void>;

/**
 * One top-level command: its name, and a function that adds its commander definition (flags, help text and the
 * lazy import of its handler, wrapped by `action`) to the program.
 */
export interface CommandDefinition {
  name: string;
  register(program: Command, action: Action): void;
}
