// The account's lifecycle by email, read from a real inbox (an SMTP receiver in the test):
// sign-up with the emailed code, a forgotten password reset from the emailed link with the
// authenticator still required (every device signed out after), and a change of address
// confirmed from the new inbox and undone from the old one. Then a server that sends no email
// saying so.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Authenticator, device, launch, missing, serve, snap, type Server } from "./harness";
import { PASSWORD, serveWithMail, signIn, signUp } from "./flows";
import { codeIn, linkIn, Mailbox, signupCodeIn } from "./mailbox";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const NEW_PASSWORD = "lantern orchard velvet 1987 tide";

/** What the page's own session says of the account now (null when signed out). */
async function meOf(page: Page): Promise<{ email: string; email_verified: boolean } | null> {
  return page.evaluate(async () => {
    const id = await new Promise<string>((ok, fail) => {
      const open = indexedDB.open("porchlight", 1);
      open.onsuccess = () => {
        const get = open.result.transaction("kv").objectStore("kv").get("device_id");
        get.onsuccess = () => ok(get.result as string);
        get.onerror = () => fail(new Error("no device id"));
      };
      open.onerror = () => fail(new Error("no database"));
    });
    const res = await fetch("/api/me", { headers: { "porchlight-device": id } });
    return res.ok ? ((await res.json()) as { email: string; email_verified: boolean }) : null;
  });
}

/** Settings drawn whole: the notifications control has read this browser's state. */
async function settingsShown(page: Page): Promise<void> {
  await page.getByTestId("push-status").filter({ hasNotText: "Checking" }).waitFor();
}

/** Nothing of an emailed token may stay in the address bar. */
function assertNoFragment(page: Page): void {
  assert.equal(new URL(page.url()).hash, "", `the token left the address bar: ${page.url()}`);
}

describe("the account's lifecycle by email", { skip: skip ?? false }, () => {
  let mailbox: Mailbox;
  let server: Server;
  let browser: Browser;

  before(async () => {
    mailbox = await Mailbox.start();
    server = await serveWithMail(mailbox, { PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE: "100000" });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await mailbox?.close();
  });

  it("resets a forgotten password from the emailed link, with the authenticator, and signs every device out", async () => {
    const email = "forgetful@example.com";
    const first = await device(browser);
    const page = first.page;

    // Sign-up asks for the code emailed to the address; a wrong one is refused.
    await page.goto(`${server.url}/signup`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Continue" }).click();
    const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
    const auth = new Authenticator(secret);
    const signupMail = await mailbox.next(email, "Porchlight: Your sign-up code");
    const emailCode = signupCodeIn(signupMail);
    const emailed = page.getByLabel(`The code we emailed to ${email}`);
    await page.getByLabel("Authenticator code").fill(await auth.code());
    await emailed.fill(emailCode.toUpperCase() === "2222-2222" ? "3333-3333" : "2222-2222");
    await page.getByLabel("I have kept my recovery codes").check();
    await snap(page, "signup-emailed-code");
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("alert").filter({ hasText: "The authenticator code or the emailed code is not right" }).waitFor();
    await page.getByRole("link", { name: "Start again" }).waitFor();
    await snap(page, "signup-emailed-code-wrong");
    // As a person might type it: lower case, a space for the dash.
    await emailed.fill(` ${emailCode.toLowerCase().replace("-", " ")} `);
    await page.getByLabel("Authenticator code").fill(await auth.code());
    await page.getByRole("button", { name: "Confirm" }).click();
    const recoveryCode = (await page.getByTestId("key-recovery-code").textContent()) ?? "";
    await page.getByLabel("I have written down my key recovery code").check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(/\/cameras$/);
    assert.equal((await meOf(page))?.email_verified, true, "the emailed code verified the address");

    // A second browser, signed in and restored as a device before the reset.
    const second = await device(browser);
    await signIn(second.page, server.url, email, auth, "Phone");
    await second.page.waitForURL(/\/device$/);
    await second.page.getByLabel("Key recovery code", { exact: true }).fill(recoveryCode);
    await second.page.getByRole("button", { name: "Restore this browser" }).click();
    await second.page.waitForURL(/\/cameras$/);

    // Signed out, the password forgotten.
    await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/signed-out$/);
    await page.goto(`${server.url}/signin`);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.waitForURL(/\/forgot$/);
    await page.getByRole("heading", { name: "Reset your password" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await snap(page, "forgot");
    await page.getByRole("button", { name: "Send reset link" }).click();
    await page.getByRole("heading", { name: "Check your email" }).waitFor();
    await page.getByText("If an account uses that address, we've sent it a link to reset the password. It works for 30 minutes.").waitFor();
    await snap(page, "forgot-sent");

    const resetMail = await mailbox.next(email, "Porchlight: Reset your password");
    const link = linkIn(resetMail);
    assert.ok(link.startsWith(`${server.url}/reset#token=`), link);
    assert.equal(codeIn(resetMail), new URL(link).hash.slice("#token=".length), "the code under the link is its token");

    // The link as a person opens it: the token leaves the address bar at once.
    await page.goto(link);
    await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
    assertNoFragment(page);
    await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel("Authenticator code").fill(auth.wrong());
    await snap(page, "reset");
    // The link alone opens nothing: a wrong second factor is refused, and the link stays good.
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("alert").filter({ hasText: "That code is not right." }).waitFor();
    await snap(page, "reset-wrong-code");
    await page.getByLabel("Authenticator code").fill(await auth.code());
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("heading", { name: "Password changed" }).waitFor();
    await page.getByText("Your password is changed. Every device was signed out; sign in with the new password.").waitFor();
    await snap(page, "reset-done");

    // Every device signed out: the other browser's next move lands on sign-in.
    await second.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Devices" }).click();
    await second.page.waitForURL(/\/signin$/);
    assert.equal(await meOf(second.page), null);

    // The new password signs in; this browser is still the account's device.
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await page.getByLabel("Authenticator code").fill(await auth.code());
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/cameras$/);

    // The same link again: used.
    await page.goto(link);
    await page.getByLabel("New password", { exact: true }).fill(`${NEW_PASSWORD} again`);
    await page.getByLabel("Authenticator code").fill(auth.wrong());
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("heading", { name: "Link expired" }).waitFor();
    await page.getByText("This reset link has expired or was already used. Ask for a new one.").waitFor();
    await page.getByRole("link", { name: "Ask for a new reset link" }).waitFor();
    await snap(page, "reset-link-used");

    // Opened without its token (a link cut short): the code from the email can be pasted.
    await page.goto(`${server.url}/reset`);
    await page.getByLabel("Code from the email").waitFor();
    await snap(page, "reset-paste-code");
    assert.deepEqual(first.errors, [], "no console errors or CSP violations");
    assert.deepEqual(second.errors, []);
    await first.context.close();
    await second.context.close();
  });

  it("changes the address from the new inbox, and the old inbox undoes it", async () => {
    const oldEmail = "mover@example.com";
    const newEmail = "moved@example.net";
    const { page, context, errors } = await device(browser);
    const { auth } = await signUp(page, server.url, oldEmail, mailbox);

    await page.goto(`${server.url}/settings`);
    await settingsShown(page);
    const section = page.getByRole("region", { name: "Email address" });
    await section.getByText(oldEmail).waitFor();
    await section.getByText("Verified", { exact: true }).waitFor();
    await snap(page, "settings-email");

    await section.getByRole("button", { name: "Change email address" }).click();
    const change = section.getByRole("form", { name: "Change email address" });
    await change.getByLabel("New email address").fill(newEmail);
    await change.getByLabel("Password").fill(PASSWORD);
    await change.getByLabel("Authenticator code").fill(auth.wrong());
    await change.getByRole("button", { name: "Send confirmation link" }).click();
    await change.getByRole("alert").filter({ hasText: "The password or code is not right." }).waitFor();
    await change.getByLabel("Authenticator code").fill(await auth.code());
    await snap(page, "email-change");
    await change.getByRole("button", { name: "Send confirmation link" }).click();
    await section.getByText(`We've sent a link to ${newEmail}. Your address changes when you open it.`).waitFor();
    await snap(page, "email-change-sent");

    const confirmMail = await mailbox.next(newEmail, "Porchlight: Confirm your new address");
    const confirmLink = linkIn(confirmMail);
    assert.ok(confirmLink.startsWith(`${server.url}/email/confirm#token=`), confirmLink);

    // Opening the link does nothing by itself (mail scanners open links): the button does.
    await page.goto(confirmLink);
    await page.getByRole("heading", { name: "Confirm your new address" }).waitFor();
    assertNoFragment(page);
    assert.equal((await meOf(page))?.email, oldEmail);
    await snap(page, "email-confirm");
    await page.getByRole("button", { name: "Confirm new address" }).click();
    await page.getByRole("heading", { name: "Address confirmed" }).waitFor();
    await page.getByText(`Your account now uses ${newEmail}.`).waitFor();
    await snap(page, "email-confirmed");
    assert.equal((await meOf(page))?.email, newEmail);
    await page.getByRole("link", { name: "Back to Settings" }).click();
    await page.getByRole("region", { name: "Email address" }).getByText(newEmail).waitFor();

    // The confirmation link again: used.
    await page.goto(confirmLink);
    await page.getByRole("button", { name: "Confirm new address" }).click();
    await page.getByText("This link has expired or was already used.").waitFor();

    // The old inbox is told, with a link that takes it back and signs every device out.
    const undoMail = await mailbox.next(oldEmail, "Porchlight: Your address was changed");
    const undoLink = linkIn(undoMail);
    assert.ok(undoLink.startsWith(`${server.url}/email/undo#token=`), undoLink);
    await page.goto(undoLink);
    await page.getByRole("heading", { name: "Undo the change of address" }).waitFor();
    assertNoFragment(page);
    assert.equal((await meOf(page))?.email, newEmail, "opening the link changes nothing");
    await snap(page, "email-undo");
    await page.getByRole("button", { name: "Undo the change" }).click();
    await page.getByRole("heading", { name: "Change undone" }).waitFor();
    await page
      .getByText(`Your address is back to ${oldEmail} and every device was signed out. Change your password now if you did not make this change.`)
      .waitFor();
    assert.equal(await page.locator("#nav a").count(), 0, "signed out: no navigation");
    await snap(page, "email-undone");
    assert.equal(await meOf(page), null, "this browser's session ended too");
    await page.goto(`${server.url}/settings`);
    await page.waitForURL(/\/signin$/);

    // The old address signs in again.
    await signIn(page, server.url, oldEmail, auth, "Laptop");
    await page.waitForURL(/\/cameras$/);
    assert.equal((await meOf(page))?.email, oldEmail);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Activity" }).click();
    await page.getByText("Address change undone", { exact: true }).first().waitFor();
    for (const kind of ["Address change asked for", "Address changed"]) {
      await page.getByText(kind, { exact: true }).first().waitFor();
    }
    assert.deepEqual(errors, [], "no console errors or CSP violations");
    await context.close();
  });
});

describe("a server that sends no email", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;

  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("says a password cannot be reset, nor an address verified or changed, here", async () => {
    const { page, context, errors } = await device(browser);
    await page.goto(`${server.url}/forgot`);
    await page.getByLabel("Email").fill("anyone@example.com");
    await page.getByRole("button", { name: "Send reset link" }).click();
    await page.getByRole("alert").filter({ hasText: "This Porchlight server can't send email, so a password can't be reset here. Ask whoever runs it." }).waitFor();
    await snap(page, "forgot-mail-off");

    // No emailed code at sign-up; Settings says what a server without email cannot do, and
    // offers no form that would only fail.
    await signUp(page, server.url, "unmailed@example.com");
    await page.goto(`${server.url}/settings`);
    await settingsShown(page);
    const section = page.getByRole("region", { name: "Email address" });
    await section.getByTestId("mail-off").filter({ hasText: /^This Porchlight server sends no email/ }).waitFor();
    assert.equal(await section.getByRole("button").count(), 0, "no verify or change form without email");
    await snap(page, "settings-email-mail-off");
    assert.deepEqual(errors.filter((e) => !/status of 503/.test(e)), []);
    await context.close();
  });
});
