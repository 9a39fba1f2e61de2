/**
 * The bearer token of `toolctl mcp --http`. From `TOOLCTL_MCP_TOKEN` when set; otherwise generated on the first
 * start, printed once, and kept in the home only as its SHA-256 (`mcp-token.sha256`, mode 0600), so reading the
 * home does not give it away. `--new-token` replaces it.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";

export const TOKEN_ENV = "TOOLCTL_MCP_TOKEN";
export const TOKEN_FILE = "mcp-token.sha256";
const MIN_ENV_TOKEN = 16;

export interface BearerToken {
  hash: Buffer;
  source: "env" | "file";
  /** The token itself, only when it was made just now: print it once. */
  created?: string;
  /** Keeps a new token's hash in the home; called once the server listens, so a failed start loses no token. */
  save(): void;
}

export function bearerToken(home: string, env: NodeJS.ProcessEnv, renew: boolean): BearerToken {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (renew) throw new UsageError(`--new-token: the token comes from ${TOKEN_ENV}; change that variable instead`);
    if (fromEnv.length < MIN_ENV_TOKEN || /\s/.test(fromEnv)) throw new UsageError(`${TOKEN_ENV}: use at least ${MIN_ENV_TOKEN} characters and no spaces`);
    return { hash: createHash("sha256").update(fromEnv).digest(), source: "env", save: () => undefined };
  }
  const file = path.join(home, TOKEN_FILE);
  if (!renew) {
    try {
      const hex = readFileSync(file, "utf8").trim();
      if (/^[0-9a-f]{64}$/.test(hex)) return { hash: Buffer.from(hex, "hex"), source: "file", save: () => undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  const token = randomBytes(32).toString("base64url");
  const hash = createHash("sha256").update(token).digest();
  const save = () => {
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${hash.toString("hex")}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  };
  return { hash, source: "file", created: token, save };
}
