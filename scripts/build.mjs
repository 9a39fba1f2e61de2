// Compiles src/ ahead of time into a few ESM files: the CLI entry plus lazily loaded chunks.
// Bundling keeps start-up close to bare node (one file read instead of dozens, no CommonJS lexing);
// better-sqlite3's native addon stays on disk and is loaded by path.
import { build } from "esbuild";
import { existsSync, renameSync, rmSync } from "node:fs";
import { readFile as readFileAsync } from "node:fs/promises";

/**
 * commander loads child_process at start-up for executable subcommands, which toolctl does not use; with it come
 * net, dgram and the stream stack. Deferring that require keeps every command's start-up lighter.
 */
function lazyCommanderChildProcess() {
  return {
    name: "lazy-commander-child-process",
    setup(build) {
      build.onLoad({ filter: /commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
        const source = await readFileAsync(args.path, "utf8");
        const eager = "const childProcess = require('node:child_process');";
        if (!source.includes(eager)) throw new Error("commander changed: update lazyCommanderChildProcess in scripts/build.mjs");
        const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
        return { contents: source.replace(eager, lazy), loader: "js" };
      });
    },
  };
}

// Built beside dist/ and swapped in with renames, so a toolctl started during a rebuild never finds it missing.
const dist = new URL("../dist", import.meta.url);
const next = new URL(`../dist.build-${process.pid}`, import.meta.url);
const old = new URL(`../dist.old-${process.pid}`, import.meta.url);
await build({
  entryPoints: { "cli/main": "src/cli/main.ts" },
  outdir: next.pathname,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // better-sqlite3's JavaScript is bundled too (a dozen files fewer to load); its native addon is loaded by path.
  external: ["*.node"],
  // Prefer ESM entries: some packages (jsonc-parser) ship a UMD "main" whose dynamic requires cannot be bundled.
  mainFields: ["module", "main"],
  chunkNames: "chunks/[name]-[hash]",
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __toolctlCreateRequire } from 'node:module'; const require = __toolctlCreateRequire(import.meta.url);" },
  legalComments: "none",
  logLevel: "warning",
  plugins: [lazyCommanderChildProcess()],
});
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
