/**
 * Manifest text → validated tool definition. Every problem in a file is reported at once, each naming
 * file, line, column and field. `readManifestFile` is the only function here that touches the file system.
 */
import { OWN_NAME_PATTERN, OWN_NAME_PROBLEM } from "../domain/name-patterns.js";
import { readFile } from "node:fs/promises";
import path from "node:path";
// Loaded with ./locate.js anyway. A dynamic import() of it lost its named exports in the CommonJS build (only
// `default` was there), so every failed manifest's tool went unnamed.
import { parse } from "yaml";
import { manifestRuleProblems, manifestSchema, reservedKeyProblems, type Manifest } from "../domain/manifest.js";
import { ValidationError } from "../errors.js";
import { isValidAllowedHost, isValidNetworkEntry } from "../net/outbound-policy.js";
import { checkSchema } from "../schema/compile.js";
import { definitionClosure, withDefinitions } from "../schema/defs.js";
import { collectRefs, TemplateError } from "../domain/template.js";
import { digestOf } from "../util/canonical.js";
import { parseLocated } from "./locate.js";
import { actionSecrets } from "./secrets.js";
import { describeIssue, formatProblem, sortedUnique, type Problem } from "./problems.js";

export const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

export interface LoadedManifest {
  manifest: Manifest;
  digest: string;
  /** Every secret the tool refers to, by name. */
  secrets: string[];
  sourcePath: string;
}

export async function readManifestFile(file: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new ValidationError("manifest_invalid", `${file}: cannot read manifest: ${reason}`, [`${file}: ${reason}`]);
  }
  return parseManifest(text, file);
}

/**
 * The tool name a manifest file declares, read leniently: for a file that does not load (its import reports why),
 * the `name` of its YAML (or JSON) when there is one; undefined when the text cannot be read that far.
 */
export async function declaredToolName(file: string): Promise<string | undefined> {
  try {
    const value = parse(await readFile(file, "utf8")) as { name?: unknown } | null;
    return typeof value?.name === "string" ? value.name : undefined;
  } catch {
    return undefined;
  }
}

export function parseManifest(text: string, file: string): LoadedManifest {
  const located = parseLocated(text, file.toLowerCase().endsWith(".json"));
  if (Array.isArray(located)) {
    throw invalid(
      file,
      located.map((p) => `${file}:${p.position.line}:${p.position.col}: ${p.message}`),
    );
  }
  if (located.data === null || typeof located.data !== "object" || Array.isArray(located.data)) {
    throw invalid(file, [`${file}:1:1: expected a mapping with apiVersion, name, runtime and actions`]);
  }
  // Refused before validation, which would drop the key and report what its absence leaves (no actions at all).
  const reserved = reservedKeyProblems(located.data);
  if (reserved.length > 0) throw invalid(file, sortedUnique(reserved.map((p) => formatProblem(file, located, p))));
  const parsed = manifestSchema.safeParse(located.data);
  const problems: Problem[] = parsed.success
    ? checkEmbedded(parsed.data)
    : [...parsed.error.issues.flatMap((issue) => describeIssue(issue, manifestSchema)), ...manifestRuleProblems(located.data), ...checkEmbedded(located.data)];
  if (problems.length > 0) throw invalid(file, sortedUnique(problems.map((p) => formatProblem(file, located, p))));
  const manifest = parsed.data!;
  return { manifest, digest: digestOf(manifest), secrets: referencedSecrets(manifest), sourcePath: path.resolve(file) };
}

function invalid(file: string, lines: string[]): ValidationError {
  const message = lines.length === 1 ? lines[0]! : `${file}: ${lines.length} problems in manifest`;
  return new ValidationError("manifest_invalid", message, lines, { file });
}

const TEMPLATE_ROOTS: Record<string, string[]> = {
  request: ["input", "secrets"],
  command: ["input", "secrets", "tool"],
  env: ["input", "secrets", "tool"],
  rollback: ["input", "output"],
};

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Checks zod cannot make: the JSON Schemas inside actions, and the references inside templates. Written
 * against unvalidated data so that it also runs when other parts of the file are wrong.
 */
function checkEmbedded(manifest: unknown): Problem[] {
  if (!isRecord(manifest)) return [];
  const problems: Problem[] = [];
  const checkTemplates = (value: unknown, at: PropertyKey[], roots: string[]) => {
    try {
      for (const ref of collectRefs(value)) {
        if (!roots.includes(ref.root)) problems.push({ path: at, message: `template '{{ ${ref.path} }}' may only refer to ${roots.join(", ")}` });
        const name = ref.root === "secrets" ? ref.path.slice("secrets.".length) : "";
        if (OWN_NAME_PATTERN.test(name)) problems.push({ path: at, message: `${name} ${OWN_NAME_PROBLEM}` });
      }
    } catch (error) {
      if (error instanceof TemplateError) problems.push({ path: at, message: error.message });
      else throw error;
    }
  };
  if (isRecord(manifest.auth) && manifest.auth.type === "basic") checkTemplates(manifest.auth.username, ["auth", "username"], ["secrets"]);
  if (isRecord(manifest.http)) {
    checkTemplates(manifest.http.headers, ["http", "headers"], ["secrets"]);
    const networks = manifest.http.allowPrivateNetworks;
    if (Array.isArray(networks)) {
      networks.forEach((entry, index) => {
        if (typeof entry === "string" && !isValidNetworkEntry(entry)) {
          problems.push({ path: ["http", "allowPrivateNetworks", index], message: `'${entry}' is not a CIDR range (such as 127.0.0.0/8) or an IP address` });
        }
      });
    }
    const hosts = manifest.http.allowedHosts;
    if (Array.isArray(hosts)) {
      hosts.forEach((entry, index) => {
        if (typeof entry === "string" && !isValidAllowedHost(entry)) {
          problems.push({
            path: ["http", "allowedHosts", index],
            message: `'${entry}' is not a host, a *.domain wildcard or an origin (http or https://host[:port], nothing after it)`,
          });
        }
      });
    }
  }
  const definitions = isRecord(manifest.definitions) ? manifest.definitions : undefined;
  for (const [name, action] of Object.entries(isRecord(manifest.actions) ? manifest.actions : {})) {
    if (!isRecord(action)) continue;
    for (const field of ["inputSchema", "outputSchema"] as const) {
      const schema = action[field];
      if (!isRecord(schema)) continue;
      // A reference to a definition that does not exist is reported by checkSchema, at the pointer that makes it.
      const { names } = definitionClosure(schema, definitions);
      for (const problem of checkSchema(withDefinitions(schema, definitions, names))) {
        const pointer = problem.path
          .split("/")
          .slice(1)
          .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
        problems.push({ path: ["actions", name, field, ...pointer], message: `invalid JSON Schema: ${problem.message}` });
      }
    }
    for (const field of ["request", "command", "env", "rollback"] as const) {
      if (action[field] !== undefined) checkTemplates(action[field], ["actions", name, field], TEMPLATE_ROOTS[field]!);
    }
    if (isRecord(action.auth) && action.auth.type === "basic") checkTemplates(action.auth.username, ["actions", name, "auth", "username"], ["secrets"]);
  }
  return problems;
}

/** Every secret the tool's actions name: what the registry keeps, and `show` and `doctor` check. */
export function referencedSecrets(manifest: Manifest): string[] {
  return actionSecrets(manifest, Object.values(manifest.actions));
}
