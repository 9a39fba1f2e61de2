// Compiles src/ ahead of time into a few files: the CLI entry, the library entry and lazily loaded chunks.
// Bundling keeps start-up close to bare node (a few dozen files read instead of hundreds); better-sqlite3's
// native addon stays on disk and is loaded by path.
//
// The chunks are CommonJS. esbuild splits code only in ESM output, so the split ESM build is then transformed,
// file by file, into CommonJS (esbuild's transform: imports become requires, `import()` a require in a promise,
// exports getters, so cycles between chunks keep their live bindings). On Node 20 the ESM loader costs about
// 0.5 ms per module (resolution, URL handling, asynchronous reads), CommonJS about a third of that, and a
// CommonJS process never loads the ESM loader or fs/promises at all: `run` loads about 60 chunks, `list` 40, so this
// is 20–30 ms of every command (docs/benchmarks.md). ESM programs import the library as before: Node reads
// the export names esbuild annotates in dist/api/index.js.
import { build, transform } from "esbuild";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readFile as readFileAsync, writeFile as writeFileAsync } from "node:fs/promises";

/**
 * Requires made lazy at build time: code a dependency loads at start-up for features toolctl rarely or never
 * uses. commander loads child_process for executable subcommands (and with it net, dgram and the stream stack);
 * dockerode loads gRPC and protobuf for BuildKit sessions, docker-modem loads ssh2 for ssh:// engines. Each
 * rewrite fails the build loudly if the dependency changes, so it is never silently skipped.
 */
const LAZY_REQUIRES = [
  {
    file: /commander[\\/]lib[\\/]command\.js$/,
    eager: "const childProcess = require('node:child_process');",
    lazy: "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
  },
  {
    file: /dockerode[\\/]lib[\\/]docker\.js$/,
    eager: "withSession = require('./session'),",
    lazy: "withSession = function () { return require('./session').apply(this, arguments); },",
  },
  {
    file: /docker-modem[\\/]lib[\\/]modem\.js$/,
    eager: "ssh = require('./ssh'),",
    lazy: "ssh = function () { return require('./ssh').apply(this, arguments); },",
  },
];

function lazyRequires() {
  return {
    name: "lazy-requires",
    setup(build) {
      for (const { file, eager, lazy } of LAZY_REQUIRES) {
        build.onLoad({ filter: file }, async (args) => {
          const source = await readFileAsync(args.path, "utf8");
          if (!source.includes(eager)) throw new Error(`${args.path} changed: update LAZY_REQUIRES in scripts/build.mjs`);
          return { contents: source.replace(eager, lazy), loader: "js" };
        });
      }
    },
  };
}

// Built beside dist/ and swapped in with renames, so a toolctl started during a rebuild never finds it missing.
const dist = new URL("../dist", import.meta.url);
const next = new URL(`../dist.build-${process.pid}`, import.meta.url);
const old = new URL(`../dist.old-${process.pid}`, import.meta.url);
await build({
  entryPoints: { "cli/main": "src/cli/main.ts", "api/index": "src/api/index.ts" },
  outdir: next.pathname,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // better-sqlite3's JavaScript is bundled too (a dozen files fewer to load); its native addon is loaded by path.
  // What dockerode needs only for BuildKit sessions (gRPC, protobuf) and ssh:// engines (ssh2) stays in
  // node_modules: those requires are made lazy below, so a Docker run never parses their megabyte and a half.
  external: ["*.node", "pg-native", "@grpc/grpc-js", "@grpc/proto-loader", "protobufjs", "ssh2", "uuid"],
  // Prefer ESM entries: some packages (jsonc-parser) ship a UMD "main" whose dynamic requires cannot be bundled.
  mainFields: ["module", "main"],
  chunkNames: "chunks/[name]-[hash]",
  // Whitespace and syntax minified (names kept, so stack traces still read): less source to read and pre-parse
  // at every start.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  plugins: [lazyRequires()],
});
await toCommonJs(next.pathname);
// The compile cache is loaded before everything else, and before it can cache anything: one file of its own,
// sharing no chunk with the rest.
await build({
  entryPoints: ["src/cli/compile-cache.ts"],
  outfile: new URL("cli/compile-cache.js", `${next.href}/`).pathname,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});
// What shell completion knows of the command tree, read from it once here, so a TAB never loads commander.
const spec = spawnSync(process.execPath, [new URL("cli/main.js", `${next.href}/`).pathname, "__complete-spec"], { encoding: "utf8" });
if (spec.status !== 0) throw new Error(`toolctl __complete-spec failed: ${spec.stderr}`);
writeFileSync(new URL("cli/completion-spec.json", `${next.href}/`), spec.stdout);
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });

/** Rewrites every file of the split ESM build in `dir` as CommonJS, and marks the directory as CommonJS. */
async function toCommonJs(dir) {
  const files = readdirSync(dir, { recursive: true }).filter((file) => file.endsWith(".js"));
  await Promise.all(
    files.map(async (file) => {
      const full = `${dir}/${file}`;
      const source = await readFileAsync(full, "utf8");
      // A few chunks find files beside them (package.json, the completion spec) from their own URL: computed
      // only in those, and only when asked.
      const ownUrl = source.includes("import.meta.url");
      const { code } = await transform(source, {
        format: "cjs",
        platform: "node",
        target: "node20",
        // `import()` of a chunk becomes `Promise.resolve().then(() => require(...))`: still loaded only when reached.
        supported: { "dynamic-import": false },
        // Strict, as the ESM it was: CommonJS is sloppy unless it says so, first thing in the file.
        banner: ownUrl
          ? `"use strict";\nconst __toolctlImportMeta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };`
          : '"use strict";',
        ...(ownUrl ? { define: { "import.meta": "__toolctlImportMeta" } } : {}),
        minifyWhitespace: true,
        minifySyntax: true,
        legalComments: "none",
        logLevel: "warning",
      });
      await writeFileAsync(full, code);
    }),
  );
  writeFileSync(`${dir}/package.json`, `${JSON.stringify({ type: "commonjs" })}\n`);
}
