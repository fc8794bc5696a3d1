// The account's email address: shown under Settings with whether it is verified, changed
// there (the password and the second factor, then a link to the new address), and the two
// pages an emailed link opens — confirming the new address (`/email/confirm#token=…`) and
// undoing the change from the old one (`/email/undo#token=…`). Those two act only when the
// person presses the button: mail scanners open links too.

import * as api from "../api";
import { ApiError } from "../api";
import * as account from "../account";
import type { EmailChanged, MailAccepted } from "../types";
import { field, form, h, notice, show } from "../ui";
import { secondFactor, tryAgainText } from "./auth";
import { pastedToken, sessionEndedHere, takeToken, tokenField } from "./password";

/** The "Email address" section of Settings. */
export function emailSection(): HTMLElement {
  const me = account.me();
  const verified = me.email_verified === true;
  const status = h("div", { role: "status", "aria-live": "polite" });
  const factor = secondFactor();
  const change = form(
    "Change email address",
    "Send confirmation link",
    [
      field("New email address", "new_email", { type: "email", autocomplete: "email", required: true }),
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
      ...factor.fields,
    ],
    async (v, f) => {
      const newEmail = (v.new_email ?? "").trim();
      try {
        await api.post<MailAccepted>("/api/email", { new_email: newEmail, password: v.password ?? "", ...factor.values(v) });
      } catch (e) {
        throw new Error(changeError(e));
      }
      f.reset();
      f.hidden = true;
      open.setAttribute("aria-expanded", "false");
      status.replaceChildren(notice("info", `We've sent a link to ${newEmail}. Your address changes when you open it.`));
    },
  );
  change.id = "change-email";
  change.hidden = true;
  const open = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": "change-email" }, "Change email address");
  open.addEventListener("click", () => {
    change.hidden = !change.hidden;
    open.setAttribute("aria-expanded", String(!change.hidden));
    if (!change.hidden) change.querySelector("input")?.focus();
  });
  return h(
    "section",
    { class: "settings email", "aria-labelledby": "email-title" },
    h("h2", { id: "email-title" }, "Email address"),
    h(
      "p",
      {},
      h("strong", { "data-testid": "account-email" }, me.email),
      h("span", { class: verified ? "tag" : "tag warn-tag" }, verified ? "Verified" : "Not verified"),
    ),
    h(
      "p",
      { class: "muted" },
      verified
        ? "Password reset links go to this address. A change is confirmed from the new address, and the old one can undo it."
        : "Not verified yet: no password reset link is sent to it. Changing to an address you confirm from its inbox verifies it.",
    ),
    status,
    h("div", { class: "actions" }, open),
    change,
  );
}

function changeError(e: unknown): string {
  if (!(e instanceof ApiError)) throw e;
  if (e.code === "mail_off") return "This Porchlight server can't send email, so the address can't be changed here. Ask whoever runs it.";
  if (e.code === "invalid_credentials") return "The password or code is not right.";
  if (e.code === "invalid_email") return "That is not an email address. Check it and try again.";
  if (e.code === "throttled") return tryAgainText(e);
  return e.message;
}

/** Where to go next: Settings for a signed-in browser, sign-in otherwise. */
function onward(): HTMLElement {
  return account.signedIn()
    ? h("p", {}, h("a", { href: "/settings", "data-link": true }, "Back to Settings"))
    : h("p", {}, h("a", { href: "/signin", "data-link": true }, "Sign in"));
}

/** What a refused token says on both pages: spent, or the address taken meanwhile. A pasted
 * code may only be mistyped, so its form stays for another try. */
function refused(e: unknown, pasted: boolean, conflict: string): boolean {
  if (!(e instanceof ApiError)) return false;
  if (e.code === "invalid_code") {
    if (pasted) throw new Error("That code from the email is not right, or it expired or was already used.");
    show("Link expired", notice("warning", "This link has expired or was already used."), onward());
    return true;
  }
  if (e.code === "conflict") {
    show("Address in use", notice("warning", conflict), onward());
    return true;
  }
  return false;
}

export function confirmEmail(): void {
  const token = takeToken();
  show(
    "Confirm your new address",
    h("p", {}, "Press the button to make this the address of your Porchlight account. We will write to the old address to say so, with a link to undo it."),
    form("Confirm the new address", "Confirm new address", token === null ? [tokenField()] : [], async (v) => {
      let changed: EmailChanged;
      try {
        changed = await api.post<EmailChanged>("/api/email/confirm", { token: token ?? pastedToken(v.token ?? "") });
      } catch (e) {
        if (refused(e, token === null, "That address is now used by another Porchlight account, so your account keeps its address.")) return;
        throw e;
      }
      if (account.signedIn()) await account.refresh();
      show("Address confirmed", notice("info", `Your account now uses ${changed.email}.`), onward());
    }),
  );
}

export function undoEmail(): void {
  const token = takeToken();
  show(
    "Undo the change of address",
    h(
      "p",
      {},
      "The address of your Porchlight account was changed. If you did not do this, undo it: your old address comes back, and every device is signed out.",
    ),
    form("Undo the change of address", "Undo the change", token === null ? [tokenField()] : [], async (v) => {
      let changed: EmailChanged;
      try {
        changed = await api.post<EmailChanged>("/api/email/undo", { token: token ?? pastedToken(v.token ?? "") });
      } catch (e) {
        if (refused(e, token === null, "Your old address is now used by another Porchlight account, so the change can't be undone here. Ask whoever runs this server.")) return;
        throw e;
      }
      await sessionEndedHere();
      show(
        "Change undone",
        notice(
          "info",
          `Your address is back to ${changed.email} and every device was signed out. Change your password now if you did not make this change.`,
        ),
        h("p", {}, h("a", { href: "/forgot", "data-link": true }, "Reset your password")),
        h("p", {}, h("a", { href: "/signin", "data-link": true }, "Sign in")),
      );
    }),
  );
}
