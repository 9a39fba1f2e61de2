/**
 * Every environment variable toolctl reads, in one list: `toolctl help environment` prints it, and a test checks
 * that every variable read in src/ is here (and nothing here is no longer read). A manifest's own secrets
 * (`STRIPE_API_KEY`, ...) are read from the environment too; they are named by the manifests, not here.
 */
import { SETTINGS } from "./defaults.js";

export interface EnvironmentVariable {
  name: string;
  /** What it does, in one line. */
  help: string;
  group: "toolctl" | "setting" | "terminal" | "system";
}

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  {
    name: "TOOLCTL_HOME",
    group: "toolctl",
    help: "the toolctl home (registry, config.yaml, keys); wins over a project's toolctl.yaml; default ~/.toolctl; --home wins",
  },
  {
    name: "TOOLCTL_ACTOR",
    group: "toolctl",
    help: "who is recorded as acting: user, ci or agent, any other value refused (default: ci when CI is set, else user)",
  },
  { name: "TOOLCTL_MASTER_KEY", group: "toolctl", help: "the secret store's master key (base64 of 32 bytes), kept out of the home" },
  { name: "TOOLCTL_MASTER_KEY_NEW", group: "toolctl", help: "the next master key, for toolctl secret rotate when the key is in the environment" },
  { name: "TOOLCTL_AUDIT_KEY", group: "toolctl", help: "the audit log's signing key (base64 of 32 bytes), kept out of the home" },
  { name: "TOOLCTL_KEY_STORE", group: "toolctl", help: "where a new key goes: auto (the OS keyring when one runs), keyring or file" },
  { name: "TOOLCTL_MCP_TOKEN", group: "toolctl", help: "toolctl mcp --http: the bearer token clients send (16 characters or more)" },
  {
    name: "TOOLCTL_PAGER",
    group: "toolctl",
    help: "the pager for long output (show, audit, executions) on a terminal; empty or cat for none; wins over PAGER",
  },
  {
    name: "TOOLCTL_COMPILE_CACHE",
    group: "toolctl",
    help: "where the CLI keeps V8's compiled code of its own files (default $XDG_CACHE_HOME/toolctl/compile-cache); 0 for none",
  },
  ...SETTINGS.map((setting) => ({ name: setting.env, group: "setting" as const, help: `config ${setting.key}: ${setting.help}` })),
  { name: "NO_COLOR", group: "terminal", help: "set and not empty: no colour anywhere, the QR code included (no-color.org)" },
  { name: "FORCE_COLOR", group: "terminal", help: "set and not empty or 0: colour even when not writing to a terminal (NO_COLOR still wins)" },
  { name: "TERM", group: "terminal", help: "dumb: no colour and no spinner; a 256-colour terminal gets the QR code in pure black and white" },
  { name: "COLORTERM", group: "terminal", help: "truecolor or 24bit: the QR code in pure black and white, as with a 256-colour TERM" },
  { name: "PAGER", group: "terminal", help: "the pager when TOOLCTL_PAGER is not set (default: less -FRX); empty or cat for none" },
  { name: "LESS", group: "terminal", help: "less's options; set to FRX for the pager when not set" },
  { name: "LV", group: "terminal", help: "lv's options; set to -c for the pager when not set" },
  { name: "CI", group: "system", help: "set (and not false or 0): the actor is ci" },
  { name: "HOME", group: "system", help: "the user's home: where ~/.toolctl is, and a place process tools may not see" },
  { name: "SUDO_USER", group: "system", help: "run as root through sudo: the user who ran it, whose home process tools may not see either" },
  { name: "PATH", group: "system", help: "where bubblewrap (bwrap) and a process tool's program are found" },
  { name: "XDG_CACHE_HOME", group: "system", help: "the user's cache directory (default ~/.cache): where the CLI's compile cache goes" },
  { name: "XDG_RUNTIME_DIR", group: "system", help: "the per-user runtime directory, hidden from process tools" },
  { name: "DBUS_SESSION_BUS_ADDRESS", group: "system", help: "the D-Bus session, through which the OS keyring (Secret Service) is reached on Linux" },
  {
    name: "DOCKER_HOST",
    group: "system",
    help: "the Docker engine to use: unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]; default unix:///var/run/docker.sock",
  },
  {
    name: "CONTAINER_HOST",
    group: "system",
    help: "read only to hide it: a Podman engine's socket that DOCKER_HOST does not name is hidden from confined process tools too",
  },
  {
    name: "CONTAINERD_ADDRESS",
    group: "system",
    help: "read only to hide it: containerd's socket (default /run/containerd/containerd.sock) is hidden from confined process tools",
  },
  { name: "DOCKER_TLS_VERIFY", group: "system", help: "set and not empty, with a tcp:// DOCKER_HOST: talk to it over TLS, its certificate verified" },
  { name: "DOCKER_CERT_PATH", group: "system", help: "the directory of ca.pem, cert.pem and key.pem for TLS (default ~/.docker); set, it turns TLS on" },
  {
    name: "SSH_AUTH_SOCK",
    group: "system",
    help: "the ssh-agent offering keys for an ssh:// DOCKER_HOST (else an unencrypted ~/.ssh/id_ed25519, id_ecdsa or id_rsa)",
  },
  {
    name: "TOOLCTL_DOCKER_PLAIN_TCP",
    group: "toolctl",
    help: "1: allow a tcp:// DOCKER_HOST without TLS to another host (refused by default; loopback is always allowed)",
  },
  {
    name: "TOOL_ALLOWED_DOMAINS",
    group: "system",
    help: "more hosts http tools may call (comma-separated, *.example.com wildcards; * lifts the host limit)",
  },
];
