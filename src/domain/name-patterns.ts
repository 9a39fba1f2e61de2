/** What tools, actions and secrets may be called. Kept free of zod: the CLI checks a secret's name before it loads any schema. */
export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const ACTION_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Letters, digits and _, not starting with a digit; never `__proto__`, which no map of values can hold as a key. */
export const SECRET_NAME_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$/;
/** An entry of `toolctl mcp --allow` and config `mcp.allow`: a tool, or one action of it (`TOOL.ACTION`). */
export const ALLOW_ENTRY_PATTERN = new RegExp(`${TOOL_NAME_PATTERN.source.slice(0, -1)}(\\.${ACTION_NAME_PATTERN.source.slice(1, -1)})?$`);
/** toolctl's own settings and keys (TOOLCTL_MASTER_KEY, TOOLCTL_AUDIT_KEY, TOOLCTL_DATABASE_URL, …): never given to a tool. */
export const OWN_NAME_PATTERN = /^TOOLCTL_/;
export const OWN_NAME_PROBLEM = "is one of toolctl's own settings and keys (TOOLCTL_*), which are never given to a tool";
