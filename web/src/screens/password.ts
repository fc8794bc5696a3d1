// A forgotten password: asking for a reset link (`/forgot`), and the page the emailed link
// opens (`/reset#token=…`), where a new password is set with the second factor as well — the
// email alone opens nothing. Also what the emailed-link screens share: the token taken out of
// the address bar at once, a field to paste it when the page was opened without one, and a
// browser whose session the server has just ended.

import * as api from "../api";
import { ApiError } from "../api";
import * as account from "../account";
import * as events from "../events";
import type { MailAccepted, PasswordResetDone } from "../types";
import { field, form, h, notice, show } from "../ui";
import { PASSWORD_RULES, secondFactor, sentence, tryAgainText } from "./auth";

/** The token of an emailed link (`#token=…`), removed from the address bar and the history
 * entry before anything else is drawn, so it is not left for the next person at this screen
 * or in a screenshot. Null when the page was opened without one. */
export function takeToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);
  return token && token.trim() ? token.trim() : null;
}

/** The field for the code printed in the email under its link, when the page was opened
 * without one (a link copied without its end, or typed). */
export function tokenField(): HTMLElement {
  return field(
    "Code from the email",
    "token",
    { autocomplete: "off", spellcheck: "false", autocapitalize: "none", required: true },
    "The email has a link and, under it, a code. Paste the code here.",
  );
}

/** A pasted code as the server takes it: the code alone, or the link it came in, or the line
 * "Code: …" as the email prints it. */
export function pastedToken(typed: string): string {
  const text = typed.trim();
  const inLink = /#token=([A-Za-z0-9_-]+)/.exec(text);
  if (inLink) return inLink[1]!;
  return text.replace(/^code:\s*/i, "").replace(/\s+/g, "");
}

/** After a change that ends every session of an account: if it was this browser's account
 * (its session no longer answers), forget the session here and take away the navigation, none
 * of which works any more. A browser signed in to another account stays as it is. */
export async function sessionEndedHere(): Promise<void> {
  if (!account.signedIn()) return;
  if (await account.resume().catch(() => null)) return;
  events.stop();
  await account.ended();
  document.getElementById("nav")?.replaceChildren();
}

const MAIL_OFF_RESET = "This Porchlight server can't send email, so a password can't be reset here. Ask whoever runs it.";

export function forgot(): void {
  show(
    "Reset your password",
    h(
      "p",
      {},
      "Type the email address of your account. We'll send it a link to choose a new password. You will still need your authenticator, or a sign-in recovery code.",
    ),
    form(
      "Ask for a reset link",
      "Send reset link",
      [field("Email", "email", { type: "email", autocomplete: "username", required: true })],
      async (v) => {
        try {
          await api.post<MailAccepted>("/api/password/forgot", { email: (v.email ?? "").trim() });
        } catch (e) {
          throw new Error(forgotError(e));
        }
        show(
          "Check your email",
          notice("info", "If an account uses that address, we've sent it a link to reset the password. It works for 30 minutes."),
          h("p", {}, "Nothing after a few minutes? Look in spam, or ", h("a", { href: "/forgot", "data-link": true }, "ask again"), "."),
          h("p", {}, h("a", { href: "/signin", "data-link": true }, "Back to sign in")),
        );
      },
    ),
    h("p", {}, h("a", { href: "/signin", "data-link": true }, "Back to sign in")),
  );
}

function forgotError(e: unknown): string {
  if (!(e instanceof ApiError)) throw e;
  if (e.code === "mail_off") return MAIL_OFF_RESET;
  if (e.code === "invalid_email") return "That is not an email address. Check it and try again.";
  if (e.code === "throttled") return tryAgainText(e);
  return e.message;
}

export function reset(): void {
  const token = takeToken();
  const factor = secondFactor();
  const pasted = token === null ? tokenField() : null;
  show(
    "Choose a new password",
    h("p", {}, "A reset link alone does not open your account: type the code your authenticator shows as well, or use a sign-in recovery code."),
    form(
      "Choose a new password",
      "Change password",
      [
        pasted,
        field("New password", "new_password", { type: "password", autocomplete: "new-password", required: true, minlength: "12" }, PASSWORD_RULES),
        ...factor.fields,
      ].filter((n): n is HTMLElement => n !== null),
      async (v) => {
        const body = { token: token ?? pastedToken(v.token ?? ""), new_password: v.new_password ?? "", ...factor.values(v) };
        try {
          await api.post<PasswordResetDone>("/api/password/reset", body);
        } catch (e) {
          if (e instanceof ApiError && e.code === "invalid_code") {
            // A pasted code may only be mistyped: the form stays for another try.
            if (token === null) throw new Error("That code from the email is not right, or it expired or was already used. Check it, or ask for a new link.");
            return linkSpent();
          }
          throw new Error(resetError(e));
        }
        await sessionEndedHere();
        show(
          "Password changed",
          notice("info", "Your password is changed. Every device was signed out; sign in with the new password."),
          h("p", {}, h("a", { href: "/signin", "data-link": true }, "Sign in")),
        );
      },
    ),
    h("p", {}, "Link not working? ", h("a", { href: "/forgot", "data-link": true }, "Ask for a new one")),
  );
}

function resetError(e: unknown): string {
  if (!(e instanceof ApiError)) throw e;
  if (e.code === "invalid_credentials") return "That code is not right. Your password is unchanged, and the link works until it expires: try the code your authenticator shows now.";
  if (e.code === "weak_password") return sentence(e.message);
  if (e.code === "throttled") return tryAgainText(e);
  return e.message;
}

/** The token is wrong, used or past its 30 minutes: the form can do nothing more. */
function linkSpent(): void {
  show(
    "Link expired",
    notice("warning", "This reset link has expired or was already used. Ask for a new one."),
    h("p", {}, h("a", { href: "/forgot", "data-link": true }, "Ask for a new reset link")),
  );
}
