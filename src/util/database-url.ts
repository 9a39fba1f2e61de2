/**
 * A team database's URL as toolctl shows it: never with its password. `postgres://ci:s3cret@db/team?sslmode=require`
 * is shown as `postgres://ci@db/team?sslmode=require`.
 */
const SECRET_PARAMETER = /pass|secret|key$/i;

export function isPostgresUrl(text: string): boolean {
  if (!/^postgres(ql)?:\/\//i.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    for (const key of [...parsed.searchParams.keys()]) if (SECRET_PARAMETER.test(key)) parsed.searchParams.delete(key);
    return parsed.toString();
  } catch {
    return "(a database URL that cannot be parsed)";
  }
}
