/**
 * The WebAuthn checks for passkeys, through @simplewebauthn/server (no hand-written CBOR or signature code): the
 * options a browser is handed for `navigator.credentials.create()` and `.get()`, and the verification of what it
 * sends back. Pure decisions over values: the challenges are chosen and remembered by the caller
 * (engine/passkeys.ts), the credentials are kept by the store as data. User verification (a PIN, a fingerprint)
 * is always required, so a passkey proves a person was there, not only that a key was plugged in.
 *
 * The relying party is the page's host. WebAuthn takes a domain as RP ID, never an IP address, and a plain-http
 * origin only on `localhost`: the approval page is therefore used at `http://localhost:PORT` for passkeys.
 */
import type { Passkey } from "../domain/records.js";

/** The relying party's name, shown by some authenticators. */
export const RP_NAME = "toolctl";
/** How long the browser waits for the authenticator (ms). */
export const CEREMONY_TIMEOUT_MS = 60_000;

/** The JSON a browser sends back (`startRegistration()` / `startAuthentication()` of @simplewebauthn/browser). */
export type WebAuthnResponse = Record<string, unknown>;

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const library = () => import("@simplewebauthn/server");

/**
 * The RP ID for a page's origin: its host when WebAuthn accepts it there (`localhost`, or a domain over https);
 * undefined for an IP address or any other plain-http host, where browsers refuse passkeys.
 */
export function rpIdOf(origin: string): string | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  const host = url.hostname.toLowerCase();
  if (url.protocol === "http:") return host === "localhost" ? host : undefined;
  if (url.protocol !== "https:" || host.startsWith("[") || /^[\d.]+$/.test(host)) return undefined;
  return host;
}

/** A response as JSON of the right general shape (the library checks the rest), with its credential id. */
export function credentialIdOf(response: unknown): string | undefined {
  if (typeof response !== "object" || response === null || Array.isArray(response)) return undefined;
  const { id, type } = response as Record<string, unknown>;
  return typeof id === "string" && /^[\w-]{1,1366}$/.test(id) && type === "public-key" ? id : undefined;
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

/** Options for `navigator.credentials.create()`: a resident key on an authenticator that verifies its user. */
export async function registrationOptions(input: {
  rpId: string;
  challenge: Uint8Array;
  userId: Uint8Array;
  userName: string;
  /** Already registered: an authenticator holding one of these is not registered twice. */
  exclude: Passkey[];
}): Promise<Record<string, unknown>> {
  const { generateRegistrationOptions } = await library();
  const options = await generateRegistrationOptions({
    rpName: RP_NAME,
    rpID: input.rpId,
    userName: input.userName,
    userID: new Uint8Array(input.userId),
    userDisplayName: input.userName,
    challenge: new Uint8Array(input.challenge),
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: "none",
    excludeCredentials: input.exclude.map((passkey) => ({ id: passkey.id, transports: passkey.transports })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
  });
  return options as unknown as Record<string, unknown>;
}

/** Checks a registration against the challenge, origin and RP ID it was made for; the credential to keep. */
export async function checkRegistration(
  response: unknown,
  expected: { challenge: Uint8Array; origin: string; rpId: string },
): Promise<Checked<{ id: string; publicKey: string; counter: number; transports: string[] }>> {
  if (credentialIdOf(response) === undefined) return { ok: false, reason: "not a WebAuthn registration response" };
  const { verifyRegistrationResponse } = await library();
  try {
    const verified = await verifyRegistrationResponse({
      response: response as never,
      expectedChallenge: base64url(expected.challenge),
      expectedOrigin: expected.origin,
      expectedRPID: expected.rpId,
      requireUserVerification: true,
    });
    if (!verified.verified) return { ok: false, reason: "the registration could not be verified" };
    const { credential } = verified.registrationInfo;
    return {
      ok: true,
      value: { id: credential.id, publicKey: base64url(credential.publicKey), counter: credential.counter, transports: [...(credential.transports ?? [])] },
    };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

/** Options for `navigator.credentials.get()`, offering the registered passkeys. */
export async function assertionOptions(input: { rpId: string; challenge: Uint8Array; allow: Passkey[] }): Promise<Record<string, unknown>> {
  const { generateAuthenticationOptions } = await library();
  const options = await generateAuthenticationOptions({
    rpID: input.rpId,
    challenge: new Uint8Array(input.challenge),
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: "required",
    allowCredentials: input.allow.map((passkey) => ({ id: passkey.id, transports: passkey.transports })),
  });
  return options as unknown as Record<string, unknown>;
}

/**
 * Checks an assertion made with `passkey` against the challenge, origin and RP ID it was asked for, with user
 * verification; the authenticator's new signature counter (the caller checks that it moved forward).
 */
export async function checkAssertion(
  response: unknown,
  expected: { challenge: Uint8Array; origin: string; rpId: string; passkey: Passkey },
): Promise<Checked<{ counter: number }>> {
  if (credentialIdOf(response) !== expected.passkey.id) return { ok: false, reason: "the assertion is not from this passkey" };
  const { verifyAuthenticationResponse } = await library();
  try {
    const verified = await verifyAuthenticationResponse({
      response: response as never,
      expectedChallenge: base64url(expected.challenge),
      expectedOrigin: expected.origin,
      expectedRPID: expected.rpId,
      credential: {
        id: expected.passkey.id,
        publicKey: new Uint8Array(Buffer.from(expected.passkey.publicKey, "base64url")),
        counter: expected.passkey.counter,
        transports: expected.passkey.transports as never,
      },
      requireUserVerification: true,
    });
    if (!verified.verified) return { ok: false, reason: "the signature does not verify" };
    return { ok: true, value: { counter: verified.authenticationInfo.newCounter } };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

/** What the library found wrong, in a few words (its messages quote the values back, which are not shown). */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/challenge/i.test(message)) return "it was signed for another challenge";
  if (/origin/i.test(message)) return "it was made on another origin";
  if (/RP ?ID/i.test(message)) return "it was made for another relying party";
  if (/user could not be verified|user verification|not verified/i.test(message)) return "the authenticator did not verify its user";
  if (/user presen|not present/i.test(message)) return "nobody touched the authenticator";
  if (/counter/i.test(message)) return "the signature counter went backwards";
  if (/response type/i.test(message)) return "it is not the kind of response asked for";
  if (/signature/i.test(message)) return "the signature does not verify";
  return (message.split(/\.\s|\n/)[0] ?? "").replace(/"[^"]*"/g, "…").slice(0, 120) || "the response could not be verified";
}
