// Signing up (authenticator enrolment, the sign-in recovery codes, then this browser's keys
// and the key recovery code) and signing in.

import * as api from "../api";
import { ApiError } from "../api";
import * as account from "../account";
import type { SignupStarted, WebSession } from "../types";
import * as store from "../store";
import { field, form, h, notice, show, svg } from "../ui";
import { qrSvg } from "../wasm";
import { afterEnrolment } from "./device";

const WEB = { "porchlight-web": "1" };

export function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom/.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

function signInError(e: unknown): never {
  if (e instanceof ApiError) {
    if (e.code === "invalid_credentials") throw new Error("The email, password or code is not right. Check them and try again.");
    if (e.code === "throttled") {
      throw new Error(`Sign-in is paused: ${e.message}`);
    }
  }
  throw e;
}

/** What a form says when the server asks to wait: when to try again, if it said. */
export function tryAgainText(e: ApiError): string {
  const secs = e.retryAfterSecs;
  if (!secs) return "Too many tries. Try again later.";
  if (secs < 60) return `Too many tries. Try again in ${secs} seconds.`;
  const minutes = Math.ceil(secs / 60);
  return `Too many tries. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

/** A server's message as a sentence of the page ("the password needs…" → "The password needs…."). */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  return `${t[0]!.toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}

/** The password rules, as sign-up and a reset state them. */
export const PASSWORD_RULES = "At least 12 characters, and not a common one.";

/** The second factor a form asks for: an authenticator code, or a sign-in recovery code in
 * its place when asked for (sign-in, a password reset, a change of address). */
export interface SecondFactor {
  fields: HTMLElement[];
  /** The factor as the API takes it: exactly one of `totp_code` and `recovery_code`. */
  values(v: Record<string, string>): { totp_code: string } | { recovery_code: string };
}

export function secondFactor(): SecondFactor {
  const toggle = h("button", { type: "button", class: "link" }, "Use a sign-in recovery code instead");
  const codeField = field("Authenticator code", "totp_code", {
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
    required: true,
  });
  // Hidden as a whole (label and input) until asked for: a label with no field confuses.
  const recoveryField = field("Sign-in recovery code", "recovery_code", { autocomplete: "off" });
  recoveryField.hidden = true;
  toggle.addEventListener("click", () => {
    const useRecovery = codeField.hidden === false;
    codeField.hidden = useRecovery;
    recoveryField.hidden = !useRecovery;
    codeField.querySelector("input")!.required = !useRecovery;
    recoveryField.querySelector("input")!.required = useRecovery;
    toggle.textContent = useRecovery ? "Use an authenticator code instead" : "Use a sign-in recovery code instead";
  });
  return {
    fields: [codeField, recoveryField, toggle],
    values: (v) => (codeField.hidden ? { recovery_code: (v.recovery_code ?? "").trim() } : { totp_code: (v.totp_code ?? "").trim() }),
  };
}

export async function signIn(): Promise<void> {
  // Known before the form is drawn, so its fields never change under the person's hands.
  const knownBrowser = await store.hasDeviceKey();
  const factor = secondFactor();
  // A browser that is a device already keeps its name: it is asked only the first time.
  const nameField = field("Name for this browser", "device_name", { value: defaultDeviceName(), maxlength: "64" }, "Shown in your device list.");
  nameField.hidden = knownBrowser;
  show(
    "Sign in",
    form(
      "Sign in",
      "Sign in",
      [
        field("Email", "email", { type: "email", autocomplete: "username", required: true }),
        field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
        ...factor.fields,
        nameField,
      ],
      async (v) => {
        const body = { email: v.email ?? "", password: v.password ?? "", device_name: v.device_name ?? "", ...factor.values(v) };
        let session: WebSession;
        try {
          session = await api.post<WebSession>("/api/login", body, WEB);
        } catch (e) {
          signInError(e);
        }
        await account.started(session);
        await afterEnrolment(await account.enrol(v.device_name || defaultDeviceName()), v.device_name || defaultDeviceName());
      },
    ),
    h("p", {}, h("a", { href: "/forgot", "data-link": true }, "Forgot your password?")),
    h("p", {}, "New here? ", h("a", { href: "/signup", "data-link": true }, "Create an account")),
  );
}

export function signUp(): void {
  show(
    "Create an account",
    h("p", {}, "Porchlight seals your video at home. Only your own devices can open it, and signing in always takes a second factor."),
    form(
      "Create an account",
      "Continue",
      [
        field("Email", "email", { type: "email", autocomplete: "username", required: true }),
        field(
          "Password",
          "password",
          { type: "password", autocomplete: "new-password", required: true, minlength: "12" },
          PASSWORD_RULES,
        ),
      ],
      async (v) => {
        const email = (v.email ?? "").trim();
        const started = await api.post<SignupStarted>("/api/signup", { email, password: v.password });
        enrolAuthenticator(started, email);
      },
    ),
    h("p", {}, "Have an account? ", h("a", { href: "/signin", "data-link": true }, "Sign in")),
  );
}

/** The emailed sign-up code as the server takes it, or null when it cannot be one: eight of
 * `0-9a-z` as typed or pasted (any case, spaces, with or without the dash). The code never
 * holds I, L, O or U, so an O read for a zero and an I or L for a one are taken as meant. */
export function emailCode(typed: string): string | null {
  const code = typed.replace(/\s+/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  return /^[0-9A-Z]{4}-?[0-9A-Z]{4}$/.test(code) ? code : null;
}

function enrolAuthenticator(started: SignupStarted, email: string): void {
  const deviceName = defaultDeviceName();
  const mailed = started.email_code_sent === true;
  // Offered once a confirmation says the sign-up may be over (expired, or too many wrong codes).
  const again = h("p", {}, h("a", { href: "/signup", "data-link": true }, "Start again"));
  again.hidden = true;
  const emailField = mailed
    ? field(
        `The code we emailed to ${email}`,
        "email_code",
        { autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "16", required: true },
        "Eight letters and digits, like ABCD-EFGH. It can take a minute to arrive; look in spam too.",
      )
    : null;
  show(
    "Set up your authenticator",
    h("p", {}, "Scan this code with an authenticator app, then type the six-digit code it shows."),
    h("figure", { class: "qr" }, svg(qrSvg(started.otpauth_uri), "QR code for your authenticator app")),
    h("p", {}, "Or type this key into the app: ", h("code", { class: "secret", "data-testid": "totp-secret" }, started.totp_secret)),
    h(
      "section",
      { "aria-labelledby": "codes-title" },
      h("h2", { id: "codes-title" }, "Sign-in recovery codes"),
      h("p", {}, "Each signs you in once if you lose your authenticator. Keep them somewhere safe; they are shown only now."),
      h("ul", { class: "codes", "data-testid": "signin-recovery-codes" }, ...started.recovery_codes.map((c) => h("li", {}, h("code", {}, c)))),
    ),
    form(
      "Confirm your authenticator",
      "Confirm",
      [
        field("Authenticator code", "code", {
          inputmode: "numeric",
          autocomplete: "one-time-code",
          pattern: "[0-9]{6}",
          maxlength: "6",
          required: true,
        }),
        emailField,
        h("div", { class: "check" }, h("input", { type: "checkbox", id: "saved-codes", required: true }), h("label", { for: "saved-codes" }, "I have kept my recovery codes")),
      ].filter((n): n is HTMLElement => n !== null),
      async (v) => {
        const body: Record<string, string> = { enrolment_token: started.enrolment_token, code: (v.code ?? "").trim(), device_name: deviceName };
        if (mailed) {
          const code = emailCode(v.email_code ?? "");
          if (code === null) throw new Error("The emailed code has eight letters and digits, like ABCD-EFGH.");
          body.email_code = code;
        }
        let session: WebSession;
        try {
          session = await api.post<WebSession>("/api/signup/confirm", body, WEB);
        } catch (e) {
          if (e instanceof ApiError && e.code === "invalid_code") throw new Error(wrongSignupCode(started, mailed, again));
          throw e;
        }
        await account.started(session);
        await afterEnrolment(await account.enrol(deviceName), deviceName);
      },
    ),
    again,
  );
}

/** What a refused confirmation says. With an emailed code the server answers alike for a wrong
 * authenticator code, a wrong emailed code, an expired sign-up and one ended by wrong codes. */
function wrongSignupCode(started: SignupStarted, mailed: boolean, again: HTMLElement): string {
  if (Date.now() > started.expires_at_ms) {
    again.hidden = false;
    return "This sign-up has expired. Start again.";
  }
  if (!mailed) return "That code is not right. Check the time on your phone, then type the newest code.";
  again.hidden = false;
  return (
    "The authenticator code or the emailed code is not right. Check both and try again; " +
    "after too many wrong codes, or once the sign-up has expired, start again."
  );
}

export function signedOut(): void {
  show("Signed out", notice("info", "You are signed out of this browser."), h("p", {}, h("a", { href: "/signin", "data-link": true }, "Sign in again")));
}

