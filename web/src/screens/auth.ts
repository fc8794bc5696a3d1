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

export async function signIn(): Promise<void> {
  // Known before the form is drawn, so its fields never change under the person's hands.
  const knownBrowser = await store.hasDeviceKey();
  const recoveryToggle = h("button", { type: "button", class: "link" }, "Use a sign-in recovery code instead");
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
  recoveryToggle.addEventListener("click", () => {
    const useRecovery = codeField.hidden === false;
    codeField.hidden = useRecovery;
    recoveryField.hidden = !useRecovery;
    codeField.querySelector("input")!.required = !useRecovery;
    recoveryField.querySelector("input")!.required = useRecovery;
    recoveryToggle.textContent = useRecovery ? "Use an authenticator code instead" : "Use a sign-in recovery code instead";
  });
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
        codeField,
        recoveryField,
        recoveryToggle,
        nameField,
      ],
      async (v) => {
        const body: Record<string, string> = { email: v.email ?? "", password: v.password ?? "", device_name: v.device_name ?? "" };
        if (!codeField.hidden) body.totp_code = (v.totp_code ?? "").trim();
        else body.recovery_code = (v.recovery_code ?? "").trim();
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
          "At least 12 characters, and not a common one.",
        ),
      ],
      async (v) => {
        const started = await api.post<SignupStarted>("/api/signup", { email: v.email, password: v.password });
        enrolAuthenticator(started);
      },
    ),
    h("p", {}, "Have an account? ", h("a", { href: "/signin", "data-link": true }, "Sign in")),
  );
}

function enrolAuthenticator(started: SignupStarted): void {
  const deviceName = defaultDeviceName();
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
        h("div", { class: "check" }, h("input", { type: "checkbox", id: "saved-codes", required: true }), h("label", { for: "saved-codes" }, "I have kept my recovery codes")),
      ],
      async (v) => {
        let session: WebSession;
        try {
          session = await api.post<WebSession>(
            "/api/signup/confirm",
            { enrolment_token: started.enrolment_token, code: (v.code ?? "").trim(), device_name: deviceName },
            WEB,
          );
        } catch (e) {
          if (e instanceof ApiError && e.code === "invalid_code") {
            throw new Error("That code is not right. Check the time on your phone, then type the newest code.");
          }
          throw e;
        }
        await account.started(session);
        await afterEnrolment(await account.enrol(deviceName), deviceName);
      },
    ),
  );
}

export function signedOut(): void {
  show("Signed out", notice("info", "You are signed out of this browser."), h("p", {}, h("a", { href: "/signin", "data-link": true }, "Sign in again")));
}

