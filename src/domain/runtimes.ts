/**
 * The runtimes a manifest may declare and the statuses a tool may have. Plain lists with no imports, so that
 * the command-line help and flag checks can name them without loading the manifest schema at start-up.
 */
export const runtimes = ["http", "process", "docker", "echo", "files", "database", "email", "vercel"] as const;

export const toolStatuses = ["pending", "active", "disabled", "revoked"] as const;
