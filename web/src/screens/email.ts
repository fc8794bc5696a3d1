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
import { secondFactor, sentence, tryAgainText, type SecondFactor } from "./auth";
import { pastedToken, sessionEndedHere, takeToken, tokenField } from "./password";

/** A form of the "Email address" section, drawn closed behind the button that opens it. */
function linkForm(
  id: string,
  title: string,
  submit: string,
  newAddress: boolean,
  /** What mail would have done ("changed", "verified"), for a server that sends none. */
  what: string,
  send: (values: Record<string, string>, factor: SecondFactor) => Promise<void>,
): { button: HTMLButtonElement; form: HTMLFormElement } {
  const factor = secondFactor();
  const fields = [
    newAddress ? field("New email address", "new_email", { type: "email", autocomplete: "email", required: true }) : null,
    field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
    ...factor.fields,
  ].filter((n): n is HTMLElement => n !== null);
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": id }, title);
  const f = form(title, submit, fields, async (v, f) => {
    try {
      await send(v, factor);
    } catch (e) {
      throw new Error(changeError(e, what));
    }
    f.reset();
    f.hidden = true;
    button.setAttribute("aria-expanded", "false");
    // The focused submit button is hidden with its form: focus stays near what was said.
    button.focus();
  });
  f.id = id;
  f.hidden = true;
  button.addEventListener("click", () => {
    f.hidden = !f.hidden;
    button.setAttribute("aria-expanded", String(!f.hidden));
    if (!f.hidden) f.querySelector("input")?.focus();
  });
  return { button, form: f };
}

/** The "Email address" section of Settings: the address, whether it is verified, and the
 * forms that send a link to a new address or (an address nothing has verified yet, from an
 * account made while the server sent no email) to this one. */
export function emailSection(): HTMLElement {
  const me = account.me();
  const verified = me.email_verified === true;
  if (me.server_sends_email !== true) {
    // Nothing to verify or change by email here: say so rather than offer forms that fail.
    return h(
      "section",
      { class: "settings email", "aria-labelledby": "email-title" },
      h("h2", { id: "email-title" }, "Email address"),
      h("p", {}, h("strong", { "data-testid": "account-email" }, me.email)),
      h(
        "p",
        { class: "muted", "data-testid": "mail-off" },
        "This Porchlight server sends no email, so your address is not checked, no reset link can be sent to it, and it cannot be changed here. Ask whoever runs the server if you need any of that.",
      ),
    );
  }
  const status = h("div", { role: "status", "aria-live": "polite" });
  const post = (newEmail: string, v: Record<string, string>, factor: SecondFactor) =>
    api.post<MailAccepted>("/api/email", { new_email: newEmail, password: v.password ?? "", ...factor.values(v) });
  const change = linkForm("change-email", "Change email address", "Send confirmation link", true, "changed", async (v, factor) => {
    const newEmail = (v.new_email ?? "").trim();
    await post(newEmail, v, factor);
    status.replaceChildren(notice("info", `We've sent a link to ${newEmail}. Your address changes when you open it.`));
  });
  const verify = verified
    ? null
    : linkForm("verify-email", "Verify this address", "Send verification link", false, "verified", async (v, factor) => {
        await post(me.email, v, factor);
        status.replaceChildren(notice("info", `We've sent a link to ${me.email}. The address is verified when you open it.`));
      });
  // One form open at a time.
  if (verify) {
    for (const [opened, other] of [[verify, change], [change, verify]] as const) {
      opened.button.addEventListener("click", () => {
        if (opened.form.hidden) return;
        other.form.hidden = true;
        other.button.setAttribute("aria-expanded", "false");
      });
    }
  }
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
        : "Not verified yet, so no password reset link or security notice is sent to it. Verify it with a link sent there.",
    ),
    status,
    h("div", { class: "actions" }, verify?.button, change.button),
    verify?.form,
    change.form,
  );
}

function changeError(e: unknown, what: string): string {
  if (!(e instanceof ApiError)) throw e;
  if (e.code === "mail_off") return `This Porchlight server can't send email, so the address can't be ${what} here. Ask whoever runs it.`;
  if (e.code === "invalid_credentials") return "The password or code is not right.";
  if (e.code === "invalid_email") return "That is not an email address. Check it and try again.";
  if (e.code === "throttled") return tryAgainText(e);
  if (e.code === "invalid_input") return sentence(e.message);
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
function refused(e: unknown, pasted: boolean, spent: string, conflict: string): boolean {
  if (!(e instanceof ApiError)) return false;
  if (e.code === "invalid_code") {
    if (pasted) throw new Error("That code from the email is not right, or it expired or was already used.");
    show("Link expired", notice("warning", `This link has expired or was already used. ${spent}`), onward());
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
        if (refused(e, token === null, "A link to confirm an address works once, for 24 hours; to get a new one, change the address again from Settings.", "That address is now used by another Porchlight account, so your account keeps its address.")) return;
        throw e;
      }
      // The account's own address sent to itself only verifies it (signed out, the page cannot
      // tell, and what it says is true either way).
      const before = account.signedIn() ? account.me().email : null;
      if (account.signedIn()) await account.refresh();
      if (before === changed.email) return show("Address verified", notice("info", `Your address ${changed.email} is verified.`), onward());
      show(
        "Address confirmed",
        notice("info", `Your account now uses ${changed.email}.`),
        h("p", {}, "The old address was told, with a link that undoes the change for 7 days. Sign in with the new address from now on."),
        onward(),
      );
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
        if (refused(e, token === null, "An undo link works once, for 7 days.", "Your old address is now used by another Porchlight account, so the change can't be undone here. Ask whoever runs this server.")) return;
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
