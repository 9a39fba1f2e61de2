/**
 * A run's input as the library takes it: an object is the input itself, whatever its fields are called; the CLI's
 * sources (`--param`, `--params`, `--params-file`) come only through `inputSources()`. So an action with a field
 * named `params`, or an agent's arguments over MCP, are never read as command-line sources.
 */
import { checkExactNumbers, type InputSources } from "../engine/input.js";
import { UsageError } from "../errors.js";

/** The CLI's sources, marked by `inputSources()`: no plain object (nor anything parsed from JSON) is one. */
export class SourcedInput {
  /** @internal */
  constructor(readonly sources: Readonly<InputSources>) {}
}

/**
 * The CLI's input sources for `run` and `preview`: `params` as `key=value` strings typed by the input schema
 * (`--param`), `paramsJson` a JSON object (`--params`), `paramsFile` a file's name and text (`--params-file`);
 * each param wins over `paramsJson`, which wins over the file. A source of the wrong type is a usage error.
 */
export function inputSources(sources: InputSources): SourcedInput {
  const { params, paramsJson, paramsFile } = sources;
  if (!Array.isArray(params) || !params.every((param) => typeof param === "string")) {
    throw new UsageError("inputSources: params: expected a list of key=value strings");
  }
  if (paramsJson !== undefined && typeof paramsJson !== "string") throw new UsageError("inputSources: paramsJson: expected JSON text");
  if (paramsFile !== undefined && (typeof paramsFile !== "object" || typeof paramsFile?.name !== "string" || typeof paramsFile.text !== "string")) {
    throw new UsageError("inputSources: paramsFile: expected { name, text }");
  }
  if (paramsFile !== undefined) checkExactNumbers(paramsFile.text, `--params-file ${paramsFile.name}`);
  if (paramsJson !== undefined) checkExactNumbers(paramsJson, "--params");
  return new SourcedInput({ params: [...params], paramsJson, paramsFile: paramsFile && { name: paramsFile.name, text: paramsFile.text } });
}

const kindOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`);

/** The engine's sources for a run's input: none, the marked CLI sources, or an object as JSON. */
export function sourcesOf(input: Record<string, unknown> | SourcedInput | undefined): InputSources {
  if (input === undefined) return { params: [] };
  if (input instanceof SourcedInput) return { ...input.sources, params: [...input.sources.params] };
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new UsageError(`input: expected an object, got ${kindOf(input)}`);
  let json: string;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw new UsageError(`input: cannot be written as JSON: ${(error as Error).message}`);
  }
  return { params: [], paramsJson: json };
}
