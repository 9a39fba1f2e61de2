/** Parsers for flag values shared by the command definitions. A bad value is a usage error (exit 2). */
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { didYouMean } from "../../util/suggest.js";

/** A repeatable flag: each use adds to the list. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The largest count a flag takes (2^53 - 1): past it a number is no longer exact, and the store would refuse it
 * (as a stack trace) or read it as another number.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** A count written in plain decimal digits: no sign, spaces, exponent or hex, which Number() would take. */
function count(flag: string, value: string, min: 0 | 1, expected: string): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} must be ${expected}, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n > MAX_COUNT) throw new UsageError(`${flag} must be at most ${MAX_COUNT}, got ${JSON.stringify(value)}`);
  return n;
}

export function positiveInt(flag: string) {
  return (value: string) => count(flag, value, 1, "a positive integer");
}

export function nonNegativeInt(flag: string) {
  return (value: string) => count(flag, value, 0, "a whole number, 0 or more");
}

/** A subcommand that takes none of its parent's flags (commander would accept them there, and they would be ignored). */
export function refuseParentFlags(command: Command): Command {
  return command.hook("preAction", (self) => {
    const parent = self.parent;
    if (!parent) return;
    for (const option of parent.options) {
      if (parent.getOptionValueSource(option.attributeName()) !== "cli") continue;
      const flag = option.long ?? option.short ?? option.flags;
      throw new UsageError(`${flag} is not an option of '${parent.name()} ${self.name()}': it belongs to 'toolctl ${parent.name()}'`);
    }
  });
}

/** `--limit` and `--offset` of a paged list (see ../list-output.ts): `noun` names what is listed, in the help. */
export function addPaging(command: Command, noun: string, defaultLimit: number): Command {
  return command
    .option("--limit <n>", `at most n ${noun}`, positiveInt("--limit"), defaultLimit)
    .option("--offset <n>", `skip the newest n ${noun} (default 0; --json gives the next page's offset as page.next)`, nonNegativeInt("--offset"));
}

/** A flag that takes one of a fixed list: anything else is a usage error with the closest value and the list. */
export function oneOf(flag: string, noun: string, values: readonly string[]) {
  const parse = (value: string) => {
    if (values.includes(value)) return value;
    throw new UsageError(`${flag}: unknown ${noun} '${value}'${didYouMean(value, values)}; one of: ${values.join(", ")}`);
  };
  // Shell completion offers the list (completion/spec.ts reads it).
  return Object.assign(parse, { choices: values });
}
