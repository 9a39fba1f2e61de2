/**
 * Which part of src/ may import which: the arrows of docs/architecture.md ("Import rules"), checked by
 * `npm run lint:deps` (part of `npm test`). Type-only imports count: a type is an arrow too.
 * There are no known exceptions beyond the ones written into a rule (with its reason): any violation fails.
 */

/** The parts below the engine: they compute or convert, and know nothing of who calls them. */
const FOUNDATIONS = "^src/(domain|util|config|schema|net|policy|manifest|openapi|secrets|store)/|^src/errors\\.ts$";

/** Every external library the project depends on, and the folders (one, where it can be) that may import it. */
const LIBRARY_HOMES = [
  {
    name: "zod-only-in-domain-and-config",
    library: "zod",
    homes: ["src/domain/", "src/config/", "src/manifest/problems\\.ts"],
    why: "zod schemas are the single source of truth for types; the manifest loader only reads zod's error type to locate problems",
  },
  {
    name: "yaml-only-in-the-importers-and-the-config-editor",
    library: "yaml",
    homes: ["src/manifest/", "src/openapi/", "src/config/yaml-edit\\.ts"],
    why: "YAML with source positions is read by the two importers; config.yaml is changed in place by `toolctl config set|unset` (config/yaml-edit.ts), which needs the Document's node ranges to keep the user's comments and layout, and is loaded only by those commands",
  },
  {
    name: "ajv-only-in-schema",
    library: "ajv|ajv-formats",
    homes: ["src/schema/"],
    why: "JSON Schema is compiled at import time in one place; run time loads standalone code without ajv",
  },
  {
    name: "commander-only-in-cli",
    library: "commander",
    homes: ["src/cli/"],
    why: "argument parsing belongs to the CLI; nothing below the API knows which front door it came through",
  },
  {
    name: "terminal-libraries-only-in-ui",
    library: "chalk|ora|@inquirer/prompts|get-east-asian-width|strip-ansi",
    homes: ["src/ui/"],
    why: "colour, spinners, prompts and text widths live in the views; prompts are wrapped once (ui/prompt.ts) so they fail closed",
  },
  {
    name: "execa-only-in-the-process-runner",
    library: "execa",
    homes: ["src/runners/process/"],
    why: "the process runtime is the one place that starts programs",
  },
  {
    name: "dockerode-only-in-the-docker-runner",
    library: "dockerode|tar-stream",
    homes: ["src/runners/docker/"],
    why: "the Docker engine API is the docker runtime's, loaded only for Docker runs",
  },
  {
    name: "nodemailer-only-in-the-email-provider",
    library: "nodemailer",
    homes: ["src/providers/email/"],
    why: "the SMTP conversation is the email provider's",
  },
  {
    name: "cockatiel-and-xml-only-in-the-http-runner",
    library: "cockatiel|fast-xml-parser",
    homes: ["src/runners/http/"],
    why: "retries and XML answers belong to the http runtime",
  },
  {
    name: "jsonc-parser-only-in-manifest",
    library: "jsonc-parser",
    homes: ["src/manifest/"],
    why: "exact positions of JSON syntax errors are the manifest loader's",
  },
  { name: "qrcode-only-in-cli", library: "qrcode", homes: ["src/cli/"], why: "the enrolment QR code is drawn by the front door that shows it" },
  {
    name: "keyring-only-in-secrets",
    library: "@napi-rs/keyring",
    homes: ["src/secrets/"],
    why: "the OS keyring holds the master and audit keys, found by the key store alone",
  },
  { name: "ipaddr-only-in-net", library: "ipaddr\\.js", homes: ["src/net/"], why: "address classification is the outbound guard's" },
  { name: "dotenv-only-in-secrets", library: "dotenv", homes: ["src/secrets/"], why: ".env files are read by secret resolution only" },
  {
    name: "mcp-sdk-only-in-mcp",
    library: "@modelcontextprotocol/sdk",
    homes: ["src/mcp/"],
    why: "the Model Context Protocol is one front door's wire format; nothing below the API knows it",
  },
  { name: "otplib-only-in-policy", library: "otplib", homes: ["src/policy/"], why: "TOTP checks are pure policy decisions" },
  {
    name: "simplewebauthn-server-only-in-policy",
    library: "@simplewebauthn/server",
    homes: ["src/policy/passkey\\.ts"],
    why: "WebAuthn checks (registration, assertions) are pure policy decisions, loaded only when a passkey is used; the store keeps passkeys as data and never sees the library",
  },
  {
    name: "simplewebauthn-browser-only-in-web",
    library: "@simplewebauthn/browser",
    homes: ["src/web/"],
    why: "its bundle is served to the approval page (which runs it in the browser); nothing in Node runs it",
  },
  {
    name: "better-sqlite3-only-in-the-store",
    library: "better-sqlite3",
    // The `database` built-in runtime opens the user's own SQLite file (a tool's target, not toolctl's
    // registry): that is its whole job, so this one file may import the driver. It never opens the registry.
    homes: ["src/store/sqlite/", "src/runners/builtin/database-file\\.ts"],
    why: "toolctl's storage is behind the Store port: only its SQLite adapter opens a database or writes SQL",
  },
  {
    name: "pg-only-in-the-postgres-adapter",
    library: "pg",
    homes: ["src/store/postgres/"],
    why: "the team backend is the Store port on PostgreSQL: only its adapter opens a connection or writes SQL for it",
  },
];

const libraryRules = LIBRARY_HOMES.map(({ name, library, homes, why }) => ({
  name,
  severity: "error",
  comment: `${library.replace(/\\/g, "")} is imported only from ${homes.map((home) => home.replace(/\\/g, "")).join(", ")}: ${why}.`,
  from: { path: "^src/", pathNot: homes.map((home) => `^${home}`) },
  to: { dependencyTypes: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown"], path: `^node_modules/(@types/)?(${library})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes two modules one: neither can be loaded, tested or understood without the other.",
      from: {},
      // Type-only imports are erased when compiled, so they cannot make a load-order bug; every other import counts,
      // lazy import() included.
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "no-unreachable",
      severity: "error",
      comment:
        "Every module is reached from an entry point (the CLI, its compile cache or the library API); one that is not is dead code (this covers orphans too).",
      from: { path: "^src/(cli/main|cli/compile-cache|api/index)\\.ts$" },
      // Type declarations for an untyped package (src/store/postgres/pgpass.d.ts) are read by the compiler, not imported.
      to: { path: "^src/", pathNot: ["^src/(cli/main|cli/compile-cache|api/index)\\.ts$", "\\.d\\.ts$"], reachable: false },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve fails at run time, or names a package missing from package.json.",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "not-to-dev-dependency",
      severity: "error",
      comment: "src/ ships to users: a devDependency is not installed for them.",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"], pathNot: "^node_modules/@types/" },
    },
    {
      name: "domain-imports-only-domain-and-util",
      severity: "error",
      comment:
        "The domain (schemas, their types, the template language) is the single source of truth that everything else imports; it depends on nothing of toolctl's but util.",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/(domain|util)/" },
    },
    {
      name: "util-imports-only-util",
      severity: "error",
      comment: "util holds small generic helpers used everywhere; importing anything of toolctl's would make it a hidden hub.",
      from: { path: "^src/util/" },
      to: { path: "^src/", pathNot: "^src/util/" },
    },
    {
      name: "errors-import-nothing",
      severity: "error",
      comment: "errors.ts (the error classes and the one mapping to exit codes) is imported by every part; it imports none.",
      from: { path: "^src/errors\\.ts$" },
      to: { path: "^src/" },
    },
    {
      name: "net-imports-only-errors-and-util",
      severity: "error",
      comment: "The outbound HTTP client and its SSRF guard are shared by the http runner, providers and URL imports; they know none of them.",
      from: { path: "^src/net/" },
      to: { path: "^src/", pathNot: "^src/(net|util)/|^src/errors\\.ts$" },
    },
    {
      name: "foundations-never-import-upper-layers",
      severity: "error",
      comment:
        "Dependencies point one way: domain, config, schema, net, policy, the importers, secrets and the store are below the runners, the engine, plans, the API and the front doors, and never call up (the store never imports runners).",
      from: { path: FOUNDATIONS },
      to: { path: "^src/(runners|providers|engine|plan|api|cli|ui|mcp|web)/" },
    },
    {
      name: "importers-write-nothing",
      severity: "error",
      comment: "manifest/ and openapi/ turn text into validated tools; saving them is the API's job, through the store port.",
      from: { path: "^src/(manifest|openapi)/" },
      to: { path: "^src/store/" },
    },
    {
      name: "runners-never-touch-storage",
      severity: "error",
      comment:
        "Runners and providers run one prepared request and return one result; the engine records it. They get what they need (call limits) as small ports, never the store, the config, the engine or its callers.",
      from: { path: "^src/(runners|providers)/" },
      to: { path: "^src/(store|engine|plan|api|cli|ui|config)/" },
    },
    {
      name: "only-the-api-opens-a-store",
      severity: "error",
      comment:
        "A backend (the home's SQLite registry, a team's PostgreSQL database) is chosen and opened by the API through store/open.ts, and moved between by store/transfer.ts; everything else sees the asynchronous Store port (store/port.ts), so a backend changes one place.",
      from: { path: "^src/", pathNot: "^src/(api|store)/" },
      to: { path: "^src/store/(sqlite|postgres)/|^src/store/(open|transfer)\\.ts$" },
    },
    {
      name: "engine-and-policy-never-import-views",
      severity: "error",
      comment:
        "Decisions and runs are data; how they are shown (and asked about) is the front doors' business. The engine asks a human through an interface it is handed.",
      from: { path: "^src/(engine|policy|plan)/" },
      to: { path: "^src/(ui|cli)/" },
    },
    {
      name: "views-render-values",
      severity: "error",
      comment: "ui/ renders the values the API returns; it reads engine and plan types but runs nothing, and never reaches storage or runtimes.",
      from: { path: "^src/ui/" },
      to: { path: "^src/(store|runners|providers|api|cli|secrets|manifest|openapi)/" },
    },
    {
      name: "views-import-engine-types-only",
      severity: "error",
      comment: "ui/ may name the engine's and plans' result types, never call them: a view that runs code is a second engine.",
      from: { path: "^src/ui/" },
      to: { path: "^src/(engine|plan)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "nothing-imports-the-cli",
      severity: "error",
      comment: "The CLI is a front door: nothing below it knows which door a call came through.",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "cli-only-through-the-api",
      severity: "error",
      comment:
        "src/cli parses arguments, calls the library API (src/api) and renders with ui/; it may read config, errors, util and the domain's types, start the MCP front door (src/mcp) and the approval page (src/web), and nothing below the API.",
      from: { path: "^src/cli/" },
      to: { path: "^src/", pathNot: "^src/(cli|api|ui|config|util|domain|mcp|web)/|^src/errors\\.ts$" },
    },
    {
      name: "mcp-only-through-the-api",
      severity: "error",
      comment:
        "src/mcp is a front door like the CLI: it speaks MCP and calls the library API; it may read errors, util and the domain's types, and nothing below the API.",
      from: { path: "^src/mcp/" },
      to: { path: "^src/", pathNot: "^src/(mcp|api|util|domain)/|^src/errors\\.ts$" },
    },
    {
      name: "only-the-cli-starts-the-mcp-server",
      severity: "error",
      comment: "The MCP server is started by `toolctl mcp`; nothing else knows it exists.",
      from: { path: "^src/", pathNot: "^src/(cli|mcp)/" },
      to: { path: "^src/mcp/" },
    },
    {
      name: "web-only-through-the-api",
      severity: "error",
      comment:
        "src/web (the approval page, `toolctl ui`) is a front door like the CLI: it serves HTML and calls the library API; it may read errors, util and the domain's types, and nothing below the API.",
      from: { path: "^src/web/" },
      to: { path: "^src/", pathNot: "^src/(web|api|util|domain)/|^src/errors\\.ts$" },
    },
    {
      name: "only-the-cli-starts-the-approval-page",
      severity: "error",
      comment: "The approval page is started by `toolctl ui`; nothing else knows it exists.",
      from: { path: "^src/", pathNot: "^src/(cli|web)/" },
      to: { path: "^src/web/" },
    },
    ...libraryRules,
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    // Worktrees may share one install through a node_modules symlink: keep the paths as seen from here.
    preserveSymlinks: true,
    // Type-only imports are arrows too: "runners never see the store" includes its types.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
