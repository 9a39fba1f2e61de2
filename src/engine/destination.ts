/**
 * Where a prepared action goes, in one line for its approver: the method and URL, the image and command, the
 * program and its arguments, or what a built-in does. Read from the redacted description a dry run shows, so
 * it never carries a secret, and hashed into the approval with the rest of the request.
 */
export function destinationOf(plan: Record<string, unknown>): string {
  switch (plan.runtime) {
    case "http":
      return `${plan.method} ${plan.url}`;
    case "docker":
      return `image ${plan.image}, command ${typeof plan.command === "string" ? plan.command : JSON.stringify(plan.command)}`;
    case "process":
      return `program ${JSON.stringify(plan.argv)} in ${plan.cwd}`;
    default:
      return `${plan.runtime}: ${plan.summary ?? (plan.returns !== undefined ? `returns ${plan.returns}` : `a ${plan.operation ?? "built-in"} operation`)}`;
  }
}
