/**
 * Which secrets a tool's actions name. Kept apart from load.ts, which parses and checks manifests, because every
 * run asks it and should not load the manifest parser to do so.
 */
import type { Manifest } from "../domain/manifest.js";
import { collectRefs } from "../domain/template.js";

/** The secret an auth names, unless it may be left unset. */
function authSecret(auth: Manifest["auth"]): string[] {
  if (auth.type === "none" || (auth.type === "basic" && auth.passwordOptional)) return [];
  return [auth.secret];
}

/**
 * The secrets runs of these actions need: the auth each sends (its own, or the tool's), the templates of the
 * tool's auth and headers and of the actions, and signing keys. A run resolves only these, so an action
 * that sends no credentials, or other ones, needs no secret it does not use.
 */
export function actionSecrets(tool: Pick<Manifest, "auth" | "http">, actions: Array<Manifest["actions"][string]>): string[] {
  const names = new Set<string>();
  const auths = actions.map((action) => action.auth ?? tool.auth);
  for (const auth of auths) for (const name of authSecret(auth)) names.add(name);
  const refs = collectRefs([auths, tool.http?.headers, actions.map((a) => [a.request, a.command, a.env])]);
  for (const ref of refs) if (ref.root === "secrets") names.add(ref.path.split(".")[1]!);
  for (const action of actions) if (action.request?.sign) names.add(action.request.sign.secret);
  return [...names].sort();
}
