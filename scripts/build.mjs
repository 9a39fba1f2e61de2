// Compiles src/ ahead of time into a few ESM files: the CLI entry plus lazily loaded chunks.
// Bundling keeps start-up close to bare node (one file read instead of dozens, no CommonJS lexing);
// better-sqlite3 stays external because it loads a native addon.
import { build } from "esbuild";
import { rmSync } from "node:fs";

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { "cli/main": "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["better-sqlite3"],
  // Prefer ESM entries: some packages (jsonc-parser) ship a UMD "main" whose dynamic requires cannot be bundled.
  mainFields: ["module", "main"],
  chunkNames: "chunks/[name]-[hash]",
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __toolctlCreateRequire } from 'node:module'; const require = __toolctlCreateRequire(import.meta.url);" },
  legalComments: "none",
  logLevel: "warning",
});
