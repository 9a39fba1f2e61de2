/** Parsers for flag values shared by the command definitions. A bad value is a usage error (exit 2). */
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { didYouMean } from "../../util/suggest.js";

/** A repeatable flag: each use adds to the list. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number, 0 or more, got ${JSON.stringify(value)}`);
    return n;
  };
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
