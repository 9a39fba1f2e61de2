/**
 * Bundles a TypeScript entry (which imports toolctl's sources) into one ESM file that plain `node` can run, so a
 * test can start several real processes that call the registry directly. better-sqlite3's addon is found from
 * the repository, as the production build finds it.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { repoRoot, tempDir } from "./helpers.js";

export async function bundleScript(entry: string): Promise<string> {
  const outfile = path.join(tempDir("toolctl-bundle-"), `${path.basename(entry, ".ts")}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["*.node"],
    // The sources resolve better-sqlite3's addon from their own location: give them the repository's.
    define: { "import.meta.url": JSON.stringify(pathToFileURL(path.join(repoRoot, "src", "bundle.js")).href) },
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning",
  });
  return outfile;
}
