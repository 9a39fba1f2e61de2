/**
 * Where a prepared action goes, in one line for its approver: the method and URL, the image and command, the
 * program and its arguments, or what a built-in does. Read from the redacted description a dry run shows, so
 * it never carries a secret, and hashed into the approval with the rest of the request.
 */
export function destinationOf(request: Record<string, unknown>): string {
  switch (request.runtime) {
    case "http":
      return `${request.method} ${request.url}`;
    case "docker":
      return `image ${request.image}, command ${typeof request.command === "string" ? request.command : JSON.stringify(request.command)}`;
    case "process":
      return `program ${JSON.stringify(request.argv)} in ${request.cwd}`;
    default:
      return `${request.runtime}: ${request.summary ?? (request.returns !== undefined ? `returns ${request.returns}` : `a ${request.operation ?? "built-in"} operation`)}`;
  }
}
