/**
 * Where toolctl's own keys live: the master key ring (which seals secrets and the TOTP secret) and the audit key
 * (which signs the audit chain). Each is found, in this order:
 *
 *  1. an environment variable (`TOOLCTL_MASTER_KEY`, `TOOLCTL_AUDIT_KEY`): read here by the caller, never written;
 *  2. a file in the home (`master.key`, `audit.key`, mode 0600), when it exists;
 *  3. the OS keyring (macOS Keychain, Windows Credential Manager, the Secret Service on Linux), when the home's
 *     `keys.json` says the key was put there.
 *
 * A new key goes to the keyring when one is running (`TOOLCTL_KEY_STORE=auto`, the default), else to the file;
 * `TOOLCTL_KEY_STORE=file` or `keyring` forces the choice. A key outside the home cannot be read by a process
 * that can only read files, which is what a confined tool is at most.
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { EnvironmentError, UsageError } from "../errors.js";
import { syncDirectory } from "../util/sync-directory.js";
import { removeQuietly } from "../util/remove-quietly.js";

export type KeyName = "master" | "audit";
export type KeyStoreChoice = "auto" | "keyring" | "file";

/** One place a key is kept. `text` is what is stored: the JSON the caller reads and writes. */
export interface KeyHolder {
  kind: "file" | "keyring";
  /** For messages: a file path, or which keyring entry. */
  where: string;
  read(): string | undefined;
  /** Creates the entry, never replacing one: false when it already existed (the caller reads the winner's). */
  create(text: string): boolean;
  /** Replaces the entry, durably (rotation). */
  write(text: string): void;
}

const FILES: Record<KeyName, string> = { master: "master.key", audit: "audit.key" };
const MARKER_FILE = "keys.json";
const SERVICE = "toolctl";

export function keyFileFor(home: string, name: KeyName): string {
  return path.join(home, FILES[name]);
}

export function keyStoreChoice(env: NodeJS.ProcessEnv): KeyStoreChoice {
  const raw = env.TOOLCTL_KEY_STORE;
  if (raw === undefined || raw === "" || raw === "auto") return "auto";
  if (raw === "keyring" || raw === "file") return raw;
  throw new UsageError(`TOOLCTL_KEY_STORE: expected auto, keyring or file, got ${JSON.stringify(raw)}`);
}

// ---------------------------------------------------------------------------------------------------- the file

/** A file of the home that could not be written, as one line (exit 6): a full disk is said as such. */
function writeFailed(file: string, error: unknown): EnvironmentError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "ENOSPC" || code === "EDQUOT"
      ? `no space left on the disk holding ${path.dirname(file)}; nothing was written: free some space and run it again`
      : `${code ?? (error as Error).message}; nothing was written`;
  return new EnvironmentError(`cannot create ${file}: ${why}`, {}, error);
}

/**
 * Writes a complete file beside its final name, on disk before it is renamed or linked into place. On any failure
 * (a full disk shows at the write or at the flush) the temp file is removed: nothing is left half-written.
 */
function writeDurableTemp(file: string, text: string): string {
  const temp = `${file}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, "w", 0o600);
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(temp);
    throw writeFailed(file, error);
  }
  return temp;
}

function fileHolder(home: string, name: KeyName): KeyHolder {
  const file = keyFileFor(home, name);
  return {
    kind: "file",
    where: file,
    read() {
      if (!existsSync(file)) return undefined;
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) throw new EnvironmentError(`${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
      return readFileSync(file, "utf8");
    },
    create(text) {
      // A hard link fails if the name exists: two processes creating a key at once never overwrite each other.
      const temp = writeDurableTemp(file, text);
      try {
        linkSync(temp, file);
        syncDirectory(home);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw writeFailed(file, error);
      } finally {
        removeQuietly(temp);
      }
    },
    write(text) {
      replaceDurably(home, file, text);
    },
  };
}

// ------------------------------------------------------------------------------------------------- the keyring

interface KeyringEntry {
  getPassword(): string | null | undefined;
  setPassword(password: string): void;
}
type EntryClass = new (service: string, account: string) => KeyringEntry;

let entryClass: EntryClass | null | undefined;
/** @napi-rs/keyring, loaded only by a home that uses the keyring; null when its binary is missing. */
function loadEntryClass(): EntryClass | null {
  if (entryClass !== undefined) return entryClass;
  try {
    entryClass = (createRequire(import.meta.url)("@napi-rs/keyring") as { Entry: EntryClass }).Entry;
  } catch {
    entryClass = null;
  }
  return entryClass;
}

/**
 * Whether a persistent OS keyring answers. On Linux, @napi-rs/keyring falls back to the kernel's keyutils when no
 * Secret Service runs, and those keys are gone at the next reboot: a master key there would take every secret
 * with it. So on Linux the keyring counts only when the session bus has (or can start) org.freedesktop.secrets.
 */
export function keyringAvailable(env: NodeJS.ProcessEnv): { ok: boolean; why: string } {
  if (loadEntryClass() === null) return { ok: false, why: "the @napi-rs/keyring binary for this platform is not installed" };
  if (process.platform === "darwin" || process.platform === "win32")
    return { ok: true, why: process.platform === "darwin" ? "macOS Keychain" : "Windows Credential Manager" };
  if (process.platform !== "linux") return { ok: false, why: `no supported keyring on ${process.platform}` };
  if (!env.DBUS_SESSION_BUS_ADDRESS) return { ok: false, why: "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set), so no Secret Service" };
  const { spawnSync } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const ask = (method: string, ...args: string[]) =>
    spawnSync("dbus-send", ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", `org.freedesktop.DBus.${method}`, ...args], {
      env,
      encoding: "utf8",
      timeout: 3000,
    });
  const owner = ask("NameHasOwner", "string:org.freedesktop.secrets");
  if (owner.error) return { ok: false, why: "dbus-send is not installed, so the Secret Service cannot be found" };
  if (/boolean true/.test(owner.stdout)) return { ok: true, why: "Secret Service (org.freedesktop.secrets)" };
  const activatable = ask("ListActivatableNames");
  if (/"org\.freedesktop\.secrets"/.test(activatable.stdout ?? "")) return { ok: true, why: "Secret Service (org.freedesktop.secrets, started on demand)" };
  return { ok: false, why: "no Secret Service (org.freedesktop.secrets) on the session bus" };
}

function keyringHolder(home: string, name: KeyName, env: NodeJS.ProcessEnv): KeyHolder {
  const account = `${name} key ${path.resolve(home)}`;
  const where = `the OS keyring (service ${SERVICE}, account "${account}")`;
  const entry = (): KeyringEntry => {
    const Entry = loadEntryClass();
    if (!Entry) throw new EnvironmentError(`the ${name} key is in ${where}, but the @napi-rs/keyring binary for this platform is not installed`);
    return new Entry(SERVICE, account);
  };
  const failed = (what: string, error: unknown) =>
    new EnvironmentError(`cannot ${what} the ${name} key in ${where}: ${(error as Error).message}; is the keyring unlocked?`, {}, error);
  const lookup = (): string | undefined => {
    try {
      return entry().getPassword() ?? undefined;
    } catch (error) {
      if (error instanceof EnvironmentError) throw error;
      throw failed("read", error);
    }
  };
  const write = (text: string) => {
    try {
      entry().setPassword(text);
    } catch (error) {
      throw failed("write", error);
    }
  };
  return {
    kind: "keyring",
    where,
    read() {
      // This home keeps the key there (keys.json says so): missing is an error, never a reason to make a new key,
      // which would orphan every secret and signature made with the old one.
      const text = lookup();
      if (text !== undefined) return text;
      const available = keyringAvailable(env);
      throw new EnvironmentError(
        `the ${name} key of ${home} is kept in ${where}, but ${available.ok ? "the keyring has no such entry" : `the keyring cannot be reached here (${available.why})`}; run toolctl where that keyring is unlocked, or restore the entry`,
      );
    },
    create(text) {
      // The keyring has no create-if-absent: a lock file in the home keeps two first runs from both writing.
      return withCreateLock(home, () => {
        if (lookup() !== undefined) return false;
        write(text);
        markInKeyring(home, name);
        return true;
      });
    },
    write,
  };
}

function withCreateLock<T>(home: string, fn: () => T): T {
  const lock = path.join(home, `.${MARKER_FILE}.lock`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new EnvironmentError(`cannot create ${lock}: ${(error as Error).message}`);
      // A lock left by a killed process is old: anything this slow is not a live key creation.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) unlinkSync(lock);
      } catch {
        // Removed meanwhile.
      }
      if (Date.now() > deadline) throw new EnvironmentError(`timed out waiting for ${lock}; remove it if no toolctl is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // Gone already.
    }
  }
}

function readMarker(home: string): Partial<Record<KeyName, "keyring">> {
  try {
    return JSON.parse(readFileSync(path.join(home, MARKER_FILE), "utf8")) as Partial<Record<KeyName, "keyring">>;
  } catch {
    return {};
  }
}

function markInKeyring(home: string, name: KeyName): void {
  replaceDurably(home, path.join(home, MARKER_FILE), `${JSON.stringify({ ...readMarker(home), [name]: "keyring" }, null, 2)}\n`);
}

/** Replaces `file` in `home` with `text`, written whole and flushed, then renamed into place and made durable. */
function replaceDurably(home: string, file: string, text: string): void {
  const temp = writeDurableTemp(file, text);
  try {
    renameSync(temp, file);
  } catch (error) {
    removeQuietly(temp);
    throw writeFailed(file, error);
  }
  syncDirectory(home);
}

// ----------------------------------------------------------------------------------------------- which holder

/**
 * Where key `name` of this home is kept now: the file when it exists, else the keyring when the home's marker
 * says so; undefined when the key does not exist yet.
 */
export function existingHolder(home: string, name: KeyName, env: NodeJS.ProcessEnv = process.env): KeyHolder | undefined {
  if (existsSync(keyFileFor(home, name))) return fileHolder(home, name);
  if (readMarker(home)[name] === "keyring") return keyringHolder(home, name, env);
  return undefined;
}

/** Where a new key `name` goes: the keyring when one runs (or is demanded), else the file. */
export function holderForNewKey(home: string, name: KeyName, env: NodeJS.ProcessEnv): KeyHolder {
  const choice = keyStoreChoice(env);
  if (choice === "file") return fileHolder(home, name);
  const available = keyringAvailable(env);
  if (available.ok) return keyringHolder(home, name, env);
  if (choice === "keyring") throw new EnvironmentError(`TOOLCTL_KEY_STORE=keyring, but no OS keyring is available: ${available.why}`);
  return fileHolder(home, name);
}

/** The holder of an existing key, or a new one for creating it. */
export function holderFor(home: string, name: KeyName, env: NodeJS.ProcessEnv): KeyHolder {
  return existingHolder(home, name, env) ?? holderForNewKey(home, name, env);
}
