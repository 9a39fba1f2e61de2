/**
 * A V8 code cache for toolctl's own compiled files, so a command does not compile the same JavaScript on every
 * start. The CLI binary enables it before it loads anything else; the library never does (a program's module
 * loader is its own business).
 *
 * Each file of `dist/` is compiled with the cache V8 made of it in an earlier run; a file without one is compiled
 * as usual and its cache written when the process exits. The cache is made at exit, not at compile time, on
 * purpose: then it holds every function the command ran, not only the top level, and V8 skips compiling those
 * too (made at compile time it saved nothing measurable; docs/benchmarks.md). Node 22 has the same idea built in
 * (`module.enableCompileCache`); this works from Node 20.
 *
 * Where: `TOOLCTL_COMPILE_CACHE` (a directory, or `0` for none), else `$XDG_CACHE_HOME/toolctl/compile-cache`,
 * else `~/.cache/toolctl/compile-cache`, one directory per Node version, per installation and per command: a
 * file's cache holds the functions of the command that made it, and `run` and `list` run different parts of the
 * same files (one shared cache, made by whichever command came first, costs a run 3 % more instructions). A code cache is
 * code: the directory is used only when it belongs to this user and nobody else can write to it, entries are
 * written aside and renamed into place (a reader never sees half a file), and V8 checks each one against its own
 * version, flags and the source's length before using it. An entry is named after its file's path, size and
 * modification time, so a rebuilt or upgraded toolctl never runs a stale one; entries of files that are gone are
 * removed when new ones are written, and so are the directories of commands, installations and Node versions no
 * run wrote to for 30 days. Anything that goes wrong (no home, a read-only disk) only means no cache.
 */
import Module from "node:module";
import { isAscii } from "node:buffer";
import { closeSync, fstatSync, openSync, readdirSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { Script } from "node:vm";
import { makeDirs } from "../util/dirs.js";

/** What the cache did in this process (the tests read it). */
export interface CompileCacheStats {
  dir: string;
  /** Files compiled with an accepted cache entry. */
  hits: number;
  /** Files compiled without one (none yet, or V8 rejected it): their entries are written at exit. */
  misses: number;
  rejected: number;
}

type Compile = (this: CompiledModule, content: string, filename: string, ...rest: unknown[]) => unknown;
interface CompiledModule {
  exports: unknown;
  require(id: string): unknown;
}

const WRAPPER = "(function (exports, require, module, __filename, __dirname) { ";
const TAIL = "\n});";
const DISABLED = new Set(["0", "off", "false", "no"]);

/** The cache directory `env` asks for, or undefined when it turns the cache off. */
export function compileCacheBase(env: NodeJS.ProcessEnv): string | undefined {
  const setting = env.TOOLCTL_COMPILE_CACHE;
  if (setting !== undefined && DISABLED.has(setting.trim().toLowerCase())) return undefined;
  if (setting) return path.resolve(setting);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), ".cache");
  return path.join(base, "toolctl", "compile-cache");
}

/** FNV-1a: a short, stable name for an installation's directory (node:crypto alone takes milliseconds to load). */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

/**
 * A directory this user owns and only this user can write to; created (0700) when missing, but never inside a
 * directory another user owns (root excepted, as for /tmp): `sudo toolctl` with the user's HOME kept must not
 * leave root's files in the user's ~/.cache.
 */
function privateDir(dir: string): boolean {
  let stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) {
    let existing = path.dirname(dir);
    while (!statSync(existing, { throwIfNoEntry: false }) && path.dirname(existing) !== existing) existing = path.dirname(existing);
    const owner = statSync(existing).uid;
    if (typeof process.getuid === "function" && owner !== process.getuid() && owner !== 0) return false;
    makeDirs(dir, 0o700);
    stat = statSync(dir);
  }
  if (!stat.isDirectory()) return false;
  if (typeof process.getuid !== "function") return true;
  return stat.uid === process.getuid() && (stat.mode & 0o022) === 0;
}

const entryName = (relative: string, size: number, mtimeMs: number) => `${relative.split(path.sep).join("+")}@${size}-${Math.trunc(mtimeMs)}`;

const COMMAND = /^[a-z][a-z0-9-]{0,39}$/;

/** The command a CLI invocation runs (its first word that is not a flag), as a cache directory's name. */
export function commandOf(argv: readonly string[]): string {
  const word = argv.find((arg) => !arg.startsWith("-"));
  return word && COMMAND.test(word) ? word : "other";
}

/**
 * Compiles the files under `root` through the cache in `base` from now on, in the part of it kept for `command`.
 * Returns what it did (live counts), or undefined when the cache is off or its directory cannot be trusted.
 */
export function enableCompileCache(root: string, base: string | undefined, command = "other"): CompileCacheStats | undefined {
  if (!base) return undefined;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  const dir = path.join(base, `v8-${process.versions.v8}-${process.arch}`, shortHash(prefix), command);
  try {
    if (!privateDir(dir)) return undefined;
  } catch {
    return undefined;
  }
  const stats: CompileCacheStats = { dir, hits: 0, misses: 0, rejected: 0 };
  const pending: Array<{ entry: string; script: Script }> = [];
  const prototype = Module.prototype as unknown as { _compile: Compile };
  const original = prototype._compile;
  // require.cache as every CommonJS module sees it, through the public API.
  const moduleCache = Module.createRequire(prefix).cache;

  // Each file and its cache entry are read into one buffer kept for the process, not a new one per file: on a
  // virtual machine the first touch of a fresh memory page costs as much as 10 µs (docs/benchmarks.md), and V8
  // reads the cached code during the compile, so the buffer is free again when `new Script` returns.
  let buffer = Buffer.allocUnsafeSlow(256 * 1024);
  /**
   * The rest of the file `fd`, read into the shared buffer from `at` on (with room for TAIL after it). A read that
   * returns less than it asked for has reached the end of a regular file, so with room for the size the caller
   * expects and a byte more, a file takes one read, not a second one that only finds its end (130 per `run`).
   */
  const readFile = (fd: number, at: number, expected = 0): Buffer => {
    let end = at;
    for (;;) {
      const need = Math.max(at + expected + 1 - end, 64 * 1024);
      if (buffer.length - end - TAIL.length < need) {
        const grown = Buffer.allocUnsafeSlow(Math.max(2 * buffer.length, end + need + TAIL.length));
        buffer.copy(grown, 0, 0, end);
        buffer = grown;
      }
      const wanted = buffer.length - end - TAIL.length;
      const read = readSync(fd, buffer, end, wanted, null);
      end += read;
      if (read < wanted) return buffer.subarray(at, end);
    }
  };

  /** The cache entry `entry` (read into the shared buffer), or undefined when there is none. */
  const readEntry = (entry: string): Buffer | undefined => {
    let fd: number;
    try {
      fd = openSync(dir + path.sep + entry, "r");
    } catch {
      return undefined;
    }
    try {
      return readFile(fd, 0);
    } finally {
      closeSync(fd);
    }
  };

  /** Compiles and runs one of toolctl's files, already wrapped as a CommonJS module function, through the cache. */
  const compileWrapped = (module: CompiledModule, filename: string, wrapped: string, stat?: { size: number; mtimeMs: number }): unknown => {
    let entry: string | undefined;
    let cachedData: Buffer | undefined;
    try {
      const { size, mtimeMs } = stat ?? statSync(filename);
      entry = entryName(filename.slice(prefix.length), size, mtimeMs);
      cachedData = readEntry(entry);
    } catch {
      // The file cannot be read: compiled as usual, and cached at exit.
    }
    const script = new Script(wrapped, { filename, cachedData });
    if (cachedData && !script.cachedDataRejected) stats.hits++;
    else {
      stats.misses++;
      if (cachedData) stats.rejected++;
      if (entry) pending.push({ entry, script });
    }
    const compiled = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    // Node's Module sets `path` (the directory) when it makes the module object.
    const dirname = (module as { path?: string }).path ?? path.dirname(filename);
    const require = Object.assign((id: string) => requireFrom(module, dirname, id), {
      resolve: (request: string, options?: { paths?: string[] }) => Module.createRequire(filename).resolve(request, options),
      cache: moduleCache,
      main: (process as { mainModule?: unknown }).mainModule,
    });
    return compiled.call(module.exports, module.exports, require, module, filename, dirname);
  };

  /**
   * A file's text inside the module wrapper, as one flat string: the file is read after the wrapper's opening in the
   * shared buffer, so V8 is not handed a concatenation it must copy again. The build writes ASCII (esbuild escapes
   * the rest), which is read as Latin-1, byte for byte; a file with other bytes is decoded as UTF-8.
   */
  const readWrapped = (file: string): { wrapped: string; stat: { size: number; mtimeMs: number } } => {
    const fd = openSync(file, "r");
    try {
      const stat = fstatSync(fd);
      const text = readFile(fd, WRAPPER.length, stat.size);
      if (!isAscii(text)) return { wrapped: `${WRAPPER}${text.toString("utf8")}${TAIL}`, stat };
      buffer.write(WRAPPER, 0, "latin1");
      buffer.write(TAIL, WRAPPER.length + text.length, "latin1");
      return { wrapped: buffer.toString("latin1", 0, WRAPPER.length + text.length + TAIL.length), stat };
    } finally {
      closeSync(fd);
    }
  };

  // toolctl's own files require each other by relative paths ("./chunk-….js"): those are loaded here, without
  // Node's resolution (a package scope lookup, stats and a realpath per file).
  const requireFrom = (parent: CompiledModule, parentDir: string, id: string): unknown => {
    if (id.startsWith("./") || id.startsWith("../")) {
      // "./chunk-….js", a name beside the parent, is most of them: joined without normalizing (a few hundred
      // path.join calls made V8 optimize its loop on a background thread, for nothing).
      const target = id.startsWith("./") && !id.includes("/", 2) ? parentDir + path.sep + id.slice(2) : path.join(parentDir, id);
      if (target.startsWith(prefix) && target.endsWith(".js")) {
        const cached = moduleCache[target];
        if (cached) return cached.exports;
        let wrapped: string;
        let stat: { size: number; mtimeMs: number };
        try {
          ({ wrapped, stat } = readWrapped(target));
        } catch {
          // Missing or unreadable (a damaged installation): Node's loader says so, in its own words.
          return parent.require(id);
        }
        const module = new Module(target, parent as unknown as Module);
        module.filename = target;
        module.paths = (parent as unknown as Module).paths;
        moduleCache[target] = module;
        let loaded = false;
        try {
          compileWrapped(module as unknown as CompiledModule, target, wrapped, stat);
          loaded = true;
        } finally {
          if (!loaded) delete moduleCache[target];
        }
        module.loaded = true;
        return module.exports;
      }
    }
    return parent.require(id);
  };

  prototype._compile = function (this: CompiledModule, content: string, filename: string, ...rest: unknown[]) {
    if (!filename.startsWith(prefix)) return original.call(this, content, filename, ...rest);
    return compileWrapped(this, filename, `${WRAPPER}${content}${TAIL}`);
  };

  process.once("exit", () => {
    if (pending.length === 0) return;
    try {
      for (const { entry, script } of pending) writeAtomically(path.join(dir, entry), script.createCachedData());
      prune(dir, prefix);
      pruneUnused(base, dir);
    } catch {
      // A full or read-only disk: the next run compiles as usual.
    }
  });
  return stats;
}

function writeAtomically(file: string, data: Buffer): void {
  const aside = `${file}.${process.pid}.tmp`;
  const fd = openSync(aside, "w", 0o600);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(aside, file);
}

/** How long a command's directory may go unchanged before another run removes it. */
export const UNUSED_DAYS = 30;

/**
 * Removes the directories of commands, installations (an `npx` run's, an upgraded toolctl's) and Node versions
 * that were not written to for `UNUSED_DAYS`: the cache would otherwise only grow. A command still in use whose
 * files have all been cached for that long loses its cache once, and its next run makes it again.
 */
function pruneUnused(base: string, current: string): void {
  const cutoff = Date.now() - UNUSED_DAYS * 86_400_000;
  // Only what this cache made: TOOLCTL_COMPILE_CACHE may name a directory that holds other things too.
  const ours = (dir: string, pattern: RegExp) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && pattern.test(entry.name))
      .map((entry) => path.join(dir, entry.name));
  const removeIfEmpty = (dir: string) => {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty: still in use.
    }
  };
  for (const versionDir of ours(base, /^v8-[\w.-]+$/)) {
    for (const installationDir of ours(versionDir, /^[0-9a-z]{1,8}$/)) {
      for (const commandDir of ours(installationDir, COMMAND)) {
        if (commandDir === current || statSync(commandDir).mtimeMs >= cutoff) continue;
        const names = readdirSync(commandDir);
        if (!names.every((name) => name.includes("@"))) continue;
        for (const name of names) unlinkSync(path.join(commandDir, name));
        removeIfEmpty(commandDir);
      }
      removeIfEmpty(installationDir);
    }
    removeIfEmpty(versionDir);
  }
}

/**
 * Removes entries of files that changed or are gone (an upgrade or a rebuild), and files a killed writer left
 * aside (a minute old: a live writer renames its file within milliseconds).
 */
function prune(dir: string, prefix: string): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    let stale: boolean;
    if (name.endsWith(".tmp")) stale = now - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? now) > 60_000;
    else {
      const at = name.lastIndexOf("@");
      const relative = at > 0 ? name.slice(0, at).split("+").join(path.sep) : undefined;
      const source = relative ? statSync(prefix + relative, { throwIfNoEntry: false }) : undefined;
      stale = !source || !relative || entryName(relative, source.size, source.mtimeMs) !== name;
    }
    if (!stale) continue;
    try {
      unlinkSync(file);
    } catch {
      // Another process removed it first.
    }
  }
}
