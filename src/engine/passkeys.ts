/**
 * Passkey ceremonies: registering a passkey, removing one, and proving a person is there with one (to approve a
 * filed request, or to confirm adding or removing a passkey). The checks are policy/passkey.ts's; this module
 * chooses the challenges and remembers them, in memory, in the process that asked for them:
 *
 * - each challenge serves one purpose only (approve request X, remove passkey Y, add a passkey, register);
 * - an approval's challenge is a random nonce followed by SHA-256(approval id ‖ digest): an assertion made for it
 *   proves the person approved that request as it was shown, and cannot be replayed onto another one;
 * - a challenge is used up by the first attempt to answer it, right or wrong, and lapses after CHALLENGE_TTL_MS;
 *   asking again for the same purpose replaces it.
 *
 * So nothing outside this process can answer a challenge it did not see, and nothing here accepts a passkey
 * without an assertion that verifies against one of them: there is no way to say "a passkey was used" without
 * handing over the assertion itself. Every refusal is audited as `2fa.passkey_refused`, every success as
 * `2fa.passkey_verified`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import os from "node:os";
import type { Actor } from "../config/home.js";
import type { Passkey, PasskeyInfo, VerifyContext } from "../domain/records.js";
import { NeedsHumanError, PolicyError, UsageError } from "../errors.js";
import type { WebAuthnResponse } from "../policy/passkey.js";
import { describeCodeRefusal, isWellFormedCode, normalizeCode, OTP_DIGITS } from "../policy/otp-code.js";
import type { CodeVerdict, Store } from "../store/port.js";

export type { WebAuthnResponse };

/** How long a challenge can be answered: the browser's own timeout (60 s) and some slack. */
export const CHALLENGE_TTL_MS = 2 * 60_000;
/** Open challenges kept at most; the oldest is dropped first. */
const MAX_OPEN = 64;
const NONCE_BYTES = 32;
/** A passkey's name: what `2fa status` lists and `2fa passkey rm` takes. */
export const PASSKEY_NAME = /^[\w][\w .@+-]{0,63}$/;

/** An assertion made on a page, and the page's origin (`http://localhost:PORT`), which the browser signed. */
export interface PasskeyAssertion {
  origin: string;
  response: WebAuthnResponse;
}

/** What confirms adding or removing a passkey: a TOTP code, or an assertion with a registered passkey. */
export type FactorProof = { otp: string } | { passkey: PasskeyAssertion };

/** What a challenge is for. */
export type PasskeyPurpose = { kind: "approve"; approvalId: string; digest: string } | { kind: "add" } | { kind: "remove"; passkey: string };

export interface PasskeyDeps {
  store: Store;
  actor: Actor;
  verifyCode(code: string, context: VerifyContext): Promise<CodeVerdict>;
}

interface Open {
  challenge: Buffer;
  origin: string;
  expiresAt: number;
  /** For a registration: the name it will be kept under. */
  name?: string;
  /** For a registration: begun with no second factor to prove (the first one), so it needed no proof. */
  unproved?: boolean;
}

const keyOf = (purpose: PasskeyPurpose | { kind: "register" }): string =>
  purpose.kind === "approve" ? `approve:${purpose.approvalId}` : purpose.kind === "remove" ? `remove:${purpose.passkey}` : purpose.kind;

/** What the challenge's second half binds it to. */
function bindingOf(purpose: PasskeyPurpose | { kind: "register" }): Buffer {
  const bound = purpose.kind === "approve" ? `${purpose.approvalId}${purpose.digest}` : purpose.kind === "remove" ? `remove ${purpose.passkey}` : purpose.kind;
  return createHash("sha256").update(bound).digest();
}

const describe = (purpose: PasskeyPurpose): string =>
  purpose.kind === "approve" ? `${purpose.approvalId} was not approved` : purpose.kind === "add" ? "the passkey was not added" : "the passkey was not removed";

/** The page's origin, as a relying party: passkeys work at http://localhost:PORT, not at an IP address. */
async function rpIdFor(origin: string): Promise<string> {
  const rpId = (await import("../policy/passkey.js")).rpIdOf(origin);
  if (!rpId) throw new UsageError(`passkeys work on a page at http://localhost:PORT, not at ${origin}: WebAuthn refuses IP addresses`);
  return rpId;
}

export class PasskeyCeremonies {
  private readonly open = new Map<string, Open>();

  constructor(
    private readonly deps: PasskeyDeps,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<PasskeyInfo[]> {
    return (await this.deps.store.passkeys.list()).map(({ id, name, transports, createdAt, lastUsedAt }) => ({ id, name, transports, createdAt, lastUsedAt }));
  }

  /** Options for `navigator.credentials.get()` for one purpose; needs a registered passkey. */
  async assertionOptions(origin: string, purpose: PasskeyPurpose): Promise<Record<string, unknown>> {
    const rpId = await rpIdFor(origin);
    const passkeys = await this.deps.store.passkeys.list();
    if (passkeys.length === 0) throw new UsageError(`${describe(purpose)}: no passkey is registered; add one with: toolctl 2fa enroll --passkey`);
    const challenge = this.remember(purpose, origin);
    return (await import("../policy/passkey.js")).assertionOptions({ rpId, challenge, allow: passkeys });
  }

  /**
   * Checks an assertion for `purpose` against the challenge asked for it (used up now, whatever the outcome) and
   * the registered passkey that made it, then records the use (the counter must move forward). The passkey used.
   */
  async verify(purpose: PasskeyPurpose, assertion: PasskeyAssertion | undefined, context: Partial<VerifyContext> = {}): Promise<Passkey> {
    const what = describe(purpose);
    const open = this.take(keyOf(purpose));
    const refused = async (reason: string, passkey?: Passkey): Promise<never> => {
      await this.audit("2fa.passkey_refused", "refused", purpose, context, { reason, ...(passkey ? { passkey: passkey.id, name: passkey.name } : {}) });
      throw new PolicyError("policy_refused", `${what}: the passkey was refused: ${reason}`, { reason });
    };
    if (!assertion || typeof assertion.response !== "object" || assertion.response === null) {
      throw new UsageError(`${what}: approving here needs your passkey (no assertion was sent)`);
    }
    const passkeyChecks = await import("../policy/passkey.js");
    const id = passkeyChecks.credentialIdOf(assertion.response);
    if (!open) return refused("no passkey challenge is open for it (each one is answered once, within two minutes): try again");
    if (open.origin !== assertion.origin) return refused(`it was asked for on ${open.origin}, not ${assertion.origin}`);
    if (!timingSafeEqual(open.challenge.subarray(NONCE_BYTES), bindingOf(purpose))) {
      return refused("the challenge was for another request, or for this one as it was before it changed");
    }
    const passkey = id === undefined ? undefined : (await this.deps.store.passkeys.list()).find((candidate) => candidate.id === id);
    if (!passkey) return refused(id === undefined ? "not a WebAuthn assertion" : "not a registered passkey");
    const checked = await passkeyChecks.checkAssertion(assertion.response, {
      challenge: open.challenge,
      origin: open.origin,
      rpId: await rpIdFor(open.origin),
      passkey,
    });
    if (!checked.ok) return refused(checked.reason, passkey);
    const used = await this.deps.store.passkeys.recordUse(passkey.id, checked.value.counter, this.now());
    if (!used.ok) return refused(used.reason, passkey);
    await this.audit("2fa.passkey_verified", "ok", purpose, context, { passkey: passkey.id, name: passkey.name });
    return used.passkey;
  }

  /**
   * Starts registering a passkey named `name`: the options for `navigator.credentials.create()`. Once any second
   * factor exists (TOTP, or a passkey), adding another needs one of them (`proof`): else whoever reached the page
   * could add an authenticator of their own and approve with it.
   */
  async beginRegistration(origin: string, name: string, proof?: FactorProof): Promise<Record<string, unknown>> {
    this.byPerson();
    const rpId = await rpIdFor(origin);
    const trimmed = name.trim();
    if (!PASSKEY_NAME.test(trimmed)) {
      throw new UsageError(`a passkey's name is 1 to 64 letters, digits, spaces or . @ + - _ (starting with a letter or digit), got ${JSON.stringify(name)}`);
    }
    const passkeys = await this.deps.store.passkeys.list();
    if (passkeys.some((passkey) => passkey.name === trimmed)) throw new UsageError(`a passkey named '${trimmed}' is already registered: choose another name`);
    const totp = await this.deps.store.twoFactor.isEnrolled();
    const unproved = passkeys.length === 0 && !totp;
    if (!unproved) {
      if (!proof) {
        throw new NeedsHumanError(
          `the passkey was not added: adding one needs ${passkeys.length > 0 ? "one of your passkeys" : ""}${passkeys.length > 0 && totp ? " or " : ""}${totp ? "a TOTP code" : ""}`,
        );
      }
      await this.prove({ kind: "add" }, proof, "passkey-add");
    }
    const challenge = this.remember({ kind: "register" }, origin, trimmed, unproved);
    const userId = createHash("sha256").update(`toolctl passkey user\n${this.deps.store.location}`).digest().subarray(0, 16);
    return (await import("../policy/passkey.js")).registrationOptions({ rpId, challenge, userId, userName: accountLabel(), exclude: passkeys });
  }

  /** Finishes a registration begun here: the new passkey, kept under the name given then (`2fa.passkey_added`). */
  async finishRegistration(origin: string, response: WebAuthnResponse): Promise<PasskeyInfo> {
    this.byPerson();
    const open = this.take("register");
    const refused = async (reason: string): Promise<never> => {
      await this.audit("2fa.passkey_refused", "refused", { kind: "add" }, {}, { reason, stage: "registration" });
      throw new PolicyError("policy_refused", `the passkey was not added: ${reason}`, { reason });
    };
    if (!open) return refused("no registration is open (each one is finished once, within two minutes): start again");
    if (open.origin !== origin) return refused(`it was started on ${open.origin}, not ${origin}`);
    // Begun unproved as the first factor: once a factor exists, it would add one without proof of it.
    if (open.unproved && ((await this.deps.store.passkeys.list()).length > 0 || (await this.deps.store.twoFactor.isEnrolled())))
      return refused("a second factor was set up after this registration began without one: start again, confirming it with a TOTP code or a passkey");
    const checks = await import("../policy/passkey.js");
    const checked = await checks.checkRegistration(response, { challenge: open.challenge, origin, rpId: await rpIdFor(origin) });
    if (!checked.ok) return refused(checked.reason);
    const added = await this.deps.store.passkeys.add({ ...checked.value, name: open.name! }, this.deps.actor);
    if (!added.ok) return refused(added.reason);
    const { id, name, transports, createdAt, lastUsedAt } = added.passkey;
    return { id, name, transports, createdAt, lastUsedAt };
  }

  /** Removes a passkey by name or id, confirmed by a TOTP code or a passkey assertion (`2fa.passkey_removed`). */
  async remove(nameOrId: string, proof: FactorProof, via: string): Promise<PasskeyInfo> {
    const passkeys = await this.deps.store.passkeys.list();
    const found = passkeys.find((passkey) => passkey.name === nameOrId) ?? passkeys.find((passkey) => passkey.id === nameOrId);
    if (!found) {
      const names = passkeys.map((passkey) => passkey.name);
      throw new UsageError(`no passkey named '${nameOrId}'${names.length ? ` (registered: ${names.join(", ")})` : ""}; see: toolctl 2fa status`);
    }
    const how = await this.prove({ kind: "remove", passkey: found.id }, proof, "passkey-remove");
    const removed = await this.deps.store.passkeys.remove(found.id, this.deps.actor, `${via} with ${how}`);
    if (!removed) throw new UsageError(`the passkey '${found.name}' was removed meanwhile`);
    const { id, name, transports, createdAt, lastUsedAt } = removed;
    return { id, name, transports, createdAt, lastUsedAt };
  }

  /** Checks a proof for `purpose`; how it was proved ("TOTP", "passkey NAME"). */
  private async prove(purpose: PasskeyPurpose, proof: FactorProof, codePurpose: VerifyContext["purpose"]): Promise<string> {
    if ("passkey" in proof) return `passkey ${(await this.verify(purpose, proof.passkey)).name}`;
    if (!isWellFormedCode(proof.otp)) throw new UsageError(`${describe(purpose)}: a TOTP code is ${OTP_DIGITS} digits`);
    const verdict = await this.deps.verifyCode(normalizeCode(proof.otp), { actor: this.deps.actor, purpose: codePurpose });
    if (!verdict.ok)
      throw new PolicyError("policy_refused", `${describe(purpose)}: ${describeCodeRefusal(verdict.reason, verdict.retryAfterSeconds)}`, verdict);
    return "TOTP";
  }

  private byPerson(): void {
    if (this.deps.actor === "agent") {
      throw new NeedsHumanError("passkeys are added by a person, not an agent (TOOLCTL_ACTOR=agent): the factor would belong to the agent it guards against");
    }
  }

  private remember(purpose: PasskeyPurpose | { kind: "register" }, origin: string, name?: string, unproved?: boolean): Buffer {
    const now = this.now();
    for (const [key, open] of this.open) if (open.expiresAt <= now) this.open.delete(key);
    const key = keyOf(purpose);
    this.open.delete(key);
    while (this.open.size >= MAX_OPEN) this.open.delete(this.open.keys().next().value!);
    const challenge = Buffer.concat([randomBytes(NONCE_BYTES), bindingOf(purpose)]);
    this.open.set(key, { challenge, origin, expiresAt: now + CHALLENGE_TTL_MS, name, unproved });
    return challenge;
  }

  /** The open challenge for `key`, removed: it is answered once. */
  private take(key: string): Open | undefined {
    const open = this.open.get(key);
    this.open.delete(key);
    return open && open.expiresAt > this.now() ? open : undefined;
  }

  private async audit(type: string, status: string, purpose: PasskeyPurpose, context: Partial<VerifyContext>, data: Record<string, unknown>): Promise<void> {
    await this.deps.store.audit.append({
      type,
      actor: this.deps.actor,
      tool: context.tool,
      action: context.action,
      status,
      data: { purpose: purpose.kind, ...(purpose.kind === "approve" ? { approvalId: purpose.approvalId } : {}), ...data },
    });
  }
}

function accountLabel(): string {
  let user = "user";
  try {
    user = os.userInfo().username || user;
  } catch {
    // No passwd entry (some containers): the name is only shown by the authenticator.
  }
  return `toolctl (${user}@${os.hostname()})`;
}
