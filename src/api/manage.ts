/**
 * The API's administrative half: the tool lifecycle, deciding filed approval requests, the encrypted secret
 * store and its key, and 2FA enrolment. Each method loads its module on first use, like the rest of the API.
 * What needs a person (typing a value, scanning a QR code, answering "grant these permissions?") stays with the
 * front door; the rules (who may enrol, what a CRITICAL approval needs, what is audited) live below this line.
 */
import type { Actor } from "../config/home.js";
import type { Approval, PasskeyInfo, TwoFactorStatus, VerifyContext } from "../domain/records.js";
import type { FactorProof, PasskeyAssertion, PasskeyCeremonies, WebAuthnResponse } from "../engine/passkeys.js";
import type { PendingRequest, DecideOptions } from "../engine/requests.js";
import type { Grant, GrantAnswer, Removal, Revocation, StatusChange, ToolAsks } from "../engine/tools.js";
import { EnvironmentError, NeedsHumanError, NotFoundError, PolicyError, UsageError } from "../errors.js";
import type { KeyRing } from "../secrets/crypto.js";
import type { CodeVerdict, RotateResult, SecretInfo, Store } from "../store/port.js";

export type {
  DecideOptions,
  FactorProof,
  PasskeyAssertion,
  PasskeyInfo,
  WebAuthnResponse,
  Grant,
  GrantAnswer,
  PendingRequest,
  Removal,
  Revocation,
  RotateResult,
  SecretInfo,
  StatusChange,
  ToolAsks,
};

export interface ListedSecret extends SecretInfo {
  source: "store";
  /** With `check`: whether the value decrypts with the current master key. */
  readable?: boolean;
  problem?: string;
}

export interface ApproveToolOptions {
  /**
   * Asked before anything is granted, with what the tool asks for. Anything but "yes" is audited as declined and
   * refused (exit 3; "interrupted" is exit 130). Without it, the caller has already decided (`--yes`).
   */
  confirm?: (asks: ToolAsks) => Promise<GrantAnswer>;
}

export interface ManageApi {
  /** Activates a tool (or leaves it pending when it asks for permissions nobody granted). */
  enableTool(name: string): Promise<StatusChange>;
  disableTool(name: string): Promise<StatusChange>;
  /** Removes a tool and its Docker state volume; its history stays. `warning` says when the volume could not go. */
  removeTool(name: string): Promise<Removal>;
  /** What the tool asks for beyond the defaults, as shown before a grant. */
  toolAsks(name: string): Promise<ToolAsks>;
  /** Grants what the tool asks for (after `confirm`, when given). */
  approveTool(name: string, options?: ApproveToolOptions): Promise<Grant>;
  /** Takes the grants and the state volume away; the history stays. */
  revokeTool(name: string): Promise<Revocation>;
  /** Empties a Docker tool's state volume. */
  clearToolState(name: string): Promise<Removal>;

  /** A filed approval request that can still be approved, checked against its digest. */
  pendingApproval(id: string): Promise<PendingRequest>;
  /** Approves a filed request; a CRITICAL one needs `otp` (any one does with `requireCode`). */
  approve(id: string, options?: DecideOptions): Promise<Approval>;
  /** Denies a filed request; `via` says how, for the audit log (default: "another terminal"). */
  deny(id: string, options?: Pick<DecideOptions, "via">): Promise<Approval>;

  /** Seals and stores a secret (creating the master key on first use). */
  setSecret(name: string, value: string): Promise<{ name: string; created: boolean; keyId: string }>;
  /** The stored secrets, names and key ids only; `check` also tries to decrypt each. */
  secrets(options?: { check?: boolean }): Promise<ListedSecret[]>;
  removeSecret(name: string): Promise<void>;
  /** Rotates the master key and re-seals every sealed value. */
  rotateKey(): Promise<RotateResult>;

  twoFactorStatus(): Promise<TwoFactorStatus>;
  /** Starts (or restarts) an enrolment: the secret and its otpauth URI are shown once, to the person enrolling. */
  beginTwoFactor(account: string): Promise<{ secret: string; uri: string; startedAt: string }>;
  /** Confirms a pending enrolment with a code from the authenticator. */
  confirmTwoFactor(code: string): Promise<{ enrolled: true; since: string | null }>;
  disableTwoFactor(code: string): Promise<void>;

  /** The registered passkeys, oldest first (no key material). */
  passkeys(): Promise<PasskeyInfo[]>;
  /**
   * Options for `navigator.credentials.get()` on the page at `origin` (`http://localhost:PORT`), for one purpose:
   * approving request `approve` as shown (`digest`), adding a passkey, or removing passkey `remove` (name or id).
   * The challenge is remembered by this object only, answered once, within two minutes.
   */
  passkeyChallenge(origin: string, purpose: { approve: string; digest?: string } | { add: true } | { remove: string }): Promise<Record<string, unknown>>;
  /**
   * Starts registering a passkey named `name` on the page at `origin`: the options for `navigator.credentials.create()`.
   * Once 2FA or a passkey exists, it needs `proof` (a TOTP code, or an assertion for `passkeyChallenge(origin, { add: true })`).
   */
  beginPasskeyRegistration(origin: string, name: string, proof?: FactorProof): Promise<Record<string, unknown>>;
  /** Verifies the browser's answer to `beginPasskeyRegistration` and keeps the passkey. */
  finishPasskeyRegistration(origin: string, response: WebAuthnResponse): Promise<PasskeyInfo>;
  /** Removes a passkey (by name or id), confirmed with a TOTP code or an assertion for `passkeyChallenge(origin, { remove })`. */
  removePasskey(nameOrId: string, proof: FactorProof, options?: { via?: string }): Promise<PasskeyInfo>;
}

interface Context {
  store: Store;
  home: string;
  env: NodeJS.ProcessEnv;
  actor: Actor;
}

/** A refused code as the person sees it: wrong, replayed and throttled are policy refusals (exit 3). */
export function codeRefusal(verdict: Exclude<CodeVerdict, { ok: true }>, what: string): Error {
  const retry = verdict.retryAfterSeconds ? `; too many wrong codes: try again in ${verdict.retryAfterSeconds}s` : "";
  const details = { reason: verdict.reason, retryAfterSeconds: verdict.retryAfterSeconds };
  switch (verdict.reason) {
    case "throttled":
      return new PolicyError("policy_refused", `${what}: too many wrong codes; try again in ${verdict.retryAfterSeconds}s (the code was not checked)`, details);
    case "replayed":
      return new PolicyError("policy_refused", `${what}: that code was already used; wait for the next one${retry}`, details);
    case "invalid":
      return new PolicyError("policy_refused", `${what}: wrong code${retry}`, details);
    case "not_enrolled":
      return new UsageError(`${what}: 2FA is not enrolled; run: toolctl 2fa enroll`);
  }
}

/**
 * Checks a TOTP code against the enrolled secret (a wrong one counts against the throttle); without a key ring
 * there is no enrolment to check against. Runs and approvals of filed requests both use it.
 */
export function codeVerifier(store: Store, home: string, env: NodeJS.ProcessEnv): (code: string, context: VerifyContext) => Promise<CodeVerdict> {
  return async (code, context) => {
    const ring = (await import("../secrets/crypto.js")).loadKeyRing(home, env, { create: false });
    if (ring) return store.twoFactor.verify(ring, code, Date.now(), context);
    // Enrolled (a team's database, or a home whose key went missing), but nothing here can read the secret.
    if (await store.twoFactor.isEnrolled())
      throw new EnvironmentError(
        "2FA is enrolled, but this machine has no master key to read its TOTP secret: set TOOLCTL_MASTER_KEY to the key it was sealed with (with a team database, the team's)",
      );
    return { ok: false, reason: "not_enrolled" };
  };
}

export function manageApi({ store, home, env, actor }: Context): ManageApi {
  const deps = { store, home, env, actor };
  const ring = async (create: boolean): Promise<KeyRing | undefined> => (await import("../secrets/crypto.js")).loadKeyRing(home, env, { create });
  const requireRing = async (): Promise<KeyRing> => {
    const found = await ring(false);
    if (!found) throw new EnvironmentError(`the key ring is missing (${home}/master.key or TOOLCTL_MASTER_KEY): the 2FA secret cannot be read`);
    return found;
  };
  const verifyCode = codeVerifier(store, home, env);
  const byPerson = (what: string) => {
    if (actor === "agent")
      throw new NeedsHumanError(`${what} by a person, not an agent (TOOLCTL_ACTOR=agent): the secret would be known to the agent it guards against`);
  };
  /**
   * Adding a factor takes an existing one. A passkey cannot be asked for in a terminal, so with one registered a TOTP
   * secret is not enrolled here: whoever holds the shell would otherwise get a second factor past the passkey, and
   * with it CRITICAL approvals and the passkey's removal.
   */
  const noPasskeyYet = async (): Promise<void> => {
    const registered = await store.passkeys.list();
    if (registered.length === 0) return;
    throw new NeedsHumanError(
      `2FA was not enrolled: this home has a passkey (${registered.map((p) => p.name).join(", ")}), and adding a factor takes an existing one, which a terminal cannot ask for; remove the passkey on the approval page (confirmed with it), enroll 2FA, then add the passkey again with a TOTP code`,
    );
  };

  let ceremonies: PasskeyCeremonies | undefined;
  const passkeys = async (): Promise<PasskeyCeremonies> =>
    (ceremonies ??= new (await import("../engine/passkeys.js")).PasskeyCeremonies({ store, actor, verifyCode }));
  const tools = () => import("../engine/tools.js");
  const requests = () => import("../engine/requests.js");
  const normalized = async (code: string) => {
    const { isWellFormedCode, normalizeCode, OTP_DIGITS } = await import("../policy/otp-code.js");
    if (!isWellFormedCode(code)) throw new UsageError(`expected the ${OTP_DIGITS}-digit code from your authenticator app, got ${JSON.stringify(code)}`);
    return normalizeCode(code);
  };

  return {
    enableTool: async (name) => (await tools()).setToolEnabled(deps, name, true),
    disableTool: async (name) => (await tools()).setToolEnabled(deps, name, false),
    removeTool: async (name) => (await tools()).removeTool(deps, name),
    toolAsks: async (name) => (await tools()).toolAsks(store, name),
    async approveTool(name, options = {}) {
      const { toolAsks, declineGrant, grantTool } = await tools();
      const asks = await toolAsks(store, name);
      if (options.confirm) {
        const answer = await options.confirm(asks);
        if (answer !== "yes") await declineGrant(deps, asks.tool, answer);
      }
      return grantTool(deps, name, asks.tool.digest);
    },
    revokeTool: async (name) => (await tools()).revokeTool(deps, name),
    clearToolState: async (name) => (await tools()).clearToolState(deps, name),

    pendingApproval: async (id) => (await requests()).pendingRequest(store, id),
    approve: async (id, options) => (await requests()).approveRequest({ store, actor, verifyCode, passkeys }, id, options),
    deny: async (id, options) => (await requests()).denyRequest({ store, actor }, id, options),

    async setSecret(name, value) {
      const { setSecret } = await import("../secrets/store.js");
      // The first secret makes the master key (unless TOOLCTL_MASTER_KEY is set).
      const result = await setSecret(store, home, (await ring(true))!, name, value, actor);
      return { name, ...result };
    },
    async secrets(options = {}) {
      const rows: ListedSecret[] = (await store.secrets.list()).map((row) => ({ ...row, source: "store" as const }));
      if (!options.check || rows.length === 0) return rows;
      let found: KeyRing | undefined;
      try {
        found = await ring(false);
      } catch (error) {
        return rows.map((row) => ({ ...row, readable: false, problem: (error as Error).message }));
      }
      if (!found) return rows.map((row) => ({ ...row, readable: false, problem: "no master key: master.key is missing and TOOLCTL_MASTER_KEY is not set" }));
      const { getSecret } = await import("../secrets/store.js");
      const checked: ListedSecret[] = [];
      for (const row of rows) {
        try {
          await getSecret(store, home, found, row.name);
          checked.push({ ...row, readable: true });
        } catch (error) {
          checked.push({ ...row, readable: false, problem: (error as Error).message });
        }
      }
      return checked;
    },
    async removeSecret(name) {
      // A name no secret can have is a typo to say as one, not a missing secret.
      (await import("../secrets/names.js")).assertSecretName(name);
      if (await store.secrets.remove(name, actor)) return;
      const { didYouMean } = await import("../util/suggest.js");
      const names = (await store.secrets.list()).map((secret) => secret.name);
      throw new NotFoundError(`no secret '${name}' in the encrypted store${didYouMean(name, names)}; see: toolctl secret list`);
    },
    rotateKey: () => store.secrets.rotateKey(home, env, { actor }),

    twoFactorStatus: () => store.twoFactor.status(),
    async beginTwoFactor(account) {
      byPerson("2FA must be enrolled");
      await noPasskeyYet();
      const { otpauthUri } = await import("../policy/totp.js");
      const { secret, startedAt } = await store.twoFactor.begin((await ring(true))!, actor);
      return { secret, startedAt, uri: otpauthUri(secret, account, "toolctl") };
    },
    async confirmTwoFactor(code) {
      byPerson("2FA must be enrolled");
      const checked = await normalized(code);
      const status = await store.twoFactor.status();
      if (status.enrolled) throw new PolicyError("policy_refused", "2FA is already enrolled; disable it first (toolctl 2fa disable)");
      if (!status.pending) throw new UsageError("no 2FA enrolment is pending; start one with: toolctl 2fa enroll");
      await noPasskeyYet();
      const verdict = await store.twoFactor.confirm(await requireRing(), checked, Date.now(), actor);
      if (!verdict.ok) throw codeRefusal(verdict, "2FA enrolment not confirmed");
      return { enrolled: true, since: (await store.twoFactor.status()).since };
    },
    async disableTwoFactor(code) {
      const checked = await normalized(code);
      const verdict = await store.twoFactor.disable(await requireRing(), checked, Date.now(), actor);
      if (!verdict.ok) throw codeRefusal(verdict, "2FA not disabled");
    },

    passkeys: async () => (await passkeys()).list(),
    async passkeyChallenge(origin, purpose) {
      const ceremonies = await passkeys();
      if ("approve" in purpose) {
        const approval = await (await requests()).pendingRequest(store, purpose.approve);
        if (purpose.digest !== undefined && purpose.digest !== approval.digest) {
          throw new PolicyError("policy_refused", `approval request ${approval.id} changed while it was being decided: look at it again`);
        }
        return ceremonies.assertionOptions(origin, { kind: "approve", approvalId: approval.id, digest: approval.digest });
      }
      if ("remove" in purpose) {
        const found = (await ceremonies.list()).find((passkey) => passkey.name === purpose.remove || passkey.id === purpose.remove);
        if (!found) throw new UsageError(`no passkey named '${purpose.remove}'; see: toolctl 2fa status`);
        return ceremonies.assertionOptions(origin, { kind: "remove", passkey: found.id });
      }
      return ceremonies.assertionOptions(origin, { kind: "add" });
    },
    beginPasskeyRegistration: async (origin, name, proof) => (await passkeys()).beginRegistration(origin, name, proof),
    finishPasskeyRegistration: async (origin, response) => (await passkeys()).finishRegistration(origin, response),
    removePasskey: async (nameOrId, proof, options = {}) => (await passkeys()).remove(nameOrId, proof, options.via ?? "the command line"),
  };
}
